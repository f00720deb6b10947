/**
 * Mobile IDs: a request for one person and credential profile, its one-time
 * code (an HMAC, cleared once used), and after collection the device and
 * certificates it put there. Status changes are conditional updates, so two
 * racing callers cannot both win.
 */
import type { Db } from './db.js';
import { whereVisible, type PeopleScope } from './people.js';
import type { KnexTarget } from './sql.js';

export const MOBILE_ID_STATUSES = ['awaiting-validation', 'ready', 'collecting', 'issued', 'disabled', 'cancelled', 'locked'] as const;
export type MobileIdStatus = (typeof MOBILE_ID_STATUSES)[number];

export interface MobileId {
  id: string;
  userId: string;
  credentialProfile: string;
  status: MobileIdStatus;
  failedAttempts: number;
  /** Wrong codes given with the user name: they never lock; past the limit the request no longer opens by user name. */
  failedNameAttempts: number;
  requestedBy: string;
  validatedBy: string | null;
  deviceId: string | null;
  /** Certificates issued for this mobile ID (cancel revokes them). */
  serials: string[];
  replaces: string | null;
  expiresAt: number;
  notAfter: number | null;
  renewalNoticeAt: number | null;
  issuedAt: number | null;
  createdAt: number;
  updatedAt: number;
}

interface Row {
  id: string;
  user_id: string;
  credential_profile: string;
  status: MobileIdStatus;
  code_digest: string | null;
  failed_attempts: number;
  failed_name_attempts: number;
  requested_by: string;
  validated_by: string | null;
  device_id: string | null;
  serials: string | null;
  replaces: string | null;
  expires_at: number;
  not_after: number | null;
  renewal_notice_at: number | null;
  issued_at: number | null;
  created_at: number;
  updated_at: number;
}

const num = (v: number | null): number | null => (v === null ? null : Number(v));

const fromRow = (r: Row): MobileId => ({
  id: r.id,
  userId: r.user_id,
  credentialProfile: r.credential_profile,
  status: r.status,
  failedAttempts: Number(r.failed_attempts),
  failedNameAttempts: Number(r.failed_name_attempts),
  requestedBy: r.requested_by,
  validatedBy: r.validated_by,
  deviceId: r.device_id,
  serials: r.serials ? (JSON.parse(r.serials) as string[]) : [],
  replaces: r.replaces,
  expiresAt: Number(r.expires_at),
  notAfter: num(r.not_after),
  renewalNoticeAt: num(r.renewal_notice_at),
  issuedAt: num(r.issued_at),
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

/** What trying a code by user name needs of a request. */
export interface UsableCode {
  id: string;
  credentialProfile: string;
  codeDigest: string;
  failedNameAttempts: number;
}

export interface NewMobileId {
  id: string;
  userId: string;
  credentialProfile: string;
  status: 'awaiting-validation' | 'ready';
  codeDigest: string | null;
  requestedBy: string;
  replaces: string | null;
  expiresAt: number;
}

export class MobileIdRepository {
  constructor(private readonly db: Db) {}

  async insert(trx: KnexTarget, m: NewMobileId, now = Date.now()): Promise<void> {
    await trx('mobile_ids').insert({
      id: m.id,
      user_id: m.userId,
      credential_profile: m.credentialProfile,
      status: m.status,
      code_digest: m.codeDigest,
      failed_attempts: 0,
      requested_by: m.requestedBy,
      replaces: m.replaces,
      expires_at: m.expiresAt,
      created_at: now,
      updated_at: now,
    });
  }

  /** With a scope: only a mobile ID of a visible person, found by the one query either way. */
  async get(id: string, trx: KnexTarget = this.db, scope?: PeopleScope): Promise<MobileId | undefined> {
    const r = (await whereVisible(trx<Row>('mobile_ids').where({ id }), scope, 'user_id').first()) as Row | undefined;
    return r && fromRow(r);
  }

  /** The stored code HMAC of a request whose code is usable now. */
  async codeDigest(id: string, now = Date.now()): Promise<string | undefined> {
    const r = (await this.db('mobile_ids').select('code_digest').where({ id, status: 'ready' }).where('expires_at', '>', now).first()) as
      | { code_digest: string | null }
      | undefined;
    return r?.code_digest ?? undefined;
  }

  /**
   * A person's requests whose code is usable now, newest first: one query
   * whether or not the person exists or has any, so the time it takes tells
   * a caller nothing.
   */
  async usableCodes(userId: string, now = Date.now()): Promise<UsableCode[]> {
    const rows = (await this.db('mobile_ids')
      .select('id', 'credential_profile', 'code_digest', 'failed_name_attempts')
      .where({ user_id: userId, status: 'ready' })
      .where('expires_at', '>', now)
      .whereNotNull('code_digest')
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .limit(20)) as Pick<Row, 'id' | 'credential_profile' | 'code_digest' | 'failed_name_attempts'>[];
    return rows.map((r) => ({
      id: r.id,
      credentialProfile: r.credential_profile,
      codeDigest: r.code_digest!,
      failedNameAttempts: Number(r.failed_name_attempts),
    }));
  }

  async list(filter: { userId?: string; status?: MobileIdStatus; deviceId?: string; limit?: number } = {}, scope?: PeopleScope): Promise<MobileId[]> {
    const q = whereVisible(this.db<Row>('mobile_ids'), scope, 'user_id')
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .limit(Math.min(filter.limit ?? 100, 1000));
    if (filter.userId) q.where({ user_id: filter.userId });
    if (filter.status) q.where({ status: filter.status });
    if (filter.deviceId) q.where({ device_id: filter.deviceId });
    return ((await q) as Row[]).map(fromRow);
  }

  /** Moves between statuses; false when it was not in `from` (someone else changed it first). */
  async transition(
    trx: KnexTarget,
    id: string,
    from: MobileIdStatus[],
    to: MobileIdStatus,
    set: Partial<{ codeDigest: string | null; validatedBy: string; issuedAt: number }> = {},
    now = Date.now(),
  ): Promise<boolean> {
    const n = await trx('mobile_ids')
      .where({ id })
      .whereIn('status', from)
      .update({
        status: to,
        ...(set.codeDigest !== undefined && { code_digest: set.codeDigest }),
        ...(set.validatedBy !== undefined && { validated_by: set.validatedBy }),
        ...(set.issuedAt !== undefined && { issued_at: set.issuedAt }),
        updated_at: now,
      });
    return n === 1;
  }

  /**
   * Counts a wrong code; the attempt that reaches `max` locks the request.
   * Conditional updates, so concurrent guesses cannot slip past the limit and
   * exactly one of them reports the lock.
   */
  async recordWrongCode(id: string, max: number, now = Date.now()): Promise<{ attempts: number; locked: boolean } | undefined> {
    const counted = await this.db('mobile_ids')
      .where({ id, status: 'ready' })
      .where('failed_attempts', '<', max - 1)
      .update({ failed_attempts: this.db.raw('failed_attempts + 1'), updated_at: now });
    if (counted === 1) return { attempts: (await this.get(id))!.failedAttempts, locked: false };
    const locked = await this.db('mobile_ids')
      .where({ id, status: 'ready', failed_attempts: max - 1 })
      .update({ status: 'locked', failed_attempts: max, updated_at: now });
    return locked === 1 ? { attempts: max, locked: true } : undefined;
  }

  /**
   * Counts a wrong code given with the user name against each of the
   * person's usable requests, up to `max` each. Never locks: anyone may know
   * a user name. One statement whether or not anything is counted.
   */
  async recordWrongNameCode(userId: string, max: number, now = Date.now()): Promise<number> {
    return this.db('mobile_ids')
      .where({ user_id: userId, status: 'ready' })
      .where('expires_at', '>', now)
      .where('failed_name_attempts', '<', max)
      .update({ failed_name_attempts: this.db.raw('failed_name_attempts + 1'), updated_at: now });
  }

  /** Takes a ready request for one device: the code is cleared, so it works once. */
  async claim(trx: KnexTarget, id: string, deviceId: string, now = Date.now()): Promise<boolean> {
    const n = await trx('mobile_ids')
      .where({ id, status: 'ready' })
      .where('expires_at', '>', now)
      .update({ status: 'collecting', code_digest: null, device_id: deviceId, updated_at: now });
    return n === 1;
  }

  /** Records the certificates a collection issued; false when the mobile ID stopped collecting meanwhile (cancelled). */
  async recordIssued(trx: KnexTarget, id: string, serials: string[], notAfter: number | null, now = Date.now()): Promise<boolean> {
    return (
      (await trx('mobile_ids')
        .where({ id, status: 'collecting' })
        .update({ serials: JSON.stringify(serials), not_after: notAfter, updated_at: now })) === 1
    );
  }

  /** Issued mobile IDs whose first certificate expires before `before` and that were not told yet, except those of `exceptProfiles`. */
  async dueForRenewalNotice(before: number, exceptProfiles: string[] = [], limit = 500): Promise<MobileId[]> {
    const q = this.db<Row>('mobile_ids')
      .where({ status: 'issued' })
      .whereNull('renewal_notice_at')
      .where('not_after', '<', before)
      .orderBy('not_after')
      .limit(limit);
    if (exceptProfiles.length > 0) q.whereNotIn('credential_profile', exceptProfiles);
    const rows = (await q) as Row[];
    return rows.map(fromRow);
  }

  async markRenewalNotice(trx: KnexTarget, id: string, now = Date.now()): Promise<boolean> {
    return (await trx('mobile_ids').where({ id }).whereNull('renewal_notice_at').update({ renewal_notice_at: now, updated_at: now })) === 1;
  }
}
