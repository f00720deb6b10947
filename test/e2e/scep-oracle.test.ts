/**
 * The SCEP server as a CBC padding oracle, attacked the way an outsider
 * would: take a device's captured pkiMessage, keep its RSA-wrapped content
 * key, and send the envelope back with an IV and ciphertext block of one's
 * own, in messages of every type signed with one's own key. If "bad padding"
 * and "good padding, wrong content" were answered differently, each answer
 * would reveal a byte of the device's request, challengePassword included.
 */
import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseDer, toDer, type Asn1 } from '../../src/pki/asn1.js';
import { buildEnvelopedData, parseEnvelopedData } from '../../src/pki/cms/enveloped-data.js';
import { parseSignedData } from '../../src/pki/cms/signed-data.js';
import type { MessageType } from '../../src/protocols/scep/message.js';
import { curl } from '../helpers/curl.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { adminCurlArgs } from '../helpers/pki.js';
import { deviceCsr, issuerAndSerial, issuerAndSubject, newDevice, pkiMessage, readCertRep, type Identity } from '../helpers/scep-client.js';

const BUDGET = 20_000;
const BLOCK = 16; // the device sends AES-128-CBC

describe('SCEP padding oracle', () => {
  let gw: TestGateway;
  let base: string;
  let ra: X509Certificate;
  let ca: X509Certificate;
  let agent: Agent;
  let rootPem: Buffer;

  before(async () => {
    gw = await startTestGateway({ overrides: { scep: { profiles: { default: {}, approve: { challenge: 'none', approval: true } } } } });
    base = `https://localhost:${gw.port}`;
    const certs = join(gw.dir, 'certs');
    rootPem = readFileSync(join(certs, 'root-ca.pem'));
    ra = new X509Certificate(readFileSync(join(certs, 'scep-ra.pem')));
    ca = new X509Certificate(readFileSync(join(certs, 'issuing-ca.pem')));
    agent = new Agent({ keepAlive: true, maxSockets: 8, ca: rootPem });
  });
  after(async () => {
    agent.destroy();
    await gw.stop();
  });

  const send = (der: Buffer): Promise<{ status: number; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const req = request(`${base}/scep?operation=PKIOperation`, { method: 'POST', agent, headers: { 'content-type': 'application/x-pki-message' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      req.end(der);
    });

  /** What the attacker sees of an answer: HTTP status, SCEP status and failInfo, and the answer's size. */
  const answerClass = async (attacker: Identity, type: MessageType, envelope: Buffer): Promise<string> => {
    const msg = await pkiMessage({ type, inner: Buffer.alloc(0), envelope, signer: attacker, recipients: [ra], transactionId: 'a'.repeat(32) });
    const { status, body } = await send(msg.der);
    if (status !== 200) return `HTTP ${status}`;
    const rep = readCertRep(body, ra, attacker);
    return `${rep.status} ${rep.failInfo ?? ''} ${body.length}`;
  };

  const newChallenge = async (): Promise<string> => {
    const r = await curl(`${base}/api/v1/scep/challenges`, [
      ...adminCurlArgs(join(gw.dir, 'certs')),
      '-X',
      'POST',
      '-H',
      'Content-Type: application/json',
      '--data-binary',
      '{}',
    ]);
    assert.equal(r.status, 201, r.body);
    return JSON.parse(r.body).challenge as string;
  };

  test(`a re-wrapped captured envelope reveals no byte of it in ${BUDGET} queries`, { timeout: 600_000 }, async () => {
    // The victim's request, captured on its way (plain HTTP, a proxy log): never sent by the test itself.
    const victim = await newDevice('victim-device');
    const challenge = await newChallenge();
    const csr = deviceCsr(victim, [{ type: 'CN', value: 'victim-device' }], challenge);
    const captured = await pkiMessage({ type: 'PKCSReq', inner: csr, signer: victim, recipients: [ra], cipher: 'aes-128-cbc' });
    const envelope = parseSignedData(captured.der).content!;
    const { iv, encryptedContent } = parseEnvelopedData(envelope);
    const blocks = [iv, ...Array.from({ length: encryptedContent.length / BLOCK }, (_, i) => encryptedContent.subarray(i * BLOCK, (i + 1) * BLOCK))];
    const pad = BLOCK - (csr.length % BLOCK);
    const plain = Buffer.concat([csr, Buffer.alloc(pad, pad)]);

    const attacker = await newDevice('attacker', 1024);
    const types: MessageType[] = ['GetCRL', 'GetCert', 'CertPoll', 'PKCSReq', 'RenewalReq'];
    const classes = new Map<string, number>();
    let queries = 0;
    let learned = 0;
    for (let target = 1; queries < BUDGET; target = (target % (blocks.length - 1)) + 1) {
      const type = types[(target + Math.floor(queries / 2560)) % types.length]!;
      const prefix = randomBytes(BLOCK - 1);
      const guesses = Array.from({ length: 256 }, (_, g) => g);
      const seen: { guess: number; cls: string }[] = [];
      // Eight in flight, as a patient attacker on a fast link would send them.
      for (let at = 0; at < guesses.length && queries < BUDGET; at += 8) {
        const batch = guesses.slice(at, Math.min(at + 8, at + BUDGET - queries));
        queries += batch.length;
        const answers = await Promise.all(
          batch.map((g) => answerClass(attacker, type, withCiphertext(envelope, Buffer.concat([prefix, Buffer.from([g])]), blocks[target]!))),
        );
        for (const [n, cls] of answers.entries()) seen.push({ guess: batch[n]!, cls });
      }
      for (const { cls } of seen) classes.set(cls, (classes.get(cls) ?? 0) + 1);
      // The odd one out among 256 guesses is the one whose padding was valid: last plaintext byte 0x01.
      const counts = new Map<string, number>();
      for (const { cls } of seen) counts.set(cls, (counts.get(cls) ?? 0) + 1);
      const odd = seen.find(({ cls }) => counts.get(cls)! < seen.length / 2);
      if (odd) {
        const intermediate = plain[target * BLOCK - 1]! ^ blocks[target - 1]![BLOCK - 1]!;
        if ((odd.guess ^ 0x01) === intermediate) learned++;
      }
    }
    assert.equal(queries, BUDGET);
    assert.equal(learned, 0, `the attack recovered ${learned} plaintext bytes`);
    assert.deepEqual(
      [...classes.keys()].map((c) => c.replace(/ \d+$/, '')),
      ['FAILURE badMessageCheck'],
      `answers differed: ${JSON.stringify([...classes])}`,
    );
    assert.equal(classes.size, 1, 'every answer has the same size');
  });

  test('every envelope that does not hold what its messageType needs is answered as one that does not decrypt, for every type', async () => {
    const attacker = await newDevice('prober');
    const other = await newDevice('someone-else');
    const csrOf = (who: Identity) => deviceCsr(who, [{ type: 'CN', value: 'prober' }]);
    const badSignature = Buffer.from(csrOf(attacker));
    badSignature[badSignature.length - 5]! ^= 0xff;
    const cases: Record<string, Buffer> = {
      'garbage (valid padding)': randomBytes(48),
      empty: Buffer.alloc(0),
      IssuerAndSerialNumber: issuerAndSerial(ca),
      IssuerAndSubject: issuerAndSubject(ca, ca),
      'a CSR': csrOf(attacker),
      'a CSR with a broken signature': badSignature,
      'a CSR for another key': csrOf(other),
      'IssuerAndSerialNumber with trailing bytes': Buffer.concat([issuerAndSerial(ca), Buffer.from([0, 0])]),
    };
    const needs: Record<MessageType, string[]> = {
      PKCSReq: ['a CSR'],
      RenewalReq: ['a CSR'],
      CertPoll: ['IssuerAndSubject'],
      GetCert: ['IssuerAndSerialNumber'],
      GetCRL: ['IssuerAndSerialNumber'],
      CertRep: [],
    };
    const undecryptable = withCiphertext(buildEnvelopedData(Buffer.from('x'), ra), randomBytes(16), randomBytes(32));
    for (const type of ['PKCSReq', 'RenewalReq', 'CertPoll', 'GetCert', 'GetCRL'] as const) {
      const reference = await answerClass(attacker, type, undecryptable);
      assert.match(reference, /^FAILURE badMessageCheck /);
      for (const [what, inner] of Object.entries(cases)) {
        if (needs[type].includes(what)) continue;
        assert.equal(await answerClass(attacker, type, buildEnvelopedData(inner, ra)), reference, `${type} carrying ${what}`);
      }
    }
    // What each type needs still gets its own answer.
    assert.match(await answerClass(attacker, 'GetCRL', buildEnvelopedData(issuerAndSerial(ca), ra)), /^SUCCESS /);
    assert.match(await answerClass(attacker, 'GetCert', buildEnvelopedData(issuerAndSerial(attacker.cert), ra)), /^FAILURE badCertId /);
    assert.match(await answerClass(attacker, 'PKCSReq', buildEnvelopedData(csrOf(attacker), ra)), /^FAILURE badRequest /);
  });

  test('the envelope of a GET PKIOperation never reaches the access log', async () => {
    const device = await newDevice('logged');
    const msg = await pkiMessage({ type: 'GetCRL', inner: issuerAndSerial(ca), signer: device, recipients: [ra] });
    const b64 = msg.der.toString('base64');
    const r = await curl(`${base}/scep?operation=PKIOperation&message=${encodeURIComponent(b64)}`, ['--cacert', join(gw.dir, 'certs/root-ca.pem')]);
    assert.equal(r.status, 200);
    const logs = gw.logs();
    assert.match(logs, /"url":"\/scep\?operation=PKIOperation"/);
    for (const needle of [b64.slice(0, 40), encodeURIComponent(b64).slice(0, 40), b64.slice(-60, -20)])
      assert.ok(!logs.includes(needle), 'the message is not logged in any form');
  });
});

/** The EnvelopedData with its IV and encrypted content replaced, its recipients (the wrapped content key) kept. */
function withCiphertext(envelope: Buffer, iv: Buffer, ciphertext: Buffer): Buffer {
  const root = parseDer(envelope);
  const top = root.value as Asn1[];
  // A ContentInfo wraps the EnvelopedData in [0]; SCEP may also carry it bare.
  const env = (top[0]!.type === 6 ? ((top[1]!.value as Asn1[])[0]!.value as Asn1[]) : top) as Asn1[];
  const eci = env.find((n, i) => i > 1 && n.type === 16) ?? env[env.length - 1]!;
  const [, alg, content] = eci.value as Asn1[];
  (alg!.value as Asn1[])[1]!.value = iv.toString('latin1');
  content!.constructed = false;
  content!.value = ciphertext.toString('latin1');
  return toDer(root);
}
