/**
 * The development PKI written on first start (or by `credgate init`): a root
 * CA, an issuing CA, a TLS server certificate, an admin client certificate
 * as PKCS#12, the SCEP registration authority (RA) certificate and the
 * certificate that signs iOS OTA profiles, and the one that signs what the
 * Identity Agent receives (content-signing.ts). Each file is made only if it is missing, so a
 * second start reuses everything and a deleted server certificate is simply
 * re-issued from the existing CA.
 */
import { randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildCertificate, type SubjectAltName } from './certificate.js';
import { writePublicFile, writeSecretFile } from './files.js';
import { readKeyFile, writeKeyFile } from './key-files.js';
import { generateKey, type KeyAlgorithm } from './keys.js';
import { NativeSigner } from './native-signer.js';
import { buildPkcs12 } from './pkcs12.js';

export interface DevPkiOptions {
  dir: string;
  masterKey: Buffer;
  organization: string;
  serverNames: string[];
  adminSubject: string;
}

export const devPkiFiles = (dir: string) => ({
  rootCert: join(dir, 'root-ca.pem'),
  rootKey: join(dir, 'root-ca-key.pem'),
  issuingCert: join(dir, 'issuing-ca.pem'),
  issuingKey: join(dir, 'issuing-ca-key.pem'),
  serverCert: join(dir, 'server.pem'),
  serverKey: join(dir, 'server-key.pem'),
  adminP12: join(dir, 'admin.p12'),
  adminPassword: join(dir, 'admin.p12.password'),
  adminCert: join(dir, 'admin.pem'),
  scepRaCert: join(dir, 'scep-ra.pem'),
  scepRaKey: join(dir, 'scep-ra-key.pem'),
  otaSigningCert: join(dir, 'ota-signing.pem'),
  otaSigningKey: join(dir, 'ota-signing-key.pem'),
  contentSigningCert: join(dir, 'content-signing.pem'),
  contentSigningKey: join(dir, 'content-signing-key.pem'),
});

const YEAR_MS = 365 * 86_400_000;
const IP = /^(\d{1,3}(\.\d{1,3}){3}|[0-9a-fA-F:]*:[0-9a-fA-F:]*)$/;

interface Loaded {
  cert: Buffer;
  key: KeyObject;
}

function validity(years: number): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  // Backdated a little so clients with a slow clock accept it at once.
  return { notBefore: new Date(now - 5 * 60_000), notAfter: new Date(now + years * YEAR_MS) };
}

function load(certPath: string, keyPath: string, masterKey: Buffer): Loaded {
  return { cert: new X509Certificate(readFileSync(certPath)).raw, key: readKeyFile(keyPath, masterKey) };
}

async function makeCa(
  opts: DevPkiOptions,
  paths: { cert: string; key: string },
  name: string,
  algorithm: KeyAlgorithm,
  years: number,
  issuer: Loaded | undefined,
): Promise<Loaded> {
  if (existsSync(paths.cert) && existsSync(paths.key)) return load(paths.cert, paths.key, opts.masterKey);
  const { privateKey, publicKey } = await generateKey(algorithm);
  const cert = await buildCertificate({
    subject: [
      { type: 'CN', value: name },
      { type: 'O', value: opts.organization },
    ],
    publicKey,
    ...validity(years),
    signer: new NativeSigner(issuer?.key ?? privateKey),
    ...(issuer && { issuer: { cert: issuer.cert } }),
    ca: issuer ? { pathLength: 0 } : {},
    keyUsage: { keyCertSign: true, cRLSign: true, digitalSignature: true },
  });
  writeKeyFile(paths.key, privateKey, opts.masterKey, { overwrite: false });
  writePublicFile(paths.cert, cert.pem);
  return { cert: cert.der, key: privateKey };
}

export interface DevPkiResult {
  created: string[];
}

export async function ensureDevPki(opts: DevPkiOptions): Promise<DevPkiResult> {
  // The keys and the admin PKCS#12 password live here: a directory made for them is the owner's alone.
  mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
  const f = devPkiFiles(opts.dir);
  const created: string[] = [];
  const note = (path: string, wasThere: boolean) => {
    if (!wasThere) created.push(path);
  };

  const hadRoot = existsSync(f.rootCert);
  const root = await makeCa(opts, { cert: f.rootCert, key: f.rootKey }, `${opts.organization} Root CA`, 'rsa-3072', 20, undefined);
  note(f.rootCert, hadRoot);
  const hadIssuing = existsSync(f.issuingCert);
  const issuing = await makeCa(opts, { cert: f.issuingCert, key: f.issuingKey }, `${opts.organization} Issuing CA`, 'rsa-3072', 10, root);
  note(f.issuingCert, hadIssuing);
  const issuingPem = new X509Certificate(issuing.cert).toString();
  const signer = new NativeSigner(issuing.key);

  if (!existsSync(f.serverCert) || !existsSync(f.serverKey)) {
    const { privateKey, publicKey } = await generateKey('rsa-2048');
    const sans: SubjectAltName[] = opts.serverNames.map((n) => (IP.test(n) ? { type: 'ip', value: n } : { type: 'dns', value: n }));
    const cert = await buildCertificate({
      subject: [
        { type: 'CN', value: opts.serverNames[0] ?? 'localhost' },
        { type: 'O', value: opts.organization },
      ],
      publicKey,
      ...validity(2),
      issuer: { cert: issuing.cert },
      signer,
      keyUsage: { digitalSignature: true, keyEncipherment: true },
      extendedKeyUsage: ['serverAuth'],
      subjectAltNames: sans,
    });
    writeKeyFile(f.serverKey, privateKey, opts.masterKey, { overwrite: true });
    writePublicFile(f.serverCert, cert.pem + issuingPem);
    created.push(f.serverCert);
  }

  if (!existsSync(f.adminP12) || !existsSync(f.adminPassword)) {
    const { privateKey, publicKey } = await generateKey('rsa-2048');
    const cert = await buildCertificate({
      subject: [
        { type: 'CN', value: opts.adminSubject },
        { type: 'O', value: opts.organization },
      ],
      publicKey,
      ...validity(2),
      issuer: { cert: issuing.cert },
      signer,
      keyUsage: { digitalSignature: true },
      extendedKeyUsage: ['clientAuth'],
    });
    const password = randomBytes(18).toString('base64url');
    const p12 = buildPkcs12({
      key: privateKey,
      cert: cert.der,
      chain: [issuing.cert, root.cert],
      password,
      friendlyName: opts.adminSubject,
      format: 'modern',
    });
    writeSecretFile(f.adminPassword, `${password}\n`, { overwrite: true });
    writeSecretFile(f.adminP12, p12, { overwrite: true });
    writePublicFile(f.adminCert, cert.pem);
    created.push(f.adminP12);
  }
  const serviceIdentity = async (
    paths: { cert: string; key: string },
    cn: string,
    keyUsage: { digitalSignature: true; keyEncipherment?: true },
    algorithm: KeyAlgorithm = 'rsa-2048',
  ) => {
    if (existsSync(paths.cert) && existsSync(paths.key)) return;
    const { privateKey, publicKey } = await generateKey(algorithm);
    const cert = await buildCertificate({
      subject: [
        { type: 'CN', value: cn },
        { type: 'O', value: opts.organization },
      ],
      publicKey,
      ...validity(2),
      issuer: { cert: issuing.cert },
      signer,
      keyUsage,
    });
    writeKeyFile(paths.key, privateKey, opts.masterKey, { overwrite: true });
    writePublicFile(paths.cert, cert.pem);
    created.push(paths.cert);
  };
  // SCEP clients encrypt their requests to the RA and check its signature on
  // answers, so it needs keyEncipherment + digitalSignature, which a CA key should not have.
  await serviceIdentity({ cert: f.scepRaCert, key: f.scepRaKey }, `${opts.organization} SCEP RA`, { digitalSignature: true, keyEncipherment: true });
  // Signs the iOS over-the-air profiles, so Settings shows them as verified; any certificate fit for signing would do.
  await serviceIdentity({ cert: f.otaSigningCert, key: f.otaSigningKey }, `${opts.organization} OTA Profile Signing`, { digitalSignature: true });
  // Signs /mobile/v1 answers and the badges' QR codes; EC P-256 keeps an ES256 signature at 64 bytes, so a QR code stays easy to scan.
  await serviceIdentity(
    { cert: f.contentSigningCert, key: f.contentSigningKey },
    `${opts.organization} Content Signing`,
    { digitalSignature: true },
    'ec-p256',
  );
  return { created };
}
