/**
 * Fuzzing the device side of OTA (phase 2): mutated plists signed properly
 * and mutated CMS bytes, straight into the service (thousands) and over
 * HTTPS (hundreds). Every answer must be a profile or a refusal the caller
 * is told about (OtaError → 4xx); nothing may throw otherwise, print to the
 * console, answer 5xx or take the gateway down.
 */
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildSignedData, parseSignedData } from '../../src/pki/cms/signed-data.js';
import { NativeSigner } from '../../src/pki/native-signer.js';
import { readPlistDict, writePlist } from '../../src/protocols/ota/plist.js';
import { OtaError, type OtaService } from '../../src/protocols/ota/service.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { makeDeviceCa, signDeviceMessage } from '../helpers/iphone.js';
import { freePort } from '../helpers/net.js';
import { mutateBytes, rng } from '../helpers/seeded-fuzz.js';
import { tempDir } from '../helpers/tmp.js';

const SEED = Number(process.env.OTA_FUZZ_SEED ?? 20261123);

const SNIPPETS = [
  '<dict>',
  '</dict>',
  '<key>',
  '</key>',
  '<array>',
  '</array>',
  '<string>',
  '</string>',
  '<data>',
  '</data>',
  '<data>@@@</data>',
  '<integer>99999999999999999999999</integer>',
  '<integer></integer>',
  '<real>NaN</real>',
  '<date>not a date</date>',
  '<true/>',
  '<null/>',
  '<key>__proto__</key>',
  '<key>constructor</key>',
  '<!ENTITY x "y">',
  '&x;',
  '&amp;',
  '&#0;',
  '&#xFFFF;',
  '<![CDATA[<dict>]]>',
  '<!-- -->',
  '<?xml version="1.0"?>',
  '<!DOCTYPE plist [ ]>',
  '\u0000',
  '\uFFFE',
  '\uD800',
  'é',
  '"',
  "'",
  '<',
  '>',
  '&',
  '/',
  ' ',
  '<key>UDID</key><string>00008030-001A2D3E0C38802E</string>',
  '<key>CHALLENGE</key><integer>1</integer>',
];

function mutateText(text: string, r: () => number): string {
  const at = () => Math.floor(r() * (text.length + 1));
  switch (Math.floor(r() * 8)) {
    case 0: {
      const i = at();
      return text.slice(0, i) + SNIPPETS[Math.floor(r() * SNIPPETS.length)] + text.slice(i);
    }
    case 1: {
      const i = at();
      return text.slice(0, i) + text.slice(i + 1 + Math.floor(r() * 40));
    }
    case 2: {
      const i = at();
      const j = Math.min(text.length, i + Math.floor(r() * 200));
      return text.slice(0, j) + text.slice(i, j) + text.slice(j);
    }
    case 3:
      return text.slice(0, at());
    case 4: {
      const i = Math.floor(r() * text.length);
      return text.slice(0, i) + String.fromCharCode(Math.floor(r() * 0x3000)) + text.slice(i + 1);
    }
    case 5: {
      const depth = 1 + Math.floor(r() * 3000);
      const i = text.indexOf('<dict>') + 6;
      return `${text.slice(0, i)}<key>n</key>${'<array>'.repeat(depth)}${'</array>'.repeat(depth)}${text.slice(i)}`;
    }
    case 6:
      return text.replace(/<string>[^<]*<\/string>/, `<string>${'A'.repeat(Math.floor(r() * 70_000))}</string>`);
    default:
      return text.replace(/<(string|key)>/g, (m) => (r() < 0.1 ? '<data>' : m));
  }
}

describe('OTA phase 2 under fuzzing', () => {
  let gw: TestGateway;
  let dir: string;
  let base: string;
  let ota: OtaService;
  let enrollment: { id: string; challenge: string };
  let signer: NativeSigner;
  let deviceCert: Buffer;
  let validText: string;

  before(async () => {
    dir = tempDir();
    const port = await freePort();
    base = `https://localhost:${port}`;
    const { ca, device } = await makeDeviceCa(join(dir, 'apple'), 'Fuzz Device CA');
    gw = await startTestGateway({ dir, overrides: { server: { port, publicUrl: base }, ota: { deviceCa: [ca] }, logging: { level: 'warn' } } });
    ota = gw.ota!;
    const created = await ota.create({ credentialProfile: 'smime', user: { displayName: 'Fuzz', email: 'fuzz@example.com' }, createdBy: 'test' });
    const service = readPlistDict(parseSignedData(await ota.profileService(created.code)).content!);
    enrollment = { id: created.id, challenge: (service.PayloadContent as { Challenge: string }).Challenge };
    signer = new NativeSigner(createPrivateKey(readFileSync(device.key)));
    deviceCert = new X509Certificate(readFileSync(device.cert)).raw;
    validText = writePlist({
      UDID: '00008030-001A2D3E0C38802E',
      SERIAL: 'F2LX1234ABCD',
      PRODUCT: 'iPhone12,1',
      VERSION: '21E236',
      IMEI: '356789012345678',
      CHALLENGE: enrollment.challenge,
    }).toString();
    const baseDer = signDeviceMessage(dir, validText, device);
    const baseBer = signDeviceMessage(dir, validText, device, { stream: true });
    bases = [baseDer, baseBer];
  });
  after(async () => {
    await gw.stop();
  });
  let bases: Buffer[] = [];

  /** Runs one message through the service; returns a description of anything that is not an answer or an OtaError. */
  const probe = async (body: Buffer): Promise<string | undefined> => {
    try {
      await ota.deviceRequest(enrollment.id, body);
      return undefined;
    } catch (err) {
      return err instanceof OtaError ? undefined : `${(err as Error)?.stack ?? String(err)}`;
    }
  };

  test('12,000 mutated plists and CMS messages through the service: only answers and OtaErrors, nothing on the console', async () => {
    const r = rng(SEED);
    const failures: string[] = [];
    const printed: unknown[] = [];
    const { error, warn } = console;
    console.error = (...args: unknown[]) => printed.push(args);
    console.warn = (...args: unknown[]) => printed.push(args);
    try {
      for (let i = 0; i < 6000; i++) {
        const text = mutateText(validText, r);
        const body = await buildSignedData({ content: Buffer.from(text, r() < 0.05 ? 'latin1' : 'utf8'), signer, signerCert: deviceCert });
        const failure = await probe(body);
        if (failure) failures.push(`plist #${i}: ${failure}`);
      }
      for (let i = 0; i < 6000; i++) {
        const failure = await probe(mutateBytes(bases[i % 2]!, r));
        if (failure) failures.push(`cms #${i}: ${failure}`);
      }
    } finally {
      console.error = error;
      console.warn = warn;
    }
    assert.deepEqual(failures.slice(0, 5), [], `seed ${SEED}: ${failures.length} failures`);
    assert.deepEqual(printed.slice(0, 3), [], 'nothing printed to the console');
    // The real message still works: the fuzzing left the enrollment usable.
    assert.equal(await probe(bases[0]!), undefined);
  });

  test('300 mutated messages over HTTPS: never a 5xx, and the gateway keeps serving', async () => {
    const r = rng(SEED + 1);
    const agent = new Agent({ ca: readFileSync(join(dir, 'certs/root-ca.pem')), keepAlive: true, maxSockets: 4 });
    const post = (path: string, body: Buffer) =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          `${base}${path}`,
          { method: 'POST', agent, headers: { 'content-type': 'application/pkcs7-signature', 'content-length': body.length } },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    const statuses = new Map<number, number>();
    for (let i = 0; i < 300; i++) {
      const body =
        i % 3 === 0 ? await buildSignedData({ content: Buffer.from(mutateText(validText, r)), signer, signerCert: deviceCert }) : mutateBytes(bases[i % 2]!, r);
      const status = await post(`/ota/profile/${enrollment.id}`, body);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      assert.ok(status >= 200 && status < 500, `request ${i} answered ${status}`);
    }
    agent.destroy();
    assert.ok((statuses.get(400) ?? 0) > 100, JSON.stringify([...statuses]));
    assert.ok(!gw.logs().includes('"level":50'), 'no error was logged');
  });
});
