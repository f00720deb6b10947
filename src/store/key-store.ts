/** Rows holding wrapped private keys: escrowed keys (by certificate) and the pre-generated key pool. */
import type { Knex } from 'knex';
import { clientOf, type Db } from './db.js';
import { sqlOf, type SqlTarget } from './sql.js';

export interface WrappedKey {
  kekId: string;
  wrapped: string;
}

export class EscrowRepository {
  constructor(private readonly db: Db) {}

  async put(target: SqlTarget, serial: string, key: WrappedKey, now = Date.now()): Promise<void> {
    await sqlOf(target).run('INSERT INTO escrowed_keys (serial, kek_id, wrapped, created_at) VALUES (?, ?, ?, ?)', [serial, key.kekId, key.wrapped, now]);
  }

  async get(serial: string): Promise<WrappedKey | undefined> {
    const r = (await this.db('escrowed_keys').where({ serial }).first()) as { kek_id: string; wrapped: string } | undefined;
    return r ? { kekId: r.kek_id, wrapped: r.wrapped } : undefined;
  }

  async *all(batch = 500): AsyncGenerator<{ serial: string } & WrappedKey> {
    let after = '';
    for (;;) {
      const rows = (await this.db('escrowed_keys').where('serial', '>', after).orderBy('serial').limit(batch)) as {
        serial: string;
        kek_id: string;
        wrapped: string;
      }[];
      for (const r of rows) yield { serial: r.serial, kekId: r.kek_id, wrapped: r.wrapped };
      if (rows.length < batch) return;
      after = rows[rows.length - 1]!.serial;
    }
  }

  /** Destroys an escrowed key (an uploaded certificate's, when it is deleted). */
  async remove(trx: Knex.Transaction, serial: string): Promise<boolean> {
    return (await trx('escrowed_keys').where({ serial }).del()) > 0;
  }

  async replace(trx: Knex.Transaction, serial: string, key: WrappedKey): Promise<void> {
    await trx('escrowed_keys').where({ serial }).update({ kek_id: key.kekId, wrapped: key.wrapped });
  }
}

export class KeyPoolRepository {
  constructor(private readonly db: Db) {}

  async add(algorithm: string, key: WrappedKey, now = Date.now()): Promise<void> {
    await this.db('key_pool').insert({ algorithm, kek_id: key.kekId, wrapped: key.wrapped, created_at: now });
  }

  /** Removes and returns one pooled key; each key is handed out at most once, across instances too. */
  async take(algorithm: string): Promise<({ id: number } & WrappedKey) | undefined> {
    type R = { id: number; kek_id: string; wrapped: string };
    const out = (r: R | undefined) => (r ? { id: Number(r.id), kekId: r.kek_id, wrapped: r.wrapped } : undefined);
    if (clientOf(this.db) === 'sqlite') {
      // One statement (knex would drop its RETURNING): no two takers, in this process or another, get the same row.
      const rows = await sqlOf(this.db).all<R>(
        'DELETE FROM key_pool WHERE id = (SELECT id FROM key_pool WHERE algorithm = ? ORDER BY id LIMIT 1) RETURNING id, kek_id, wrapped',
        [algorithm],
      );
      return out(rows[0]);
    }
    return this.db.transaction(
      async (trx) => {
        const row = (await trx('key_pool').where({ algorithm }).orderBy('id').limit(1).forUpdate().skipLocked().first()) as R | undefined;
        if (row) await trx('key_pool').where({ id: row.id }).del();
        return out(row);
      },
      { isolationLevel: 'read committed' },
    );
  }

  async count(algorithm: string): Promise<number> {
    const r = (await this.db('key_pool').where({ algorithm }).count({ n: '*' }).first()) as { n: number | string };
    return Number(r.n);
  }

  async *all(batch = 500): AsyncGenerator<{ id: number } & WrappedKey> {
    let after = 0;
    for (;;) {
      const rows = (await this.db('key_pool').where('id', '>', after).orderBy('id').limit(batch)) as { id: number; kek_id: string; wrapped: string }[];
      for (const r of rows) yield { id: Number(r.id), kekId: r.kek_id, wrapped: r.wrapped };
      if (rows.length < batch) return;
      after = Number(rows[rows.length - 1]!.id);
    }
  }

  async replace(trx: Knex.Transaction, id: number, key: WrappedKey): Promise<void> {
    await trx('key_pool').where({ id }).update({ kek_id: key.kekId, wrapped: key.wrapped });
  }
}
