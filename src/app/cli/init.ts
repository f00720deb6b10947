/** `credgate init`: master key, dev PKI and database, without serving. */
import { openDatabase } from '../database.js';
import { context } from '../context.js';
import { devPkiFiles } from '../../pki/dev-pki.js';
import { ensurePki, loadMasterKey } from '../pki-setup.js';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';

export async function init(opts: { config?: string }): Promise<void> {
  const { config, log } = context(opts);
  const masterKey = loadMasterKey(config, { create: true });
  await ensurePki(config, masterKey, log);
  const db = await openDatabase(config.database, log);
  await db.destroy();
  const f = devPkiFiles(config.pki.dir);
  const admin = new X509Certificate(readFileSync(f.adminCert));
  process.stdout.write(
    [
      `PKI in ${config.pki.dir}/ (private keys encrypted under ${config.pki.dir}/master.key)`,
      `  root CA          ${f.rootCert}`,
      `  issuing CA       ${f.issuingCert}`,
      `  TLS server       ${f.serverCert}`,
      `  admin client     ${f.adminP12} (password in ${f.adminPassword})`,
      `  admin SHA-256    ${admin.fingerprint256}`,
      `database ready (${config.database.client})`,
      '',
    ].join('\n'),
  );
}
