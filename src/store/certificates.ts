/**
 * The certificate inventory: every certificate the gateway issued, with its
 * status, and the certificates issued elsewhere that an administrator
 * uploaded for a person (`ca` UNMANAGED_CA, `unmanaged` true).
 */
import type { Knex } from 'knex';
import { isUniqueViolation, type Db } from './db.js';
import { whereVisible, type PeopleScope } from './people.js';
import { type KnexTarget, sqlOf, type SqlTarget } from './sql.js';

/**
 * The `ca` of certificates issued elsewhere. CA names are lower-case letters,
 * digits and dashes (src/config/schema.ts), so no configured CA has it: the
 * CRL publisher and OCSP responder, which match rows by CA name, never see
 * these rows.
 */
export const UNMANAGED_CA = '(unmanaged)';

export type CertificateStatus = 'valid' | 'revoked' | 'hold';
export const CERTIFICATE_STATUSES: readonly CertificateStatus[] = ['valid', 'revoked', 'hold'];

export interface CertificateRecord {
  serial: string;
  ca: string;
  subject: string;
  sans: { type: string; value: string }[];
  template: string | null;
  userId: string | null;
  deviceId: string | null;
  notBefore: number;
  notAfter: number;
  status: CertificateStatus;
  revokedAt: number | null;
  revocationReason: string | null;
  sha1: string;
  sha256: string;
  pem: string;
  keyEscrowed: boolean;
  createdAt: number;
  /** Issued elsewhere and uploaded with its key: credgate cannot revoke, hold or release it. */
  unmanaged?: true;
}

interface Row {
  serial: string;
  ca: string;
  subject: string;
  sans: string;
  template: string | null;
  user_id: string | null;
  device_id: string | null;
  not_before: number;
  not_after: number;
  status: CertificateStatus;
  revoked_at: number | null;
  revocation_reason: string | null;
  sha1: string;
  sha256: string;
  pem: string;
  key_escrowed: number | boolean;
  created_at: number;
}

const num = (v: number | null) => (v === null ? null : Number(v));

const fromRow = (r: Row): CertificateRecord => ({
  serial: r.serial,
  ca: r.ca,
  subject: r.subject,
  sans: JSON.parse(r.sans) as { type: string; value: string }[],
  template: r.template,
  userId: r.user_id,
  deviceId: r.device_id,
  notBefore: Number(r.not_before),
  notAfter: Number(r.not_after),
  status: r.status,
  revokedAt: num(r.revoked_at),
  revocationReason: r.revocation_reason,
  sha1: r.sha1,
  sha256: r.sha256,
  pem: r.pem,
  keyEscrowed: Boolean(r.key_escrowed),
  createdAt: Number(r.created_at),
  ...(r.ca === UNMANAGED_CA && { unmanaged: true as const }),
});

export interface CertificateFilter {
  userId?: string;
  deviceId?: string;
  status?: CertificateStatus;
  ca?: string;
  template?: string;
  /** Only certificates whose notAfter is before this (epoch ms). */
  expiringBefore?: number;
  limit?: number;
  /** Cursor: serials after this one (listing is ordered by serial). */
  after?: string;
  /** true: only certificates issued elsewhere; false: only those issued here. */
  unmanaged?: boolean;
}

/** Thrown when an insert hits the unique serial: the caller re-issues with a new serial. */
export class SerialCollisionError extends Error {}

// On the issuance path: plain SQL (store/sql.ts).
const INSERT =
  'INSERT INTO certificates (serial, ca, subject, sans, template, user_id, device_id, not_before, not_after, status, sha1, sha256, pem, key_escrowed, created_at) ' +
  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'valid', ?, ?, ?, ?, ?)";

export class CertificateRepository {
  constructor(private readonly db: Db) {}

  async insert(target: SqlTarget, c: Omit<CertificateRecord, 'status' | 'revokedAt' | 'revocationReason'>): Promise<void> {
    try {
      await sqlOf(target).run(INSERT, [
        c.serial,
        c.ca,
        c.subject,
        JSON.stringify(c.sans),
        c.template,
        c.userId,
        c.deviceId,
        c.notBefore,
        c.notAfter,
        c.sha1,
        c.sha256,
        c.pem,
        c.keyEscrowed ? 1 : 0,
        c.createdAt,
      ]);
    } catch (err) {
      if (isUniqueViolation(err)) throw new SerialCollisionError(`serial ${c.serial} already exists`);
      throw err;
    }
  }

  /** With a scope: only a certificate of a visible person (one issued to no person is visible to scope all only). */
  async get(serial: string, trx: KnexTarget = this.db, scope?: PeopleScope): Promise<CertificateRecord | undefined> {
    const row = (await whereVisible(trx<Row>('certificates').where({ serial }), scope, 'user_id').first()) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  /**
   * Whether this exact certificate (lower-case SHA-256 hex of its DER) was
   * issued here. An uploaded certificate issued elsewhere is in the table
   * but was not issued here: client-certificate authentication
   * (src/http/auth/strategies.ts) must not take it for one of ours.
   */
  async hasSha256(sha256: string): Promise<boolean> {
    return (await this.db('certificates').where({ sha256 }).whereNot({ ca: UNMANAGED_CA }).first('serial')) !== undefined;
  }

  /** The serial of this exact certificate in the inventory, issued here or uploaded. */
  async serialOfSha256(sha256: string): Promise<string | undefined> {
    const row = (await this.db('certificates').where({ sha256 }).first('serial')) as { serial: string } | undefined;
    return row?.serial;
  }

  async list(filter: CertificateFilter = {}, scope?: PeopleScope): Promise<CertificateRecord[]> {
    const q = whereVisible(this.db<Row>('certificates'), scope, 'user_id')
      .orderBy('serial')
      .limit(Math.min(filter.limit ?? 100, 1000));
    if (filter.userId) q.where({ user_id: filter.userId });
    if (filter.deviceId) q.where({ device_id: filter.deviceId });
    if (filter.status) q.where({ status: filter.status });
    if (filter.ca) q.where({ ca: filter.ca });
    if (filter.template) q.where({ template: filter.template });
    if (filter.expiringBefore !== undefined) q.where('not_after', '<', filter.expiringBefore);
    if (filter.after) q.where('serial', '>', filter.after);
    if (filter.unmanaged === true) q.where({ ca: UNMANAGED_CA });
    if (filter.unmanaged === false) q.whereNot({ ca: UNMANAGED_CA });
    return ((await q) as Row[]).map(fromRow);
  }

  /** Removes a certificate issued elsewhere from the inventory (its key and its unmanaged row go first); never one issued here. */
  async removeUnmanaged(trx: KnexTarget, serial: string): Promise<boolean> {
    return (await trx('certificates').where({ serial, ca: UNMANAGED_CA }).del()) > 0;
  }

  /** Moves a certificate between valid, hold and revoked; returns false if it was not in `from`. */
  async transition(
    trx: Knex.Transaction,
    serial: string,
    from: CertificateStatus[],
    to: CertificateStatus,
    revokedAt: number | null,
    reason: string | null,
  ): Promise<boolean> {
    const n = await trx('certificates').where({ serial }).whereIn('status', from).update({ status: to, revoked_at: revokedAt, revocation_reason: reason });
    return n > 0;
  }

  /** Revoked and held certificates of a CA that have not expired: the CRL's entries. */
  async revokedFor(ca: string, now = Date.now(), trx: KnexTarget = this.db): Promise<{ serial: string; revokedAt: number; reason: string }[]> {
    const rows = (await trx('certificates')
      .select('serial', 'revoked_at', 'revocation_reason')
      .where({ ca })
      .whereIn('status', ['revoked', 'hold'])
      .andWhere('not_after', '>', now)
      .orderBy('serial')) as { serial: string; revoked_at: number; revocation_reason: string }[];
    return rows.map((r) => ({ serial: r.serial, revokedAt: Number(r.revoked_at), reason: r.revocation_reason }));
  }
}
