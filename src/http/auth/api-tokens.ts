/**
 * Issuing and revoking admin API bearer tokens for operators: only roles
 * that mean something (roles.ts), a bounded lifetime unless "never" is
 * asked for, and an audit row for each, written with the change. The audit
 * row names the token by id, never by its secret.
 */
import { durationMs } from '../../config/duration.js';
import { duration } from '../../config/schema.js';
import type { AuditRepository } from '../../store/audit.js';
import type { Db } from '../../store/db.js';
import type { ApiToken, TokenRepository } from '../../store/tokens.js';

/** Lifetime of a token when none is asked for. */
export const DEFAULT_TOKEN_LIFETIME = '90d';
/** Asks for a token that works until revoked. */
export const NEVER = 'never';

/** A request an operator can fix: `field` is the input at fault, the message (which follows its name) says how. */
export class TokenError extends Error {
  constructor(
    readonly field: 'name' | 'roles' | 'lifetime',
    message: string,
  ) {
    super(message);
  }
}

export class ApiTokens {
  constructor(
    private readonly deps: {
      db: Db;
      tokens: TokenRepository;
      audit: AuditRepository;
      /** The roles a token may carry (roles.ts, grantableRoles). */
      grantable: readonly string[];
    },
  ) {}

  /** Creates a token; returns its secret, to show once. `lifetime` is a duration ("90d", "12h") or "never". */
  async create(input: { name: string; roles: string[]; lifetime?: string; actor: string }, now = Date.now()): Promise<{ token: string; record: ApiToken }> {
    const name = input.name.trim();
    if (name.length === 0 || name.length > 128) throw new TokenError('name', 'must be 1 to 128 characters');
    const unknown = input.roles.filter((r) => !this.deps.grantable.includes(r));
    if (unknown.length > 0) {
      throw new TokenError(
        'roles',
        `must be one of ${this.deps.grantable.join(', ')}; ${unknown.map((r) => JSON.stringify(r)).join(', ')} ${unknown.length > 1 ? 'are' : 'is'} no role`,
      );
    }
    const lifetime = input.lifetime ?? DEFAULT_TOKEN_LIFETIME;
    if (lifetime !== NEVER && (!duration.safeParse(lifetime).success || durationMs(lifetime) <= 0)) {
      throw new TokenError('lifetime', `must be a duration such as 90d or 12h, or "${NEVER}", got ${JSON.stringify(lifetime)}`);
    }
    const roles = [...new Set(input.roles)];
    const expiresAt = lifetime === NEVER ? null : now + durationMs(lifetime);
    return this.deps.db.transaction(async (trx) => {
      const created = await this.deps.tokens.create({ name, roles, expiresAt }, trx);
      await this.deps.audit.append(
        trx,
        { actor: input.actor, action: 'token.create', subjectType: 'api-token', subjectId: created.record.id, detail: { name, roles, expiresAt } },
        now,
      );
      return created;
    });
  }

  /** Revokes a live token; false when there is none with this id. */
  async revoke(id: string, actor: string, now = Date.now()): Promise<boolean> {
    return this.deps.db.transaction(async (trx) => {
      if (!(await this.deps.tokens.revoke(id, now, trx))) return false;
      const token = await this.deps.tokens.get(id, trx);
      await this.deps.audit.append(trx, { actor, action: 'token.revoke', subjectType: 'api-token', subjectId: id, detail: { name: token?.name } }, now);
      return true;
    });
  }
}
