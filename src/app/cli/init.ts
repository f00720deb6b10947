/** `credgate init`: master key, dev PKI and database, without serving. */
import { openDatabase } from '../database.js';
import { context } from '../context.js';
import { devPkiFiles } from '../../pki/dev-pki.js';
import { ensurePki, loadMasterKey, usesDevPki } from '../pki-setup.js';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';

export async function init(opts: { config?: string }): Promise<void> {
  const { config, log } = context(opts);
  const masterKey = loadMasterKey(config, { create: true });
  await ensurePki(config, masterKey, log);
  const db = await openDatabase(config.database, log);
  await db.destroy();
  process.stdout.write([...pkiLines(config), `database ready (${config.database.client})`, ''].join('\n'));
}

/** What the dev PKI holds; none is written while server.tls names a certificate of the operator's (pki-setup.ts). */
function pkiLines(config: Parameters<typeof usesDevPki>[0]): string[] {
  if (!usesDevPki(config)) return [`no dev PKI: server.tls names your own certificate (${config.server.tls.cert})`];
  const f = devPkiFiles(config.pki.dir);
  // admin.pem is only the fingerprint's source: the PKCS#12 and its password are what init keeps.
  const admin = existsSync(f.adminCert) ? new X509Certificate(readFileSync(f.adminCert)).fingerprint256 : `unknown (${f.adminCert} is missing)`;
  return [
    `PKI in ${config.pki.dir}/ (private keys encrypted under ${config.pki.dir}/master.key)`,
    `  root CA          ${f.rootCert}`,
    `  issuing CA       ${f.issuingCert}`,
    `  TLS server       ${f.serverCert}`,
    `  admin client     ${f.adminP12} (password in ${f.adminPassword})`,
    `  admin SHA-256    ${admin}`,
  ];
}
