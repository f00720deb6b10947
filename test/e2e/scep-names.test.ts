/**
 * Subject names at SCEP's edges are the caller's to get right, and a wrong
 * one is never a 500. A request whose own subject X.509 cannot carry as it
 * is (RFC 5280 §4.1.2.4: countryName is a two-letter PrintableString,
 * domainComponent and emailAddress are IA5String) gets a signed CertRep
 * FAILURE badRequest; a one-time challenge bound to attributes no subject
 * can hold is refused by the admin API with a 400. Nothing is issued or
 * stored, and nothing is logged as an error.
 */
import assert from 'node:assert/strict';
import { createPublicKey, sign, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import forge from 'node-forge';
import { algorithmIdentifier, bitString, derSequence, ia5, int, oid, parseDer, printable, seq, set, toDer, utf8, type Asn1 } from '../../src/pki/asn1.js';
import { curl } from '../helpers/curl.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { adminCurlArgs } from '../helpers/pki.js';
import { newDevice, pkiMessage, readCertRep, type Identity } from '../helpers/scep-client.js';

const STATIC = 'static-secret-for-names';
const CHALLENGE_PASSWORD = '1.2.840.113549.1.9.7';

/** A CSR signed by the device with `name` encoded as given: the project's own encoder would refuse these names. */
function csrWithName(device: Identity, name: Asn1): Buffer {
  const spki = parseDer(createPublicKey(device.key).export({ type: 'spki', format: 'der' }));
  const attributes = forge.asn1.create(forge.asn1.Class.CONTEXT_SPECIFIC, 0, true, [seq([oid(CHALLENGE_PASSWORD), set([printable(STATIC)])])]);
  const info = toDer(seq([int(0), name, spki, attributes]));
  return derSequence([
    info,
    toDer(algorithmIdentifier({ oid: '1.2.840.113549.1.1.11', nullParams: true })),
    toDer(bitString(sign('sha256', info, device.key))),
  ]);
}

const rdn = (type: string, value: Asn1) => set([seq([oid(type), value])]);

describe('SCEP: subject names X.509 or the store cannot carry', () => {
  let gw: TestGateway;
  let ra: X509Certificate;
  let device: Identity;

  const post = (der: Buffer): Promise<{ status: number; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const req = request(
        `https://localhost:${gw.port}/scep/mdm?operation=PKIOperation`,
        { method: 'POST', ca: readFileSync(join(gw.dir, 'certs/root-ca.pem')), headers: { 'content-type': 'application/x-pki-message' } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks) }));
        },
      );
      req.on('error', reject);
      req.end(der);
    });

  before(async () => {
    gw = await startTestGateway({ overrides: { scep: { profiles: { default: {}, mdm: { challenge: { static: STATIC } }, dyn: { challenge: 'dynamic' } } } } });
    ra = new X509Certificate(readFileSync(join(gw.dir, 'certs/scep-ra.pem')));
    device = await newDevice('names-device');
  });
  after(async () => {
    await gw.stop();
  });

  test('a country of four letters, a non-ASCII domainComponent or emailAddress, a serialNumber outside PrintableString: FAILURE badRequest', async () => {
    const names: [string, Asn1][] = [
      ['C=fuzz', seq([rdn('2.5.4.6', utf8('fuzz')), rdn('2.5.4.3', utf8('names-c'))])],
      ['DC=bücher', seq([rdn('0.9.2342.19200300.100.1.25', utf8('bücher')), rdn('2.5.4.3', utf8('names-dc'))])],
      ['emailAddress=jürgen@example.com', seq([rdn('2.5.4.3', utf8('names-email')), rdn('1.2.840.113549.1.9.1', utf8('jürgen@example.com'))])],
      ['serialNumber=A*B', seq([rdn('2.5.4.3', utf8('names-serial')), rdn('2.5.4.5', ia5('A*B'))])],
    ];
    for (const [label, name] of names) {
      const message = await pkiMessage({ type: 'PKCSReq', inner: csrWithName(device, name), signer: device, recipients: [ra] });
      const answer = await post(message.der);
      assert.equal(answer.status, 200, `${label}: ${answer.body.toString()}`);
      const rep = readCertRep(answer.body, ra, device);
      assert.equal(rep.status, 'FAILURE', label);
      assert.equal(rep.failInfo, 'badRequest', label);
      assert.equal(rep.transactionId, message.transactionId);
    }
    assert.equal((await gw.db('certificates').where('subject', 'like', '%names-%')).length, 0, 'nothing was issued');
    const refusals = await gw.db('scep_transactions').where({ profile: 'mdm' });
    assert.equal(refusals.length, names.length, 'each refusal is on record for operators');
    assert.ok(
      refusals.every((t: { status: string }) => t.status === 'rejected'),
      JSON.stringify(refusals),
    );
    assert.ok(!gw.logs().includes('"level":50'), 'nothing was logged as an error');
  });

  test('a challenge bound to a value longer than a subject holds, to an unknown attribute type or to too many attributes: 400, no challenge', async () => {
    const create = (binding: unknown) =>
      curl(`https://localhost:${gw.port}/api/v1/scep/challenges`, [
        ...adminCurlArgs(join(gw.dir, 'certs')),
        '-H',
        'Content-Type: application/json',
        '--data-binary',
        JSON.stringify({ profile: 'dyn', binding }),
      ]);
    const refused: [unknown, RegExp][] = [
      [{ serialNumber: 'x'.repeat(70_000) }, /binding serialNumber: a value of 1 to 1024 characters/],
      [{ serialNumber: '' }, /binding serialNumber: a value of 1 to 1024 characters/],
      [{ shoeSize: '42' }, /binding shoeSize: unknown name attribute "shoeSize"/],
      [Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`1.2.3.${i}`, 'x'])), /at most 16 attributes/],
    ];
    for (const [binding, message] of refused) {
      const r = await create(binding);
      assert.equal(r.status, 400, r.body.slice(0, 200));
      assert.match(String(r.json().message), message);
    }
    assert.equal((await gw.db('scep_challenges').count({ n: '*' }).first())?.n, 0, 'no challenge was created');
    const bound = await create({ serialNumber: 'C02X1234', CN: 'd'.repeat(1024) });
    assert.equal(bound.status, 201, bound.body);
    assert.ok(!gw.logs().includes('"level":50'), 'nothing was logged as an error');
  });
});
