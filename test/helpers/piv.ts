/** A stand-in PIV issuer: a CA and card (PIV Authentication) certificates with UPN and email in the subjectAltName, as agencies issue them. */
import { X509Certificate, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildCertificate, type SubjectAltName } from '../../src/pki/certificate.js';
import { certificatePolicies } from '../../src/pki/extensions.js';
import { generateKey } from '../../src/pki/keys.js';
import { NativeSigner } from '../../src/pki/native-signer.js';

const DAY = 86_400_000;

export interface PivCa {
  name: string;
  der: Buffer;
  key: KeyObject;
  /** PEM file of the CA certificate. */
  pem: string;
}

export interface PivCardFiles {
  /** PEM files for curl --cert / --key. */
  cert: string;
  key: string;
  pem: string;
  serial: string;
  fingerprint: string;
  issuer: string;
}

export async function makePivCa(dir: string, name: string): Promise<PivCa> {
  const { privateKey, publicKey } = await generateKey('rsa-2048');
  const ca = await buildCertificate({
    subject: [
      { type: 'C', value: 'US' },
      { type: 'O', value: 'Example Agency' },
      { type: 'CN', value: name },
    ],
    publicKey,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 3650 * DAY),
    signer: new NativeSigner(privateKey),
    ca: {},
    keyUsage: { keyCertSign: true, cRLSign: true },
  });
  const pem = join(dir, `${name.replace(/\W+/g, '-')}.pem`);
  writeFileSync(pem, ca.pem);
  return { name, der: ca.der, key: privateKey, pem };
}

/** A card's PIV Authentication certificate (or the certificate under `policies`); `expired` ended yesterday. */
export async function issuePivCard(
  dir: string,
  ca: PivCa,
  file: string,
  opts: { cn: string; upn?: string; email?: string; expired?: boolean; policies?: string[] },
): Promise<PivCardFiles> {
  const { privateKey, publicKey } = await generateKey('rsa-2048');
  const now = Date.now();
  const policies = opts.policies ?? ['2.16.840.1.101.3.2.1.3.13'];
  const sans: SubjectAltName[] = [
    ...(opts.upn ? [{ type: 'upn' as const, value: opts.upn }] : []),
    ...(opts.email ? [{ type: 'email' as const, value: opts.email }] : []),
  ];
  const cert = await buildCertificate({
    subject: [
      { type: 'C', value: 'US' },
      { type: 'O', value: 'Example Agency' },
      { type: 'CN', value: opts.cn },
    ],
    publicKey,
    notBefore: new Date(opts.expired ? now - 400 * DAY : now - DAY),
    notAfter: new Date(opts.expired ? now - DAY : now + 1095 * DAY),
    issuer: { cert: ca.der },
    signer: new NativeSigner(ca.key),
    keyUsage: { digitalSignature: true },
    extendedKeyUsage: ['clientAuth', 'smartcardLogon'],
    ...(sans.length > 0 && { subjectAltNames: sans }),
    extraExtensions: policies.length > 0 ? [certificatePolicies(policies)] : [],
  });
  const certPath = join(dir, `${file}.pem`);
  const keyPath = join(dir, `${file}-key.pem`);
  writeFileSync(certPath, cert.pem);
  writeFileSync(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const x509 = new X509Certificate(cert.der);
  return {
    cert: certPath,
    key: keyPath,
    pem: cert.pem,
    serial: x509.serialNumber,
    fingerprint: x509.fingerprint256.replace(/:/g, '').toLowerCase(),
    issuer: x509.issuer,
  };
}
