/**
 * Issuing and revoking admin API tokens, against the embedded SQLite and a
 * real MariaDB: roles checked, lifetimes bounded, every change audited
 * without the token.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApiTokens, TokenError } from '../../src/http/auth/api-tokens.js';
import { API_ROLES, grantableRoles } from '../../src/http/auth/roles.js';
import { AuditRepository } from '../../src/store/audit.js';
import type { Db } from '../../src/store/db.js';
import { TokenRepository } from '../../src/store/tokens.js';
import { openMigrated, STORE_BACKENDS } from '../helpers/mariadb.js';

const DAY = 86_400_000;

test('grantable roles: those the guards check, then those credential profiles name, "*" not a role', () => {
  const profiles = {
    smime: { roles: { request: ['admin', 'helpdesk'], receive: ['*'], validate: ['admin'], collect: ['*'], unlock: ['helpdesk', 'security'] } },
  };
  assert.deepEqual(grantableRoles(profiles), [...API_ROLES, 'helpdesk', 'security']);
  assert.deepEqual(API_ROLES, ['admin', 'key-recovery', 'card-management']);
});

for (const backend of STORE_BACKENDS) {
  describe(`API tokens on ${backend.name}`, () => {
    let db: Db;
    let close: () => Promise<void>;
    let repo: TokenRepository;
    let audit: AuditRepository;
    let tokens: ApiTokens;
    const actor = 'cli:operator';

    before(async () => {
      ({ db, close } = await openMigrated(backend));
      repo = new TokenRepository(db);
      audit = new AuditRepository(db);
      tokens = new ApiTokens({ db, tokens: repo, audit, grantable: [...API_ROLES, 'helpdesk'] });
    });
    after(async () => {
      await close();
    });

    test('an unknown role, a bad lifetime or name is refused and nothing is stored or audited', async () => {
      const refused: [Parameters<ApiTokens['create']>[0], TokenError['field'], RegExp][] = [
        [{ name: 'reader', roles: ['auditor'], actor }, 'roles', /^must be one of admin, key-recovery, card-management, helpdesk; "auditor" is no role$/],
        [{ name: 'reader', roles: ['admin', 'Admin', 'root'], actor }, 'roles', /"Admin", "root" are no role$/],
        [{ name: 'reader', roles: [], lifetime: 'forever', actor }, 'lifetime', /^must be a duration such as 90d or 12h, or "never", got "forever"$/],
        [{ name: 'reader', roles: [], lifetime: '0d', actor }, 'lifetime', /must be a duration/],
        [{ name: ' ', roles: [], actor }, 'name', /^must be 1 to 128 characters$/],
        [{ name: 'x'.repeat(129), roles: [], actor }, 'name', /^must be 1 to 128 characters$/],
      ];
      for (const [input, field, message] of refused) {
        await assert.rejects(
          tokens.create(input),
          (err: unknown) => err instanceof TokenError && err.field === field && message.test(err.message),
          JSON.stringify(input),
        );
      }
      assert.deepEqual(await repo.list(), []);
      assert.deepEqual(await audit.list({ subjectType: 'api-token' }), []);
    });

    test('90 days by default, "never" only when asked for; expired tokens are refused', async () => {
      const now = Date.now();
      const { token, record } = await tokens.create({ name: 'ops', roles: ['admin'], actor }, now);
      assert.equal(record.expiresAt, now + 90 * DAY);
      assert.ok(await repo.verify(token, now + 90 * DAY - 1));
      assert.equal(await repo.verify(token, now + 90 * DAY), undefined);
      const short = await tokens.create({ name: 'ci', roles: ['helpdesk'], lifetime: '12h', actor }, now);
      assert.equal(short.record.expiresAt, now + 12 * 3_600_000);
      const forever = await tokens.create({ name: 'forever', roles: [], lifetime: 'never', actor }, now);
      assert.equal(forever.record.expiresAt, null);
      assert.ok(await repo.verify(forever.token, now + 3650 * DAY));
    });

    test('creating and revoking are audited with the actor, never with the token', async () => {
      const { token, record } = await tokens.create({ name: 'audited', roles: ['card-management', 'card-management'], lifetime: '30d', actor });
      assert.deepEqual(record.roles, ['card-management']);
      assert.equal(await tokens.revoke(record.id, 'cli:someone-else'), true);
      assert.equal(await tokens.revoke(record.id, 'cli:someone-else'), false, 'revoked once');
      assert.equal(await tokens.revoke('no-such-id', actor), false);
      assert.equal(await repo.verify(token), undefined);
      const rows = await audit.list({ subjectType: 'api-token', subjectId: record.id });
      assert.deepEqual(
        rows.map((r) => [r.action, r.actor, r.detail]),
        [
          ['token.revoke', 'cli:someone-else', { name: 'audited' }],
          ['token.create', actor, { name: 'audited', roles: ['card-management'], expiresAt: record.expiresAt }],
        ],
      );
      const everything = JSON.stringify(await db('audit').select('*'));
      assert.ok(!everything.includes(token.slice(4)), 'not the token');
      assert.ok(!everything.includes((await db('api_tokens').where({ id: record.id }).first()).token_hash), 'nor its hash');
    });
  });
}
