/** SCEP transactions (one per profile + transactionID + renewed certificate) and one-time challenges (stored as HMACs). */
import type { Knex } from 'knex';
import { isUniqueViolation, type Db } from './db.js';
import { type KnexTarget, sqlOf, type SqlTarget } from './sql.js';

export type ScepStatus = 'pending' | 'issued' | 'rejected';

export interface ScepTransaction {
  id: number;
  profile: string;
  transactionId: string;
  /** Serial of the certificate a RenewalReq renews (the one that signed it); '' for first enrollments. */
  renews: string;
  keySha256: string;
  messageType: string;
  status: ScepStatus;
  failInfo: string | null;
  reason: string | null;
  serial: string | null;
  subject: string;
  /** A pending request without its challengePassword (csr-redaction.ts), base64 DER. */
  csr: string | null;
  /** The pending request as received, sealed under the master key `kekId`, where a validator reports back with it. */
  csrSealed: string | null;
  kekId: string | null;
  decidedBy: string | null;
  createdAt: number;
  updatedAt: number;
}

interface TransactionRow {
  id: number;
  profile: string;
  transaction_id: string;
  renews: string;
  key_sha256: string;
  message_type: string;
  status: ScepStatus;
  fail_info: string | null;
  reason: string | null;
  serial: string | null;
  subject: string;
  csr: string | null;
  csr_sealed: string | null;
  kek_id: string | null;
  decided_by: string | null;
  created_at: number;
  updated_at: number;
}

const fromRow = (r: TransactionRow): ScepTransaction => ({
  id: Number(r.id),
  profile: r.profile,
  transactionId: r.transaction_id,
  renews: r.renews,
  keySha256: r.key_sha256,
  messageType: r.message_type,
  status: r.status,
  failInfo: r.fail_info,
  reason: r.reason,
  serial: r.serial,
  subject: r.subject,
  csr: r.csr,
  csrSealed: r.csr_sealed,
  kekId: r.kek_id,
  decidedBy: r.decided_by,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

export type NewTransaction = Pick<ScepTransaction, 'profile' | 'transactionId' | 'renews' | 'keySha256' | 'messageType' | 'status' | 'subject'> &
  Partial<Pick<ScepTransaction, 'failInfo' | 'reason' | 'serial' | 'csr' | 'csrSealed' | 'kekId'>>;

/** Sealed requests are bound to their transaction (AAD), so a sealed blob cannot be moved to another row. */
export const pendingContext = (t: Pick<ScepTransaction, 'profile' | 'transactionId' | 'renews'>): string =>
  `scep-request:${t.profile}:${t.transactionId}:${t.renews}`;

// Looked up and written once per enrollment, the insert often inside the issuance transaction: plain SQL, prepared once (see sql.ts).
const FIND = 'SELECT * FROM scep_transactions WHERE profile = ? AND transaction_id = ? AND renews = ? LIMIT 1';
const INSERT = `INSERT INTO scep_transactions
  (profile, transaction_id, renews, key_sha256, message_type, status, fail_info, reason, serial, subject, csr, csr_sealed, kek_id, created_at, updated_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

export class ScepTransactionRepository {
  constructor(private readonly db: Db) {}

  /** The transaction of one request: a first enrollment (renews '') or the renewal of one certificate. */
  async find(profile: string, transactionId: string, renews: string, target: SqlTarget = this.db): Promise<ScepTransaction | undefined> {
    const [r] = await sqlOf(target).all<TransactionRow>(FIND, [profile, transactionId.slice(0, 191), renews]);
    return r && fromRow(r);
  }

  /** What CertPoll asks about: the newest request with this transactionID. */
  async latest(profile: string, transactionId: string): Promise<ScepTransaction | undefined> {
    const r = (await this.db<TransactionRow>('scep_transactions')
      .where({ profile, transaction_id: transactionId.slice(0, 191) })
      .orderBy('id', 'desc')
      .first()) as TransactionRow | undefined;
    return r && fromRow(r);
  }

  /** Whether a request of one of these profiles was answered with this certificate. */
  async issuedIn(profiles: string[], serial: string): Promise<boolean> {
    return (await this.db('scep_transactions').whereIn('profile', profiles).where({ serial }).first()) !== undefined;
  }

  async get(id: number): Promise<ScepTransaction | undefined> {
    const r = (await this.db<TransactionRow>('scep_transactions').where({ id }).first()) as TransactionRow | undefined;
    return r && fromRow(r);
  }

  /** false when another request took this transactionID first. */
  async insert(target: SqlTarget, t: NewTransaction, now = Date.now()): Promise<boolean> {
    try {
      await sqlOf(target).run(INSERT, [
        t.profile,
        t.transactionId.slice(0, 191),
        t.renews,
        t.keySha256,
        t.messageType,
        t.status,
        t.failInfo ?? null,
        t.reason ?? null,
        t.serial ?? null,
        t.subject.slice(0, 512),
        t.csr ?? null,
        t.csrSealed ?? null,
        t.kekId ?? null,
        now,
        now,
      ]);
      return true;
    } catch (err) {
      if (isUniqueViolation(err)) return false;
      throw err;
    }
  }

  /** Settles a pending transaction; false when it was no longer pending. */
  async decide(
    trx: KnexTarget,
    id: number,
    d: { status: 'issued' | 'rejected'; serial?: string; failInfo?: string; reason?: string | null; decidedBy: string },
    now = Date.now(),
  ): Promise<boolean> {
    const n = await trx('scep_transactions')
      .where({ id, status: 'pending' })
      .update({
        status: d.status,
        serial: d.serial ?? null,
        fail_info: d.failInfo ?? null,
        reason: d.reason ?? null,
        decided_by: d.decidedBy,
        csr: null,
        csr_sealed: null,
        kek_id: null,
        updated_at: now,
      });
    return n === 1;
  }

  /** Pending requests sealed under a master key other than `kekId` (master-key rotation). */
  async sealedUnder(notKekId: string): Promise<Pick<ScepTransaction, 'id' | 'profile' | 'transactionId' | 'renews' | 'csrSealed' | 'kekId'>[]> {
    const rows = (await this.db<TransactionRow>('scep_transactions').whereNotNull('csr_sealed').whereNot({ kek_id: notKekId })) as TransactionRow[];
    return rows.map(fromRow);
  }

  async reseal(trx: Knex.Transaction, id: number, sealed: { csrSealed: string; kekId: string }): Promise<void> {
    await trx('scep_transactions').where({ id }).update({ csr_sealed: sealed.csrSealed, kek_id: sealed.kekId });
  }

  async list(filter: { status?: ScepStatus; profile?: string; limit?: number }): Promise<ScepTransaction[]> {
    const q = this.db<TransactionRow>('scep_transactions')
      .orderBy('id', 'desc')
      .limit(Math.min(filter.limit ?? 100, 1000));
    if (filter.status) q.where({ status: filter.status });
    if (filter.profile) q.where({ profile: filter.profile });
    return ((await q) as TransactionRow[]).map(fromRow);
  }
}

export interface ChallengeRow {
  id: number;
  profile: string;
  binding: Record<string, string> | null;
  /** The binding is the whole subject. */
  exact: boolean;
  expiresAt: number;
}

export class ScepChallengeRepository {
  constructor(private readonly db: Db) {}

  async add(
    c: { profile: string; digest: string; binding: Record<string, string> | null; exact: boolean; createdBy: string; expiresAt: number },
    now = Date.now(),
    trx: KnexTarget = this.db,
  ): Promise<void> {
    await trx('scep_challenges').insert({
      profile: c.profile,
      digest: c.digest,
      binding: c.binding ? JSON.stringify(c.binding) : null,
      binding_exact: c.exact,
      created_by: c.createdBy,
      created_at: now,
      expires_at: c.expiresAt,
    });
  }

  /** Marks every unused challenge `createdBy` made for the profile used: none of them works any more. */
  async retire(trx: KnexTarget, profile: string, createdBy: string, now = Date.now()): Promise<number> {
    return trx('scep_challenges').where({ profile, created_by: createdBy }).whereNull('used_at').update({ used_at: now });
  }

  /** Marks an unused, unexpired challenge used and returns it; undefined when there is none (or it lost a race). */
  async consume(profile: string, digest: string, now = Date.now()): Promise<ChallengeRow | undefined> {
    return this.db.transaction(async (trx) => {
      const r = (await trx('scep_challenges').where({ profile, digest }).whereNull('used_at').where('expires_at', '>', now).first()) as
        | { id: number; profile: string; binding: string | null; binding_exact: number | boolean; expires_at: number }
        | undefined;
      if (!r) return undefined;
      const n = await trx('scep_challenges').where({ id: r.id }).whereNull('used_at').update({ used_at: now });
      if (n !== 1) return undefined;
      const binding = r.binding ? (JSON.parse(r.binding) as Record<string, string>) : null;
      return { id: Number(r.id), profile: r.profile, binding, exact: Boolean(r.binding_exact), expiresAt: Number(r.expires_at) };
    });
  }
}
