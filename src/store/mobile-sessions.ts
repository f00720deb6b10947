/** Identity Agent sessions: a token (kept as an HMAC) for one device collecting one mobile ID. */
import type { Db } from './db.js';
import type { KnexTarget } from './sql.js';

export interface MobileSession {
  id: string;
  mobileId: string;
  deviceId: string;
  keyStores: string[];
  createdAt: number;
  expiresAt: number;
  fetchedAt: number | null;
  endedAt: number | null;
}

interface Row {
  id: string;
  token_digest: string;
  mobile_id: string;
  device_id: string;
  key_stores: string;
  created_at: number;
  expires_at: number;
  fetched_at: number | null;
  ended_at: number | null;
}

const fromRow = (r: Row): MobileSession => ({
  id: r.id,
  mobileId: r.mobile_id,
  deviceId: r.device_id,
  keyStores: JSON.parse(r.key_stores) as string[],
  createdAt: Number(r.created_at),
  expiresAt: Number(r.expires_at),
  fetchedAt: r.fetched_at === null ? null : Number(r.fetched_at),
  endedAt: r.ended_at === null ? null : Number(r.ended_at),
});

export class MobileSessionRepository {
  constructor(private readonly db: Db) {}

  async insert(
    trx: KnexTarget,
    s: { id: string; tokenDigest: string; mobileId: string; deviceId: string; keyStores: string[]; expiresAt: number },
    now = Date.now(),
  ): Promise<void> {
    await trx('mobile_sessions').insert({
      id: s.id,
      token_digest: s.tokenDigest,
      mobile_id: s.mobileId,
      device_id: s.deviceId,
      key_stores: JSON.stringify(s.keyStores),
      created_at: now,
      expires_at: s.expiresAt,
    });
  }

  /** The session a token opens while it has neither ended nor expired. */
  async active(tokenDigest: string, now = Date.now()): Promise<MobileSession | undefined> {
    const r = (await this.db<Row>('mobile_sessions').where({ token_digest: tokenDigest }).whereNull('ended_at').where('expires_at', '>', now).first()) as
      | Row
      | undefined;
    return r && fromRow(r);
  }

  async countActive(now = Date.now()): Promise<number> {
    const r = (await this.db('mobile_sessions').whereNull('ended_at').where('expires_at', '>', now).count({ n: '*' }).first()) as { n: number | string };
    return Number(r.n);
  }

  /** Marks the credentials delivered; false if they already were (one delivery per session). */
  async markFetched(trx: KnexTarget, id: string, now = Date.now()): Promise<boolean> {
    return (await trx('mobile_sessions').where({ id }).whereNull('fetched_at').whereNull('ended_at').update({ fetched_at: now })) === 1;
  }

  /** Gives a failed delivery back, so the session may fetch again. */
  async releaseFetch(id: string): Promise<void> {
    await this.db('mobile_sessions').where({ id }).update({ fetched_at: null });
  }

  async end(trx: KnexTarget, id: string, now = Date.now()): Promise<boolean> {
    return (await trx('mobile_sessions').where({ id }).whereNull('ended_at').update({ ended_at: now })) === 1;
  }

  /** Ends every open session of a mobile ID (cancelled or replaced meanwhile). */
  async endFor(trx: KnexTarget, mobileId: string, now = Date.now()): Promise<void> {
    await trx('mobile_sessions').where({ mobile_id: mobileId }).whereNull('ended_at').update({ ended_at: now });
  }
}
