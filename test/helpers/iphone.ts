/**
 * What a test needs to act as an iPhone in OTA enrollment: a device CA of
 * its own (standing in for "Apple iPhone Device CA", RSA-1024 like Apple's)
 * with an expired device identity, signed device attributes as
 * `openssl cms -sign` makes them (DER, or BER with -stream), and the
 * openssl checks a device applies to what the server answers.
 */
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build, parse, type PlistValue } from 'plist';
import { buildCertificate } from '../../src/pki/certificate.js';
import { NativeSigner } from '../../src/pki/native-signer.js';
import { openssl } from './openssl.js';

const DAY = 86_400_000;

export interface Identity {
  cert: string;
  key: string;
}

/** A device CA (RSA-1024) and one device identity under it whose validity ended a year ago. */
export async function makeDeviceCa(dir: string, name: string): Promise<{ ca: string; device: Identity }> {
  mkdirSync(dir, { recursive: true });
  const ca = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const now = Date.now();
  const caCert = await buildCertificate({
    subject: [
      { type: 'CN', value: name },
      { type: 'O', value: 'Test Devices Inc.' },
    ],
    publicKey: ca.publicKey,
    notBefore: new Date(now - 3000 * DAY),
    notAfter: new Date(now - 400 * DAY),
    signer: new NativeSigner(ca.privateKey),
    ca: {},
    keyUsage: { keyCertSign: true, cRLSign: true },
  });
  const device = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const deviceCert = await buildCertificate({
    subject: [{ type: 'CN', value: `device of ${name}` }],
    publicKey: device.publicKey,
    notBefore: new Date(now - 2000 * DAY),
    notAfter: new Date(now - 365 * DAY),
    issuer: { cert: caCert.der },
    signer: new NativeSigner(ca.privateKey),
    keyUsage: { digitalSignature: true, keyEncipherment: true },
  });
  const files = { ca: join(dir, 'device-ca.pem'), device: { cert: join(dir, 'device.pem'), key: join(dir, 'device-key.pem') } };
  writeFileSync(files.ca, caCert.pem);
  writeFileSync(files.device.cert, deviceCert.pem);
  writeFileSync(files.device.key, device.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  return files;
}

export const xmlPlist = (value: PlistValue): string => build(value);
export const readXmlPlist = (bytes: Buffer): Record<string, PlistValue> => parse(bytes.toString('utf8')) as Record<string, PlistValue>;

/** `openssl cms -sign` of `content` by `who`, attached, as DER (or BER with indefinite lengths when streaming). */
export function signDeviceMessage(dir: string, content: string | Buffer, who: Identity, opts: { stream?: boolean; md?: string } = {}): Buffer {
  const input = join(dir, 'message.in');
  const output = join(dir, 'message.p7');
  writeFileSync(input, content);
  openssl([
    'cms',
    '-sign',
    '-binary',
    '-nodetach',
    '-md',
    opts.md ?? 'sha1',
    '-in',
    input,
    '-signer',
    who.cert,
    '-inkey',
    who.key,
    '-outform',
    'DER',
    '-out',
    output,
    ...(opts.stream ? ['-stream'] : []),
  ]);
  return readFileSync(output);
}

/** `openssl cms -verify` against `caFile` (the certificates inside supply the chain); returns the signed content. */
export function verifyProfile(dir: string, der: Buffer, caFile: string): Buffer {
  const input = join(dir, 'profile.p7');
  const output = join(dir, 'profile.content');
  writeFileSync(input, der);
  openssl(['cms', '-verify', '-inform', 'DER', '-in', input, '-CAfile', caFile, '-out', output]);
  return readFileSync(output);
}

/** `openssl cms -decrypt` of EnvelopedData DER with the device's key. */
export function decryptWith(dir: string, der: Buffer, who: Identity): Buffer {
  const input = join(dir, 'encrypted.p7');
  const output = join(dir, 'decrypted');
  writeFileSync(input, der);
  openssl(['cms', '-decrypt', '-inform', 'DER', '-in', input, '-recip', who.cert, '-inkey', who.key, '-out', output]);
  return readFileSync(output);
}

export const subjectOf = (pem: string): string => new X509Certificate(readFileSync(pem)).subject;
