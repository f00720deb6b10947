/**
 * An iPhone going through iOS OTA enrollment against a started gateway, for
 * tests about what the final profile carries: curl as Safari and the
 * device's HTTP, `openssl cms` as its CMS, micromdm's scepclient for the
 * SCEP step, and `openssl pkcs12` to open each credential it receives.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PlistValue } from 'plist';
import { curl } from './curl.js';
import { decryptWith, readXmlPlist, signDeviceMessage, verifyProfile, xmlPlist, type Identity } from './iphone.js';
import { openssl } from './openssl.js';

type Dict = Record<string, PlistValue>;

export interface ReceivedCredential {
  identifier: string;
  fileName: string;
  /** The certificate inside the PKCS#12, opened with its password. */
  cert: X509Certificate;
  serial: string;
  /** PEM of the public key of the private key inside the PKCS#12. */
  publicKey: string;
}

/** POST or GET as Safari and the device; the body comes back as bytes. */
async function fetchBytes(dir: string, rootPem: string, url: string, body?: Buffer): Promise<{ status: number; body: Buffer }> {
  const out = join(dir, 'response.bin');
  writeFileSync(out, '');
  const args = ['--cacert', rootPem, '-o', out];
  if (body) {
    writeFileSync(join(dir, 'request.bin'), body);
    args.push('-X', 'POST', '-H', 'Content-Type: application/pkcs7-signature', '--data-binary', `@${join(dir, 'request.bin')}`);
  }
  const r = await curl(url, args);
  return { status: r.status, body: readFileSync(out) };
}

function scepclient(args: string[], rootPem: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile('scepclient', args, { env: { ...process.env, SSL_CERT_FILE: rootPem }, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: stdout + stderr }),
    );
  });
}

/**
 * Phases 1 to 3 for the enrollment `code` opens, as the device `udid` whose
 * built-in identity is `device`; returns the PKCS#12 credentials of the
 * final profile, each opened.
 */
export async function enrollIphone(opts: {
  base: string;
  dir: string;
  rootPem: string;
  code: string;
  udid: string;
  device: Identity;
  organization: string;
}): Promise<ReceivedCredential[]> {
  const dir = join(opts.dir, `iphone-${opts.udid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const profileOf = (der: Buffer): Dict => readXmlPlist(verifyProfile(dir, der, opts.rootPem));
  const ok = (r: { status: number; body: Buffer }, what: string) => {
    if (r.status !== 200) throw new Error(`${what}: ${r.status} ${r.body.toString()}`);
    return r.body;
  };

  const service = profileOf(ok(await fetchBytes(dir, opts.rootPem, `${opts.base}/ota/enroll?code=${encodeURIComponent(opts.code)}`), 'phase 1'))
    .PayloadContent as Dict;
  const attributes = xmlPlist({
    UDID: opts.udid,
    SERIAL: 'F2LX1234ABCD',
    PRODUCT: 'iPhone12,1',
    VERSION: '21E236',
    DEVICE_NAME: 'iPhone',
    CHALLENGE: service.Challenge as string,
  });
  const phase2 = profileOf(ok(await fetchBytes(dir, opts.rootPem, service.URL as string, signDeviceMessage(dir, attributes, opts.device)), 'phase 2'));
  const scep = (phase2.PayloadContent as Dict[])[0]!.PayloadContent as Dict;

  const identity = { cert: join(dir, 'scep.pem'), key: join(dir, 'scep-key.pem') };
  const enrolled = await scepclient(
    [
      '-server-url',
      scep.URL as string,
      '-challenge',
      scep.Challenge as string,
      '-cn',
      opts.udid,
      '-organization',
      opts.organization,
      '-ou',
      '',
      '-country',
      '',
      '-private-key',
      identity.key,
      '-certificate',
      identity.cert,
    ],
    opts.rootPem,
  );
  if (enrolled.code !== 0) throw new Error(`scepclient: ${enrolled.output}`);

  const final = profileOf(
    ok(await fetchBytes(dir, opts.rootPem, service.URL as string, signDeviceMessage(dir, attributes, identity, { md: 'sha256' })), 'phase 3'),
  );
  const payloads = readXmlPlist(decryptWith(dir, Buffer.from(final.EncryptedPayloadContent as Uint8Array), identity)) as unknown as Dict[];
  return payloads
    .filter((p) => p.PayloadType === 'com.apple.security.pkcs12')
    .map((p, n) => {
      const file = join(dir, `credential-${n}.p12`);
      writeFileSync(file, Buffer.from(p.PayloadContent as Uint8Array));
      const pem = openssl(['pkcs12', '-in', file, '-passin', `pass:${p.Password as string}`, '-nodes']);
      const cert = new X509Certificate(pem.slice(pem.indexOf('-----BEGIN CERTIFICATE-----')));
      const key = pem.slice(pem.indexOf('-----BEGIN PRIVATE KEY-----'), pem.indexOf('-----END PRIVATE KEY-----') + 25);
      return {
        identifier: p.PayloadIdentifier as string,
        fileName: p.PayloadCertificateFileName as string,
        cert,
        serial: cert.serialNumber.toLowerCase(),
        publicKey: openssl(['pkey', '-pubout'], key),
      };
    });
}
