/** Who an uploaded certificate (issued elsewhere) belongs to, what it is for, and whether it is the current one. */
import type { KnexTarget } from './sql.js';
import type { Db } from './db.js';

export type UnmanagedState = 'current' | 'superseded';

export interface UnmanagedCertificate {
  serial: string;
  userId: string;
  purpose: string;
  state: UnmanagedState;
  /** The issuer's name, most significant part first. */
  issuer: string;
  /** Issuer certificates that came in the file, DER, nearest first. */
  chain: Buffer[];
  uploadedBy: string;
  uploadedAt: number;
  supersededAt: number | null;
}

interface Row {
  serial: string;
  user_id: string;
  purpose: string;
  state: UnmanagedState;
  issuer: string;
  chain: string;
  uploaded_by: string;
  uploaded_at: number | string;
  superseded_at: number | string | null;
}

const fromRow = (r: Row): UnmanagedCertificate => ({
  serial: r.serial,
  userId: r.user_id,
  purpose: r.purpose,
  state: r.state,
  issuer: r.issuer,
  chain: (JSON.parse(r.chain) as string[]).map((c) => Buffer.from(c, 'base64')),
  uploadedBy: r.uploaded_by,
  uploadedAt: Number(r.uploaded_at),
  supersededAt: r.superseded_at === null ? null : Number(r.superseded_at),
});

export class UnmanagedCertificateRepository {
  constructor(private readonly db: Db) {}

  async insert(trx: KnexTarget, c: Omit<UnmanagedCertificate, 'state' | 'supersededAt'>): Promise<void> {
    await trx('unmanaged_certificates').insert({
      serial: c.serial,
      user_id: c.userId,
      purpose: c.purpose,
      state: 'current',
      issuer: c.issuer,
      chain: JSON.stringify(c.chain.map((d) => d.toString('base64'))),
      uploaded_by: c.uploadedBy,
      uploaded_at: c.uploadedAt,
      superseded_at: null,
    });
  }

  /** Marks the person's current certificates for `purpose` superseded; returns their serials. */
  async supersede(trx: KnexTarget, userId: string, purpose: string, now = Date.now()): Promise<string[]> {
    const rows = (await trx('unmanaged_certificates').where({ user_id: userId, purpose, state: 'current' }).select('serial')) as { serial: string }[];
    if (rows.length)
      await trx('unmanaged_certificates')
        .whereIn(
          'serial',
          rows.map((r) => r.serial),
        )
        .update({ state: 'superseded', superseded_at: now });
    return rows.map((r) => r.serial);
  }

  async get(serial: string, trx: KnexTarget = this.db): Promise<UnmanagedCertificate | undefined> {
    const row = (await trx('unmanaged_certificates').where({ serial }).first()) as Row | undefined;
    return row && fromRow(row);
  }

  /** The person's current certificate for `purpose`, if any. */
  async current(userId: string, purpose: string): Promise<UnmanagedCertificate | undefined> {
    const row = (await this.db('unmanaged_certificates').where({ user_id: userId, purpose, state: 'current' }).orderBy('uploaded_at', 'desc').first()) as
      | Row
      | undefined;
    return row && fromRow(row);
  }

  /** The person's uploads, newest first. */
  async ofUser(userId: string): Promise<UnmanagedCertificate[]> {
    const rows = (await this.db('unmanaged_certificates').where({ user_id: userId }).orderBy('uploaded_at', 'desc').limit(1000)) as Row[];
    return rows.map(fromRow);
  }

  async remove(trx: KnexTarget, serial: string): Promise<boolean> {
    return (await trx('unmanaged_certificates').where({ serial }).del()) > 0;
  }
}
