/**
 * Operator scope through the admin API, on SQLite and on MariaDB: each scope
 * (all, groups, self, and a caller without a user record) for each kind of
 * action on people, devices, mobile IDs and certificates. Someone out of
 * scope must be answered byte for byte as someone who does not exist (apart
 * from the request id, and the reference itself where the two cannot share
 * one), and listings must omit them with pages that stay full.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import request from 'supertest';
import { TokenRepository } from '../../src/store/tokens.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { freshMysqlDatabase, type TestDatabase } from '../helpers/mariadb.js';
import { tempDir } from '../helpers/tmp.js';

type Json = Record<string, unknown>;
interface Answer {
  status: number;
  type: string;
  body: string;
  json: Json;
}

const EVERY_RIGHT = ['view-people', 'edit-people', 'cancel', 'disable', 'replace'];

/** The answer as a client compares two: status, content type and the body without its request id. */
const comparable = (a: Answer, ref?: string, as = 'REF') => ({
  status: a.status,
  type: a.type,
  body: (ref ? a.body.split(ref).join(as) : a.body).replace(/"requestId":"[^"]*"/, '"requestId":""'),
});

for (const backend of ['sqlite', 'mariadb'] as const) {
  describe(`operator scope on ${backend}`, () => {
    let gw: TestGateway;
    let mysql: TestDatabase | undefined;
    let rootPem: Buffer;
    const token: Record<string, string> = {};
    const ids: Record<string, string> = {};

    const call = async (
      who: string,
      method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
      path: string,
      body?: unknown,
      type = 'application/json',
    ): Promise<Answer> => {
      const agent = request(gw.url);
      const verb = { GET: agent.get, POST: agent.post, PATCH: agent.patch, PUT: agent.put, DELETE: agent.delete }[method].bind(agent);
      let r = verb(`/api/v1${path}`).ca(rootPem).set('Authorization', `Bearer ${token[who]}`).buffer(true);
      if (body !== undefined) r = r.set('Content-Type', type).send(Buffer.isBuffer(body) ? body : typeof body === 'string' ? body : JSON.stringify(body));
      const res = await r;
      return { status: res.status, type: String(res.headers['content-type']), body: res.text, json: (res.body ?? {}) as Json };
    };
    const names = async (who: string, query = '') => {
      const r = await call(who, 'GET', `/users${query}`);
      assert.equal(r.status, 200, r.body);
      return (r.json.users as { userName: string }[]).map((u) => u.userName);
    };
    /** Asks about `name` before it exists and again once the administrator has made it someone out of the caller's scope: the answers must match. */
    const askedBeforeAndAfter = async (ask: () => Promise<Answer>, create: () => Promise<void>) => {
      const unknown = await ask();
      await create();
      const hidden = await ask();
      assert.deepEqual(comparable(hidden), comparable(unknown));
      assert.equal(hidden.body.length, unknown.body.length);
      return hidden;
    };
    /** A hidden thing and an unknown one of the same length: the same answer once each reference is masked. */
    const sameAsUnknown = (hidden: Answer, hiddenRef: string, unknown: Answer, unknownRef: string) => {
      assert.equal(hiddenRef.length, unknownRef.length);
      assert.equal(hidden.body.length, unknown.body.length, `${hidden.body} vs ${unknown.body}`);
      assert.deepEqual(comparable(hidden, hiddenRef), comparable(unknown, unknownRef));
    };
    const person = (userName: string, groups: string[], roles: string[] = []) => ({
      userName,
      displayName: userName.toUpperCase(),
      email: `${userName}@example.com`,
      groups,
      roles,
    });

    before(async () => {
      mysql = backend === 'mariadb' ? await freshMysqlDatabase() : undefined;
      const dir = tempDir();
      gw = await startTestGateway({
        dir,
        overrides: {
          ...(mysql && { database: { client: 'mysql', url: mysql.url, pool: { min: 0, max: 6 } } }),
          auth: {
            roles: {
              helpdesk: { scope: 'groups', may: EVERY_RIGHT },
              selfy: { scope: 'self', may: EVERY_RIGHT },
              auditor: { scope: 'all', may: ['view-people'] },
              // A branch administrator: admin narrowed to its groups; `root` widens whoever also holds it.
              admin: { scope: 'groups', may: EVERY_RIGHT },
              root: { scope: 'all' },
              // A recovery officer for one branch.
              'key-recovery': { scope: 'groups' },
            },
          },
          credentialProfiles: {
            staff: {
              certificates: [{ template: 'smime-signing' }],
              roles: { request: ['admin', 'helpdesk', 'selfy'], validate: ['admin', 'helpdesk', 'selfy'], unlock: ['admin', 'helpdesk', 'selfy'] },
            },
          },
        },
      });
      rootPem = readFileSync(join(dir, 'certs/root-ca.pem'));
      const tokens = new TokenRepository(gw.db);
      const grant: Record<string, string[]> = {
        super: ['admin', 'root'],
        hd: ['helpdesk'],
        sam: ['selfy'],
        ghost: ['helpdesk'],
        adm: ['admin'],
        aud: ['auditor'],
        pr: [],
        kr: ['key-recovery'],
        boss: [],
      };
      for (const [name, roles] of Object.entries(grant)) token[name] = (await tokens.create({ name, roles })).token;
      const imported = await call('super', 'POST', '/users/import', [
        person('hd', ['Branch-A']),
        person('alice', ['branch-a', 'Sports']),
        person('bob', ['Branch-B']),
        person('sam', ['Branch-A']),
        person('adm', ['Branch-A']),
        // pr's token has no role; pr's user record makes them helpdesk for Branch-B.
        person('pr', ['Branch-B'], ['helpdesk']),
        person('kr', ['Branch-A']),
      ]);
      assert.equal(imported.status, 200, imported.body);
      for (const n of ['hd', 'alice', 'bob', 'sam', 'adm', 'pr', 'kr']) ids[n] = ((await call('super', 'GET', `/users/${n}`)).json.user as { id: string }).id;
    });
    after(async () => {
      await gw?.stop();
      await mysql?.drop();
    });

    test('whoami: the widest scope of the credential and user-record roles, with the rights', async () => {
      const access = async (who: string) => (await call(who, 'GET', '/whoami')).json.access as Json;
      assert.deepEqual(await access('super'), { roles: ['admin', 'root'], scope: 'all', rights: EVERY_RIGHT, userRecord: null });
      assert.deepEqual(await access('hd'), { roles: ['helpdesk'], scope: 'groups', rights: EVERY_RIGHT, userRecord: ids.hd });
      assert.deepEqual(await access('pr'), { roles: ['helpdesk'], scope: 'groups', rights: EVERY_RIGHT, userRecord: ids.pr });
      assert.equal((await access('sam')).scope, 'self');
      assert.equal((await access('aud')).scope, 'all');
    });

    test('users: each scope lists and finds only its people; pages stay full; someone out of scope reads as unknown', async () => {
      const everyone = ['adm', 'alice', 'bob', 'hd', 'kr', 'pr', 'sam'];
      assert.deepEqual(await names('super'), everyone);
      assert.deepEqual(await names('aud'), everyone, 'scope all needs no user record');
      assert.deepEqual(await names('hd'), ['adm', 'alice', 'hd', 'kr', 'sam'], 'groups: Branch-A, matched without regard to case');
      assert.deepEqual(await names('pr'), ['bob', 'pr'], "the user record's roles count");
      assert.deepEqual(await names('sam'), ['sam']);
      assert.deepEqual(await names('ghost'), [], 'no user record: nobody');
      assert.deepEqual(await names('hd', '?q=b'), [], 'a search does not find bob');
      assert.deepEqual(await names('hd', '?group=Branch-B'), []);

      // One at a time: a filter applied after the query would leave the page after "alice" empty (bob is next).
      const walked: string[] = [];
      for (let after = ''; ; ) {
        const page = await call('hd', 'GET', `/users?limit=1${after && `&after=${after}`}`);
        const got = (page.json.users as { userName: string }[]).map((u) => u.userName);
        walked.push(...got);
        if (page.json.next === null) break;
        after = String(page.json.next);
      }
      assert.deepEqual(walked, ['adm', 'alice', 'hd', 'kr', 'sam']);

      for (const who of ['hd', 'sam', 'ghost']) {
        const name = `carol-${who}`;
        await askedBeforeAndAfter(
          () => call(who, 'GET', `/users/${name}`),
          async () => assert.equal((await call('super', 'POST', '/users', person(name, ['Branch-B']))).status, 201),
        );
        assert.equal((await call('super', 'GET', `/users/${name}`)).status, 200, 'it exists');
      }
      const unknownId = randomUUID();
      sameAsUnknown(await call('hd', 'GET', `/users/${ids.bob}`), ids.bob!, await call('hd', 'GET', `/users/${unknownId}`), unknownId);
      assert.equal((await call('hd', 'GET', '/users/alice')).status, 200);
      assert.equal((await call('sam', 'GET', '/users/sam')).status, 200);
      assert.equal((await call('sam', 'GET', '/users/hd')).status, 404);
    });

    test('users: a scoped operator changes display names and mobile numbers within the scope only, and creates nobody', async () => {
      assert.equal((await call('hd', 'PATCH', '/users/alice', { mobile: '+44 7700 900001' })).status, 200);
      await askedBeforeAndAfter(
        () => call('hd', 'PATCH', '/users/erin', { mobile: '+44 7700 900002' }),
        async () => assert.equal((await call('super', 'POST', '/users', person('erin', ['Branch-B']))).status, 201),
      );
      assert.equal(((await call('super', 'GET', '/users/erin')).json.user as Json).mobile, null, 'the hidden user is unchanged');
      const widen = await call('hd', 'PATCH', '/users/alice', { groups: ['Branch-B'] });
      assert.equal(widen.status, 403);
      assert.match(String(widen.json.message), /scope groups you may change only displayName, mobile; groups needs a role with scope all/);
      assert.equal((await call('hd', 'PATCH', '/users/hd', { roles: ['admin'] })).status, 403, 'no raising your own rights');
      assert.equal((await call('hd', 'PATCH', '/users/alice', { email: 'bob@example.com' })).status, 403, "no lending someone another's certified name");
      assert.deepEqual(((await call('super', 'GET', '/users/alice')).json.user as Json).groups, ['branch-a', 'Sports']);
      assert.equal((await call('sam', 'PATCH', '/users/sam', { displayName: 'Sam S' })).status, 200);
      assert.equal((await call('sam', 'PATCH', '/users/alice', { displayName: 'X' })).status, 404);

      const create = await call('hd', 'POST', '/users', person('fred', ['Branch-A']));
      assert.equal(create.status, 403);
      assert.match(String(create.json.message), /operator scope does not reach everyone/);
      assert.equal((await call('hd', 'POST', '/users/import', 'userName,displayName\nfred,Fred\n', 'text/csv')).status, 403);
      assert.equal((await call('super', 'GET', '/users/fred')).status, 404, 'nothing was created');
      assert.equal((await call('aud', 'PATCH', '/users/alice', { mobile: null })).status, 403, 'view-people alone changes nothing');
    });

    test('devices: visible through their owner; lookups, the owner filter and owner changes read hidden people as unknown', async () => {
      for (const [serial, owner] of [
        ['DEVA0001', 'alice'],
        ['DEVB0001', 'bob'],
        ['DEVN0001', null],
        ['DEVS0001', 'sam'],
      ] as const)
        assert.equal((await call('super', 'POST', '/devices', { serial, platform: 'ios', ...(owner && { owner }) })).status, 201);
      const serials = async (who: string, q = '') => ((await call(who, 'GET', `/devices${q}`)).json.devices as { serial: string }[]).map((d) => d.serial);
      assert.deepEqual(await serials('super'), ['DEVA0001', 'DEVB0001', 'DEVN0001', 'DEVS0001']);
      assert.deepEqual(await serials('hd'), ['DEVA0001', 'DEVS0001'], 'a device without an owner is in scope all only');
      assert.deepEqual(await serials('pr'), ['DEVB0001']);
      assert.deepEqual(await serials('sam'), ['DEVS0001']);
      sameAsUnknown(await call('sam', 'GET', '/devices/DEVA0001'), 'DEVA0001', await call('sam', 'GET', '/devices/DEVZ0001'), 'DEVZ0001');
      assert.equal((await call('sam', 'PATCH', '/devices/DEVS0001', { model: 'Pixel 8' })).status, 200);
      assert.deepEqual(await serials('ghost'), []);
      assert.deepEqual(await serials('hd', '?limit=1&after=DEVA0001'), ['DEVS0001'], "a page of one skips bob's and the unowned device");

      await askedBeforeAndAfter(
        () => call('hd', 'GET', '/devices/DEVC0001'),
        async () => assert.equal((await call('super', 'POST', '/devices', { serial: 'DEVC0001', platform: 'android', owner: 'bob' })).status, 201),
      );
      await askedBeforeAndAfter(
        () => call('hd', 'PATCH', '/devices/DEVD0001', { model: 'X' }),
        async () => assert.equal((await call('super', 'POST', '/devices', { serial: 'DEVD0001', platform: 'android', owner: 'bob' })).status, 201),
      );
      sameAsUnknown(await call('hd', 'GET', '/devices?owner=bob'), 'bob', await call('hd', 'GET', '/devices?owner=zed'), 'zed');
      sameAsUnknown(
        await call('hd', 'PATCH', '/devices/DEVA0001', { owner: 'bob' }),
        'bob',
        await call('hd', 'PATCH', '/devices/DEVA0001', { owner: 'zed' }),
        'zed',
      );
      assert.equal((await call('hd', 'PATCH', '/devices/DEVA0001', { model: 'iPhone15,2', owner: 'hd' })).status, 200);
      assert.equal((await call('hd', 'PATCH', '/devices/DEVA0001', { serial: 'DEVB0001' })).status, 403, 'a serial change could reveal a hidden serial');
      assert.equal((await call('hd', 'POST', '/devices', { serial: 'DEVE0001', platform: 'ios' })).status, 403);
      const devb = (await call('super', 'GET', '/devices/DEVB0001')).json.device as Json;
      assert.equal(devb.ownerId, ids.bob);
    });

    test('mobile IDs: request, find, validate and the lifecycle reach the scope only; a hidden one answers as an unknown one', async () => {
      const requested = async (who: string, user?: string) =>
        call(who, 'POST', '/mobile-ids', { ...(user && { user }), credentialProfile: 'staff', notify: 'none' });
      const forAlice = await requested('super', 'alice');
      assert.equal(forAlice.status, 201, forAlice.body);
      const forBob = await requested('super', 'bob');
      const alices = (forAlice.json.mobileId as { id: string }).id;
      const bobs = (forBob.json.mobileId as { id: string }).id;

      const listed = async (who: string, q = '') => ((await call(who, 'GET', `/mobile-ids${q}`)).json.mobileIds as { id: string }[]).map((m) => m.id);
      assert.ok((await listed('super')).includes(bobs));
      assert.deepEqual(await listed('hd'), [alices]);
      assert.deepEqual(await listed('pr'), [bobs]);
      assert.deepEqual(await listed('sam'), []);
      assert.deepEqual(await listed('ghost'), []);
      sameAsUnknown(await call('hd', 'GET', '/mobile-ids?user=bob'), 'bob', await call('hd', 'GET', '/mobile-ids?user=zed'), 'zed');

      const unknown = randomUUID();
      const actions: [string, 'GET' | 'POST', string, Json | undefined][] = [
        ['get', 'GET', '', undefined],
        ['validate', 'POST', '/validate', {}],
        ['cancel', 'POST', '/cancel', { note: 'lost' }],
        ['replace', 'POST', '/replace', { notify: 'none' }],
        ['disable', 'POST', '/disable', {}],
        ['enable', 'POST', '/enable', {}],
        ['unlock', 'POST', '/unlock', { challenge: 'ABCD1234' }],
      ];
      for (const who of ['hd', 'sam', 'ghost'])
        for (const [what, method, suffix, body] of actions) {
          const hidden = await call(who, method, `/mobile-ids/${bobs}${suffix}`, body);
          assert.equal(hidden.status, 404, `${who} ${what}: ${hidden.body}`);
          sameAsUnknown(hidden, bobs, await call(who, method, `/mobile-ids/${unknown}${suffix}`, body), unknown);
        }
      // Within the scope the same calls reach the mobile ID: a state it is not in, or done.
      assert.equal((await call('hd', 'GET', `/mobile-ids/${alices}`)).status, 200);
      assert.equal((await call('hd', 'POST', `/mobile-ids/${alices}/disable`, {})).status, 409);
      assert.equal((await call('hd', 'POST', `/mobile-ids/${alices}/validate`, {})).status, 409);
      assert.equal(((await call('super', 'GET', `/mobile-ids/${bobs}`)).json.mobileId as Json).status, 'ready', "bob's is untouched");
      const cancelled = await call('hd', 'POST', `/mobile-ids/${alices}/cancel`, {});
      assert.equal(cancelled.status, 200, cancelled.body);
      assert.equal((cancelled.json.mobileId as Json).status, 'cancelled');

      // Requesting for someone: out of scope reads as no such user, for a name and an id alike.
      for (const who of ['hd', 'sam', 'ghost']) {
        await askedBeforeAndAfter(
          () => requested(who, `gina-${who}`),
          async () => assert.equal((await call('super', 'POST', '/users', person(`gina-${who}`, ['Branch-B']))).status, 201),
        );
        sameAsUnknown(await requested(who, ids.bob), ids.bob!, await requested(who, unknown), unknown);
      }
      assert.equal((await requested('hd', 'alice')).status, 201);
      assert.equal((await requested('sam', 'alice')).status, 404);
      assert.equal((await requested('sam')).status, 201, 'self scope still requests "my ID"');
      assert.equal((await requested('pr', 'bob')).status, 201, "pr's user record makes them helpdesk for Branch-B, where bob is");
    });

    test('certificates: the per-person inventory, status changes and key recovery honour scope; issuing and the audit need scope all', async () => {
      const issue = async (userName: string | null) => {
        const r = await call('super', 'POST', '/certificates', {
          template: 'smime-signing',
          user: { displayName: userName ?? 'nobody', email: `${userName ?? 'nobody'}@example.com` },
          ...(userName && { userId: ids[userName] }),
        });
        assert.equal(r.status, 201, r.body);
        return (r.json.certificate as { serial: string }).serial;
      };
      const [a, b, n, own] = [await issue('alice'), await issue('bob'), await issue(null), await issue('sam')];
      const serials = async (who: string) =>
        ((await call(who, 'GET', '/certificates?limit=1000')).json.certificates as { serial: string }[]).map((c) => c.serial).sort();
      const all = await serials('super');
      for (const s of [a, b, n, own]) assert.ok(all.includes(s));
      assert.deepEqual(await serials('hd'), [a, own].sort());
      assert.deepEqual(await serials('adm'), [a, own].sort(), 'admin narrowed to its groups');
      assert.deepEqual(await serials('sam'), [own]);
      assert.equal((await call('sam', 'GET', `/certificates/${own}`)).status, 200);
      assert.equal((await call('sam', 'GET', `/certificates/${a}`)).status, 404);
      assert.deepEqual(await serials('pr'), [b]);
      assert.deepEqual(await serials('ghost'), []);
      assert.deepEqual(
        ((await call('hd', 'GET', `/certificates?user=${ids.bob}`)).json.certificates as unknown[]).length,
        0,
        'a user filter does not get round the scope',
      );

      const unknown = `${b.slice(0, -4)}${b.endsWith('ffff') ? '0000' : 'ffff'}`;
      assert.equal((await call('super', 'GET', `/certificates/${unknown}`)).status, 404);
      sameAsUnknown(await call('hd', 'GET', `/certificates/${b}`), b, await call('hd', 'GET', `/certificates/${unknown}`), unknown);
      sameAsUnknown(await call('hd', 'GET', `/certificates/${n}`), n, await call('hd', 'GET', `/certificates/${unknown}`), unknown);
      for (const action of ['revoke', 'hold', 'release'])
        sameAsUnknown(
          await call('adm', 'POST', `/certificates/${b}/${action}`, {}),
          b,
          await call('adm', 'POST', `/certificates/${unknown}/${action}`, {}),
          unknown,
        );
      assert.equal(((await call('super', 'GET', `/certificates/${b}`)).json.certificate as Json).status, 'valid', "bob's is untouched");
      const held = await call('adm', 'POST', `/certificates/${a}/hold`, {});
      assert.equal(held.status, 200, held.body);
      assert.equal((held.json.certificate as Json).status, 'hold');

      const issuing = await call('adm', 'POST', '/certificates', { template: 'smime-signing', user: { displayName: 'x', email: 'x@example.com' } });
      assert.equal(issuing.status, 403, 'issuing names any user: scope all');
      assert.equal((await call('adm', 'GET', '/audit')).status, 403, 'the audit names everyone');
      assert.equal((await call('adm', 'GET', '/jobs')).status, 403);
      assert.equal((await call('super', 'GET', '/audit')).status, 200);
      assert.equal((await call('hd', 'POST', `/certificates/${a}/revoke`, {})).status, 403, 'helpdesk holds no certificate rights');

      // Key recovery by a branch's officer: escrowed keys of the branch only.
      const escrowed = async (userName: string) => {
        const r = await call('super', 'POST', '/certificates', {
          template: 'smime-encryption',
          user: { displayName: userName, email: `${userName}@example.com` },
          userId: ids[userName],
        });
        assert.equal(r.status, 201, r.body);
        return (r.json.certificate as { serial: string; keyEscrowed: boolean }).serial;
      };
      const [ea, eb] = [await escrowed('alice'), await escrowed('bob')];
      const eUnknown = `${eb.slice(0, -4)}${eb.endsWith('ffff') ? '0000' : 'ffff'}`;
      const recover = (serial: string) => call('kr', 'POST', `/certificates/${serial}/recover-key`, { reason: 'mailbox recovery' });
      sameAsUnknown(await recover(eb), eb, await recover(eUnknown), eUnknown);
      assert.equal((await recover(eb)).status, 404);
      const recovered = await recover(ea);
      assert.equal(recovered.status, 200, recovered.body);
      assert.ok(String(recovered.json.pkcs12).length > 100);
    });

    test("photos: read and changed within the scope; a hidden person's photo reads as an unknown user's and stays as it was", async () => {
      const png = (color: string) =>
        sharp({ create: { width: 8, height: 8, channels: 3, background: color } })
          .png()
          .toBuffer();
      const set = await call('super', 'PUT', '/users/bob/photo', await png('#336699'), 'image/png');
      assert.equal(set.status, 200, set.body);
      const sha = (set.json.photo as { sha256: string }).sha256;
      for (const who of ['hd', 'adm', 'sam', 'ghost']) {
        sameAsUnknown(await call(who, 'GET', '/users/bob/photo'), 'bob', await call(who, 'GET', '/users/zed/photo'), 'zed');
        sameAsUnknown(await call(who, 'GET', '/users/bob/photo/info'), 'bob', await call(who, 'GET', '/users/zed/photo/info'), 'zed');
        const other = await png('#990000');
        sameAsUnknown(
          await call(who, 'PUT', '/users/bob/photo', other, 'image/png'),
          'bob',
          await call(who, 'PUT', '/users/zed/photo', other, 'image/png'),
          'zed',
        );
        sameAsUnknown(await call(who, 'DELETE', '/users/bob/photo'), 'bob', await call(who, 'DELETE', '/users/zed/photo'), 'zed');
      }
      const info = await call('super', 'GET', '/users/bob/photo/info');
      assert.equal((info.json.photo as { sha256: string }).sha256, sha, 'nothing out of scope changed it');
      const own = await call('hd', 'PUT', '/users/alice/photo', await png('#00aa00'), 'image/png');
      assert.equal(own.status, 200, 'in scope: the helpdesk sets a photo');
      assert.equal((await call('hd', 'GET', '/users/alice/photo')).status, 200);
      assert.equal((await call('sam', 'GET', '/users/alice/photo')).status, 404, 'self: only their own');
    });

    test("a user record's admin role widens scope but opens no admin route: only a credential carries built-in roles", async () => {
      assert.equal((await call('super', 'POST', '/users', person('boss', ['Branch-A'], ['admin']))).status, 201);
      const who = (await call('boss', 'GET', '/whoami')).json.access as Json;
      assert.deepEqual(who, { roles: ['admin'], scope: 'groups', rights: [], userRecord: who.userRecord });
      for (const path of ['/users', '/jobs', '/audit', '/certificates']) {
        const r = await call('boss', 'GET', path);
        assert.equal(r.status, 403, `${path}: ${r.body}`);
        assert.match(String(r.json.message), /boss lacks the role this needs/);
      }
      // The credential profile's lists, though, count the record's roles, as before: boss may request for the branch.
      assert.equal((await call('boss', 'POST', '/mobile-ids', { user: 'alice', credentialProfile: 'staff', notify: 'none' })).status, 201);
      assert.equal((await call('boss', 'POST', '/mobile-ids', { user: 'bob', credentialProfile: 'staff', notify: 'none' })).status, 404);
    });
  });
}
