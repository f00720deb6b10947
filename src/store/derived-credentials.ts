/**
 * PIV cards and the derived credentials (mobile IDs) made from them. A card
 * is its PIV Authentication certificate: issuer and serial, fingerprint,
 * and whether its card management system reported it cancelled. Each
 * derived credential is a mobile ID plus the card it was derived from and
 * when its holder should derive anew.
 */
import type { Knex } from 'knex';
import type { Db } from './db.js';
import type { MobileIdStatus } from './mobile-ids.js';
import type { KnexTarget } from './sql.js';

export type PivCardStatus = 'active' | 'cancelled';

export interface PivCardRecord {
  id: string;
  issuer: string;
  serial: string;
  fingerprint: string | null;
  subject: string | null;
  notAfter: number | null;
  userId: string | null;
  status: PivCardStatus;
  cancelReason: string | null;
  cancelledBy: string | null;
  cancelledAt: number | null;
  createdAt: number;
  updatedAt: number;
}

interface CardRow {
  id: string;
  issuer: string;
  serial: string;
  fingerprint: string | null;
  subject: string | null;
  not_after: number | null;
  user_id: string | null;
  status: PivCardStatus;
  cancel_reason: string | null;
  cancelled_by: string | null;
  cancelled_at: number | null;
  created_at: number;
  updated_at: number;
}

const num = (v: number | null): number | null => (v === null ? null : Number(v));

const cardFromRow = (r: CardRow): PivCardRecord => ({
  id: r.id,
  issuer: r.issuer,
  serial: r.serial,
  fingerprint: r.fingerprint,
  subject: r.subject,
  notAfter: num(r.not_after),
  userId: r.user_id,
  status: r.status,
  cancelReason: r.cancel_reason,
  cancelledBy: r.cancelled_by,
  cancelledAt: num(r.cancelled_at),
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

/** A derived credential with the state of its mobile ID. */
export interface DerivedCredential {
  mobileId: string;
  cardId: string;
  userId: string;
  credentialProfile: string;
  status: MobileIdStatus;
  /** The derived credential this one supersedes once it is issued. */
  replaces: string | null;
  deviceId: string | null;
  /** Of the open request. */
  expiresAt: number;
  notAfter: number | null;
  issuedAt: number | null;
  rederiveAt: number | null;
  rederiveNoticeAt: number | null;
  createdAt: number;
  updatedAt: number;
}

interface DerivedRow {
  mobile_id: string;
  card_id: string;
  user_id: string;
  credential_profile: string;
  status: MobileIdStatus;
  replaces: string | null;
  device_id: string | null;
  expires_at: number;
  not_after: number | null;
  issued_at: number | null;
  rederive_at: number | null;
  rederive_notice_at: number | null;
  created_at: number;
  updated_at: number;
}

const derivedFromRow = (r: DerivedRow): DerivedCredential => ({
  mobileId: r.mobile_id,
  cardId: r.card_id,
  userId: r.user_id,
  credentialProfile: r.credential_profile,
  status: r.status,
  replaces: r.replaces,
  deviceId: r.device_id,
  expiresAt: Number(r.expires_at),
  notAfter: num(r.not_after),
  issuedAt: num(r.issued_at),
  rederiveAt: num(r.rederive_at),
  rederiveNoticeAt: num(r.rederive_notice_at),
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

export type NewPivCard = Pick<PivCardRecord, 'id' | 'issuer' | 'serial' | 'fingerprint' | 'subject' | 'notAfter' | 'userId' | 'status'>;

export class DerivedCredentialRepository {
  constructor(private readonly db: Db) {}

  // ---- cards

  async insertCard(trx: KnexTarget, c: NewPivCard, now = Date.now()): Promise<void> {
    await trx('piv_cards').insert({
      id: c.id,
      issuer: c.issuer,
      serial: c.serial,
      fingerprint: c.fingerprint,
      subject: c.subject,
      not_after: c.notAfter,
      user_id: c.userId,
      status: c.status,
      created_at: now,
      updated_at: now,
    });
  }

  async card(id: string, trx: KnexTarget = this.db): Promise<PivCardRecord | undefined> {
    const r = (await trx<CardRow>('piv_cards').where({ id }).first()) as CardRow | undefined;
    return r && cardFromRow(r);
  }

  async cardByFingerprint(fingerprint: string, trx: KnexTarget = this.db): Promise<PivCardRecord | undefined> {
    const r = (await trx<CardRow>('piv_cards').where({ fingerprint }).first()) as CardRow | undefined;
    return r && cardFromRow(r);
  }

  /** Cards with this certificate serial; the caller compares issuers. */
  async cardsBySerial(serial: string, trx: KnexTarget = this.db): Promise<PivCardRecord[]> {
    return ((await trx<CardRow>('piv_cards').where({ serial }).orderBy('created_at')) as CardRow[]).map(cardFromRow);
  }

  /** Fills in what a card reported by issuer and serial lacked once its certificate is seen. */
  async completeCard(trx: KnexTarget, id: string, c: Pick<PivCardRecord, 'fingerprint' | 'subject' | 'notAfter' | 'userId'>, now = Date.now()): Promise<void> {
    await trx('piv_cards').where({ id }).update({ fingerprint: c.fingerprint, subject: c.subject, not_after: c.notAfter, user_id: c.userId, updated_at: now });
  }

  /** Marks an active card cancelled; false when it already was. */
  async cancelCard(trx: KnexTarget, id: string, reason: string, by: string, now = Date.now()): Promise<boolean> {
    const n = await trx('piv_cards')
      .where({ id, status: 'active' })
      .update({ status: 'cancelled', cancel_reason: reason, cancelled_by: by, cancelled_at: now, updated_at: now });
    return n === 1;
  }

  // ---- derived credentials

  async insert(trx: KnexTarget, d: { mobileId: string; cardId: string; userId: string }, now = Date.now()): Promise<void> {
    await trx('derived_credentials').insert({ mobile_id: d.mobileId, card_id: d.cardId, user_id: d.userId, created_at: now });
  }

  private joined(trx: KnexTarget = this.db): Knex.QueryBuilder {
    return trx('derived_credentials as d')
      .join('mobile_ids as m', 'm.id', 'd.mobile_id')
      .select(
        'd.mobile_id',
        'd.card_id',
        'd.user_id',
        'd.rederive_at',
        'd.rederive_notice_at',
        'd.created_at',
        'm.credential_profile',
        'm.status',
        'm.replaces',
        'm.device_id',
        'm.expires_at',
        'm.not_after',
        'm.issued_at',
        'm.updated_at',
      );
  }

  async get(mobileId: string, trx: KnexTarget = this.db): Promise<DerivedCredential | undefined> {
    const r = (await this.joined(trx).where('d.mobile_id', mobileId).first()) as DerivedRow | undefined;
    return r && derivedFromRow(r);
  }

  /** Newest first. */
  async list(filter: { cardId?: string; userId?: string; limit?: number }, trx: KnexTarget = this.db): Promise<DerivedCredential[]> {
    const q = this.joined(trx)
      .orderBy('d.created_at', 'desc')
      .orderBy('d.mobile_id')
      .limit(Math.min(filter.limit ?? 100, 1000));
    if (filter.cardId) q.where('d.card_id', filter.cardId);
    if (filter.userId) q.where('d.user_id', filter.userId);
    return ((await q) as DerivedRow[]).map(derivedFromRow);
  }

  /** Requests made from a card since `since`: what the per-card rate limit counts. */
  async countSince(cardId: string, since: number): Promise<number> {
    const r = (await this.db('derived_credentials').where({ card_id: cardId }).where('created_at', '>=', since).count({ n: '*' }).first()) as
      | { n: number | string }
      | undefined;
    return Number(r?.n ?? 0);
  }

  /**
   * Issued derived credentials with work left: the one they replace is still
   * in force, or their re-derive date is not set yet.
   */
  async unsettled(limit = 500): Promise<DerivedCredential[]> {
    const rows = (await this.joined()
      .leftJoin('mobile_ids as old', 'old.id', 'm.replaces')
      .where('m.status', 'issued')
      .where((w) => w.whereIn('old.status', ['issued', 'disabled']).orWhereNull('d.rederive_at'))
      .orderBy('d.created_at')
      .limit(limit)) as DerivedRow[];
    return rows.map(derivedFromRow);
  }

  async setRederiveAt(trx: KnexTarget, mobileId: string, at: number): Promise<void> {
    await trx('derived_credentials').where({ mobile_id: mobileId }).update({ rederive_at: at });
  }

  /** Issued derived credentials past their re-derive date whose holder was not told yet. */
  async dueForRederiveNotice(now: number, limit = 500): Promise<DerivedCredential[]> {
    const rows = (await this.joined()
      .where('m.status', 'issued')
      .whereNull('d.rederive_notice_at')
      .where('d.rederive_at', '<=', now)
      .orderBy('d.rederive_at')
      .limit(limit)) as DerivedRow[];
    return rows.map(derivedFromRow);
  }

  async markRederiveNotice(trx: KnexTarget, mobileId: string, now = Date.now()): Promise<boolean> {
    return (await trx('derived_credentials').where({ mobile_id: mobileId }).whereNull('rederive_notice_at').update({ rederive_notice_at: now })) === 1;
  }
}
