/**
 * Admin API bearer tokens. Only a SHA-256 of each token is stored: tokens are
 * 256-bit random values, so a plain hash is enough and lookups stay O(1).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Db } from './db.js';
import type { KnexTarget } from './sql.js';

export interface ApiToken {
  id: string;
  name: string;
  roles: string[];
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

interface Row {
  id: string;
  name: string;
  token_hash: string;
  roles: string;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
}

const TOKEN_PREFIX = 'cgt_';
const TOUCH_INTERVAL_MS = 60_000;

export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');

const fromRow = (r: Row): ApiToken => ({
  id: r.id,
  name: r.name,
  roles: JSON.parse(r.roles) as string[],
  createdAt: Number(r.created_at),
  expiresAt: r.expires_at === null ? null : Number(r.expires_at),
  lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at),
  revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
});

export class TokenRepository {
  constructor(private readonly db: Db) {}

  /**
   * Creates a token and returns its secret; the secret is not kept and cannot be shown again.
   * Operators' tokens come through src/http/auth/api-tokens.ts, which checks and audits them.
   */
  async create(input: { name: string; roles: string[]; expiresAt?: number | null }, trx: KnexTarget = this.db): Promise<{ token: string; record: ApiToken }> {
    const id = randomBytes(8).toString('hex');
    const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const row: Row = {
      id,
      name: input.name,
      token_hash: hashToken(token),
      roles: JSON.stringify(input.roles),
      created_at: Date.now(),
      expires_at: input.expiresAt ?? null,
      last_used_at: null,
      revoked_at: null,
    };
    await trx('api_tokens').insert(row);
    return { token, record: fromRow(row) };
  }

  /** The live token with this secret, or undefined when unknown, expired or revoked. */
  async verify(token: string, now = Date.now()): Promise<ApiToken | undefined> {
    if (!token.startsWith(TOKEN_PREFIX)) return undefined;
    const row = (await this.db<Row>('api_tokens')
      .where({ token_hash: hashToken(token) })
      .first()) as Row | undefined;
    if (!row) return undefined;
    const record = fromRow(row);
    if (record.revokedAt !== null || (record.expiresAt !== null && record.expiresAt <= now)) return undefined;
    if (record.lastUsedAt === null || now - record.lastUsedAt > TOUCH_INTERVAL_MS) {
      await this.db('api_tokens').where({ id: record.id }).update({ last_used_at: now });
    }
    return record;
  }

  async list(): Promise<ApiToken[]> {
    return ((await this.db<Row>('api_tokens').orderBy('created_at')) as Row[]).map(fromRow);
  }

  async get(id: string, trx: KnexTarget = this.db): Promise<ApiToken | undefined> {
    const row = (await trx<Row>('api_tokens').where({ id }).first()) as Row | undefined;
    return row && fromRow(row);
  }

  async revoke(id: string, now = Date.now(), trx: KnexTarget = this.db): Promise<boolean> {
    return (await trx('api_tokens').where({ id }).whereNull('revoked_at').update({ revoked_at: now })) > 0;
  }
}
