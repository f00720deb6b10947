/** The published CRL of each CA, its number, and whether a revocation has made it stale. */
import type { Knex } from 'knex';
import type { Db } from './db.js';
import type { KnexTarget } from './sql.js';

export interface PublishedCrl {
  ca: string;
  crlNumber: bigint;
  thisUpdate: number;
  nextUpdate: number;
  stale: boolean;
  der: Buffer;
}

interface Row {
  ca: string;
  crl_number: number | string;
  this_update: number;
  next_update: number;
  stale: number | boolean;
  der: string;
}

export class CrlStateRepository {
  constructor(private readonly db: Db) {}

  async get(ca: string): Promise<PublishedCrl | undefined> {
    const r = (await this.db<Row>('crl_state').where({ ca }).first()) as Row | undefined;
    if (!r) return undefined;
    return {
      ca: r.ca,
      crlNumber: BigInt(r.crl_number),
      thisUpdate: Number(r.this_update),
      nextUpdate: Number(r.next_update),
      stale: Boolean(r.stale),
      der: Buffer.from(r.der, 'base64'),
    };
  }

  /** Flags the CA's CRL for re-signing, inside the transaction that changed a status. */
  async markStale(trx: KnexTarget, ca: string): Promise<void> {
    await trx('crl_state').where({ ca }).update({ stale: true });
  }

  /** The next CRL number; the row is locked until the caller's transaction ends. */
  async nextNumber(trx: Knex.Transaction, ca: string): Promise<bigint> {
    const q = trx<Row>('crl_state').where({ ca });
    const r = (await (trx.client.config.client === 'mysql2' ? q.forUpdate() : q).first()) as Row | undefined;
    return r ? BigInt(r.crl_number) + 1n : 1n;
  }

  async save(trx: Knex.Transaction, crl: Omit<PublishedCrl, 'stale'>): Promise<void> {
    const row = {
      ca: crl.ca,
      crl_number: crl.crlNumber.toString(),
      this_update: crl.thisUpdate,
      next_update: crl.nextUpdate,
      stale: false,
      der: crl.der.toString('base64'),
    };
    await trx('crl_state').insert(row).onConflict('ca').merge();
  }
}
