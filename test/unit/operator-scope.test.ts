/** The operator-scope rule (src/identity/scope.ts) on its own: scopes of roles, defaults, the widest wins, whom each scope sees. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configSchema } from '../../src/config/schema.js';
import { defaultRole, describeRoles, filterFor, OperatorScope, rightsRoles, sees } from '../../src/identity/scope.js';
import type { Person, PersonRepository } from '../../src/store/people.js';

const person = (id: string, groups: string[], roles: string[] = []): Person => ({
  id,
  userName: id,
  displayName: id,
  title: null,
  email: null,
  mobile: null,
  upn: null,
  groups,
  roles,
  createdAt: 0,
  updatedAt: 0,
});

const directory = (...people: Person[]) => ({ byUserName: async (name: string) => people.find((p) => p.userName === name) }) as unknown as PersonRepository;

const roles = configSchema.parse({
  auth: { roles: { helpdesk: { scope: 'groups', may: ['view-people', 'cancel'] }, guard: { may: ['view-people'] }, hr: { scope: 'all' } } },
}).auth.roles;

test('a role without a scope, or not listed, reaches only its holder; the built-in roles keep scope all', () => {
  assert.deepEqual(roles.guard, { scope: 'self', may: ['view-people'] });
  assert.deepEqual(defaultRole('teller'), { scope: 'self', may: [] });
  assert.deepEqual(defaultRole('admin'), { scope: 'all', may: ['view-people', 'edit-people', 'cancel', 'disable', 'replace'] });
  assert.deepEqual(defaultRole('key-recovery'), { scope: 'all', may: [] });
  assert.deepEqual(
    describeRoles(roles).map((r) => [r.role, r.scope, r.configured]),
    [
      ['helpdesk', 'groups', true],
      ['guard', 'self', true],
      ['hr', 'all', true],
      ['admin', 'all', false],
      ['key-recovery', 'all', false],
      ['card-management', 'all', false],
    ],
  );
  const narrowed = configSchema.parse({ auth: { roles: { admin: { scope: 'groups' } } } }).auth.roles;
  assert.equal(new OperatorScope({ people: directory(), roles: narrowed }).scopeOf(['admin']), 'groups', 'listing admin narrows it');
  assert.throws(() => configSchema.parse({ auth: { roles: { x: { scope: 'department' } } } }), /scope/);
  assert.throws(() => configSchema.parse({ auth: { roles: { x: { may: ['revoke-everything'] } } } }), /may/);
});

test('the widest scope among the roles wins; rights add up; guards learn which roles hold a right', () => {
  const scope = new OperatorScope({ people: directory(), roles });
  assert.equal(scope.scopeOf([]), 'self');
  assert.equal(scope.scopeOf(['guard', 'helpdesk']), 'groups');
  assert.equal(scope.scopeOf(['helpdesk', 'hr', 'guard']), 'all');
  assert.equal(scope.scopeOf(['teller']), 'self');
  assert.deepEqual([...scope.rightsOf(['guard', 'helpdesk'])].sort(), ['cancel', 'view-people']);
  assert.deepEqual(scope.rolesWith('view-people'), ['admin', 'helpdesk', 'guard']);
  assert.deepEqual(scope.rolesWith('replace'), ['admin']);
});

test('canSee: all sees everyone, groups those sharing a group (any case) and oneself, self oneself, no user record nobody', async () => {
  const ann = person('ann', ['Branch-A']);
  const amy = person('amy', ['branch-a', 'Sports']);
  const bob = person('bob', ['Branch-B']);
  const loner = person('loner', []);
  const scope = new OperatorScope({ people: directory(ann, amy, bob, loner, person('rec', ['Branch-B'], ['helpdesk'])), roles });
  const as = (name: string, r: string[]) => ({ actor: `bearer:${name}`, name, roles: r });
  const seen = async (viewer: ReturnType<typeof as>) =>
    (await Promise.all([ann, amy, bob, loner].map(async (p) => ((await scope.canSee(viewer, p)) ? p.id : null)))).filter(Boolean);

  assert.deepEqual(await seen(as('ann', ['helpdesk'])), ['ann', 'amy']);
  assert.deepEqual(await seen(as('ann', ['guard'])), ['ann']);
  assert.deepEqual(await seen(as('ann', ['hr'])), ['ann', 'amy', 'bob', 'loner']);
  assert.deepEqual(await seen(as('nobody', ['hr'])), ['ann', 'amy', 'bob', 'loner'], 'scope all needs no user record');
  assert.deepEqual(await seen(as('nobody', ['helpdesk'])), [], 'groups without a record: nobody');
  assert.deepEqual(await seen(as('nobody', ['guard'])), []);
  assert.deepEqual(await seen(as('loner', ['helpdesk'])), ['loner'], 'no groups: only oneself');
  assert.deepEqual(await seen(as('rec', [])), ['bob'], "the user record's roles count");
  assert.equal(await scope.canSee({ ...as('nobody', []), system: true } as never, bob), true, 'the gateway on its own account');
  assert.equal(await scope.seesAll(as('ann', ['helpdesk'])), false);
  assert.equal(await scope.seesAll(as('nobody', ['hr', 'guard'])), true);
});

test('the SQL filter says what the rule says', () => {
  const me = person('me', ['Branch-A', 'Sports']);
  assert.equal(filterFor('all', undefined), 'all');
  assert.deepEqual(filterFor('groups', me), { ids: ['me'], groups: ['Branch-A', 'Sports'] });
  assert.deepEqual(filterFor('self', me), { ids: ['me'], groups: [] });
  assert.deepEqual(filterFor('groups', undefined), { ids: [], groups: [] });
  assert.equal(sees({ scope: 'groups', person: me }, person('x', ['SPORTS'])), true);
  assert.equal(sees({ scope: 'self', person: me }, person('x', ['Sports'])), false);
});

test('built-in roles open routes only from the credential, never from the user record', () => {
  assert.deepEqual(rightsRoles(['helpdesk'], ['helpdesk', 'admin', 'key-recovery', 'hr']), ['helpdesk', 'hr']);
  assert.deepEqual(rightsRoles(['admin'], ['admin', 'hr']), ['admin', 'hr']);
});
