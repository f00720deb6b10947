/**
 * Re-wraps everything sealed under the master key: escrowed keys and the
 * key pool, credential sets waiting for delivery to an MDM and SCEP
 * requests waiting for an operator in the database, and the key files
 * written under the old key. Resumable: rows and files already under the new key are left alone,
 * so an interrupted rotation is finished by running it again.
 */
import { createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import type { Db } from '../store/db.js';
import type { AuditRepository } from '../store/audit.js';
import { EscrowRepository, KeyPoolRepository, type WrappedKey } from '../store/key-store.js';
import { encryptedPem } from './key-files.js';
import { writeSecretFile } from './files.js';
import { openBytes, sealBytes, unwrapKey, wrapKey, type MasterKey } from './key-wrap.js';
import { deliveryContext, DeliveryRepository } from '../store/deliveries.js';
import { pendingContext, ScepTransactionRepository } from '../store/scep.js';

export interface RotationReport {
  escrowed: number;
  pooled: number;
  /** SCEP requests waiting for an operator, kept sealed for the MDM that validated them. */
  scepRequests: number;
  /** Credential sets still waiting for delivery to an MDM. */
  deliveries: number;
  files: string[];
}

const poolContext = (algorithm: string) => `key-pool:${algorithm}`;

export async function rotateMasterKey(opts: {
  db: Db;
  audit: AuditRepository;
  from: MasterKey;
  to: MasterKey;
  /** Key files encrypted under the old master key (CA and TLS keys). */
  keyFiles: string[];
  actor: string;
}): Promise<RotationReport> {
  const { db, from, to } = opts;
  const report: RotationReport = { escrowed: 0, pooled: 0, scepRequests: 0, deliveries: 0, files: [] };
  const deliveries = new DeliveryRepository(db);
  const pendingDeliveries = await deliveries.sealedUnder(to.id);
  const scep = new ScepTransactionRepository(db);
  const pendingScep = await scep.sealedUnder(to.id);
  const escrow = new EscrowRepository(db);
  const pool = new KeyPoolRepository(db);

  const pendingEscrow: ({ serial: string } & WrappedKey)[] = [];
  for await (const row of escrow.all()) if (row.kekId !== to.id) pendingEscrow.push(row);
  const pendingPool: ({ id: number } & WrappedKey)[] = [];
  for await (const row of pool.all()) if (row.kekId !== to.id) pendingPool.push(row);
  const algorithms = new Map<number, string>(
    ((await db('key_pool').select('id', 'algorithm')) as { id: number; algorithm: string }[]).map((r) => [Number(r.id), r.algorithm]),
  );

  await db.transaction(async (trx) => {
    for (const row of pendingEscrow) {
      const key = unwrapKey(from, row.kekId, row.wrapped, row.serial);
      await escrow.replace(trx, row.serial, { kekId: to.id, wrapped: wrapKey(to, key, row.serial) });
      report.escrowed++;
    }
    for (const row of pendingPool) {
      const ctx = poolContext(algorithms.get(row.id) ?? '');
      const key = unwrapKey(from, row.kekId, row.wrapped, ctx);
      await pool.replace(trx, row.id, { kekId: to.id, wrapped: wrapKey(to, key, ctx) });
      report.pooled++;
    }
    for (const row of pendingScep) {
      const ctx = pendingContext(row);
      await scep.reseal(trx, row.id, { csrSealed: sealBytes(to, openBytes(from, row.kekId ?? '', row.csrSealed!, ctx), ctx), kekId: to.id });
      report.scepRequests++;
    }
    for (const d of pendingDeliveries) {
      const ctx = deliveryContext(d.connectorId, d.deviceId);
      await deliveries.reseal(trx, d.id, { kekId: to.id, wrappedPayload: sealBytes(to, openBytes(from, d.kekId ?? '', d.wrappedPayload!, ctx), ctx) });
      report.deliveries++;
    }
    await opts.audit.append(trx, {
      actor: opts.actor,
      action: 'master-key.rotate',
      subjectType: 'master-key',
      subjectId: to.id,
      detail: { from: from.id, escrowed: report.escrowed, pooled: report.pooled, scepRequests: report.scepRequests, deliveries: report.deliveries },
    });
  });

  for (const path of opts.keyFiles) {
    if (!existsSync(path)) continue;
    const pem = readFileSync(path);
    // Plain keys an operator supplied are theirs to manage; only ours are re-encrypted.
    if (!pem.includes('ENCRYPTED')) continue;
    if (opens(pem, to)) continue; // already rotated by an earlier, interrupted run
    const key = createPrivateKey({ key: pem, passphrase: from.key.toString('hex') });
    writeSecretFile(`${path}.rotating`, encryptedPem(key, to.key), { overwrite: true });
    renameSync(`${path}.rotating`, path);
    report.files.push(path);
  }
  return report;
}

function opens(pem: Buffer, master: MasterKey): boolean {
  try {
    createPrivateKey({ key: pem, passphrase: master.key.toString('hex') });
    return true;
  } catch {
    return false;
  }
}
