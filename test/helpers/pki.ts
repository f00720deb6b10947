/** Client certificates for auth tests, issued by the test gateway's dev CA or by a stranger CA. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { buildCertificate } from '../../src/pki/certificate.js';
import { devPkiFiles } from '../../src/pki/dev-pki.js';
import { readKeyFile } from '../../src/pki/key-files.js';
import { generateKey } from '../../src/pki/keys.js';
import { resolveMasterKey } from '../../src/pki/master-key.js';
import { NativeSigner } from '../../src/pki/native-signer.js';

export interface ClientCertFiles {
  cert: string;
  key: string;
  fingerprint256: string;
}

const DAY = 86_400_000;

/** Issues a clientAuth certificate; with `selfSigned` it comes from an unrelated CA. */
export async function issueClientCert(
  pkiDir: string,
  name: string,
  opts: { expired?: boolean; strangerCa?: boolean; organization?: string } = {},
): Promise<ClientCertFiles> {
  const f = devPkiFiles(pkiDir);
  const { privateKey, publicKey } = await generateKey('rsa-2048');
  let issuerCert: Buffer;
  let issuerKey;
  if (opts.strangerCa) {
    const ca = await generateKey('rsa-2048');
    const caCert = await buildCertificate({
      subject: [{ type: 'CN', value: 'Stranger CA' }],
      publicKey: ca.publicKey,
      notBefore: new Date(Date.now() - DAY),
      notAfter: new Date(Date.now() + 365 * DAY),
      signer: new NativeSigner(ca.privateKey),
      ca: {},
      keyUsage: { keyCertSign: true, cRLSign: true },
    });
    issuerCert = caCert.der;
    issuerKey = ca.privateKey;
  } else {
    const masterKey = resolveMasterKey({ pkiDir })!;
    issuerCert = new X509Certificate(readFileSync(f.issuingCert)).raw;
    issuerKey = readKeyFile(f.issuingKey, masterKey);
  }
  const now = Date.now();
  const cert = await buildCertificate({
    subject: [
      { type: 'CN', value: name },
      { type: 'O', value: opts.organization ?? 'credgate dev' },
    ],
    publicKey,
    notBefore: new Date(opts.expired ? now - 30 * DAY : now - DAY),
    notAfter: new Date(opts.expired ? now - DAY : now + 30 * DAY),
    issuer: { cert: issuerCert },
    signer: new NativeSigner(issuerKey),
    keyUsage: { digitalSignature: true },
    extendedKeyUsage: ['clientAuth'],
  });
  const certPath = join(pkiDir, `${name}.pem`);
  const keyPath = join(pkiDir, `${name}-key.pem`);
  writeFileSync(certPath, cert.pem + new X509Certificate(issuerCert).toString());
  writeFileSync(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  return { cert: certPath, key: keyPath, fingerprint256: cert.x509.fingerprint256 };
}

/** curl arguments for the dev admin PKCS#12. */
export function adminCurlArgs(pkiDir: string): string[] {
  const f = devPkiFiles(pkiDir);
  const password = readFileSync(f.adminPassword, 'utf8').trim();
  return ['--cert-type', 'P12', '--cert', `${f.adminP12}:${password}`, '--cacert', f.rootCert];
}
