/**
 * `credgate keys rotate-master`: a new master key for everything at rest.
 * With a file-held key (certs/master.key) the new key is written to
 * master.key.next first and moved into place last, so a crash at any point
 * is finished by running the command again. A key from config or the
 * environment is printed once, for the operator to install.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { devPkiFiles } from '../../pki/dev-pki.js';
import { writeSecretFile } from '../../pki/files.js';
import { masterKeyOf } from '../../pki/key-wrap.js';
import { rotateMasterKey } from '../../pki/master-key-rotation.js';
import { masterKeyPath } from '../../pki/master-key.js';
import { AuditRepository } from '../../store/audit.js';
import { openDatabase } from '../database.js';
import { context } from '../context.js';
import { caSources } from '../issuance.js';
import { loadMasterKey } from '../pki-setup.js';

export async function rotateMaster(opts: { config?: string }): Promise<void> {
  const { config, log } = context(opts);
  const current = masterKeyOf(loadMasterKey(config, { create: false }));
  const fileHeld = !config.pki.masterKey && !process.env.CREDGATE_MASTER_KEY;
  const nextPath = `${masterKeyPath(config.pki.dir)}.next`;
  const next = masterKeyOf(fileHeld && existsSync(nextPath) ? Buffer.from(readFileSync(nextPath, 'utf8').trim(), 'hex') : randomBytes(32));
  if (fileHeld) writeSecretFile(nextPath, `${next.key.toString('hex')}\n`, { overwrite: true });

  const f = devPkiFiles(config.pki.dir);
  const keyFiles = new Set([f.rootKey, f.issuingKey, f.serverKey, f.scepRaKey, f.otaSigningKey, f.contentSigningKey, config.server.tls.key]);
  if (config.scep.ra) keyFiles.add(config.scep.ra.key);
  if (config.ota.signing) keyFiles.add(config.ota.signing.key);
  const content = config.mobile.contentSigning;
  if (content) keyFiles.add(content.key);
  if (content?.previous) keyFiles.add(content.previous.key);
  for (const ca of Object.values(caSources(config))) if (ca.key) keyFiles.add(ca.key);

  const db = await openDatabase(config.database, log);
  try {
    const report = await rotateMasterKey({ db, audit: new AuditRepository(db), from: current, to: next, keyFiles: [...keyFiles], actor: 'cli' });
    process.stdout.write(
      `re-wrapped ${report.escrowed} escrowed and ${report.pooled} pooled keys and ${report.files.length} key files, ${report.deliveries} pending deliveries and ${report.scepRequests} waiting SCEP requests under master key ${next.id}\n`,
    );
  } finally {
    await db.destroy();
  }
  if (fileHeld) {
    renameSync(nextPath, masterKeyPath(config.pki.dir));
    process.stdout.write(`${masterKeyPath(config.pki.dir)} replaced; restart every gateway instance\n`);
  } else {
    process.stdout.write(`install this as pki.masterKey / CREDGATE_MASTER_KEY on every instance, then restart them:\n${next.key.toString('hex')}\n`);
  }
}
