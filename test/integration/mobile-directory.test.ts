/** /api/v1/users and /api/v1/devices through HTTPS: create, update, find, import (CSV and JSON), all or nothing. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TokenRepository } from '../../src/store/tokens.js';
import { curl } from '../helpers/curl.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { adminCurlArgs } from '../helpers/pki.js';

describe('people and devices admin API', () => {
  let gw: TestGateway;
  const call = (method: string, path: string, body?: unknown, type = 'application/json', auth?: string[]) =>
    curl(`${gw.url}/api/v1${path}`, [
      ...(auth ?? adminCurlArgs(join(gw.dir, 'certs'))),
      '--cacert',
      join(gw.dir, 'certs/root-ca.pem'),
      '-X',
      method,
      ...(body === undefined ? [] : ['-H', `Content-Type: ${type}`, '--data-binary', typeof body === 'string' ? body : JSON.stringify(body)]),
    ]);
  const users = async (query = '') => ((await call('GET', `/users${query}`)).json().users as { userName: string }[]).map((u) => u.userName);

  before(async () => {
    gw = await startTestGateway();
  });
  after(async () => {
    await gw.stop();
  });

  test('create a user, refuse a duplicate and bad fields with what to fix, update, find', async () => {
    const created = await call('POST', '/users', {
      userName: 'jane',
      displayName: 'Jane Smith',
      email: 'jane@example.com',
      mobile: '+44 7700 900123',
      groups: ['Finance'],
      roles: ['mobile-user'],
    });
    assert.equal(created.status, 201, created.body);
    const jane = created.json().user as Record<string, unknown>;
    assert.equal(jane.mobile, '+447700900123', 'separators are dropped');
    assert.equal((await call('POST', '/users', { userName: 'jane', displayName: 'Other' })).status, 409);
    const bad = await call('POST', '/users', { userName: 'x y', displayName: '', email: 'not-an-email', mobile: 'call me' });
    assert.equal(bad.status, 400);
    for (const field of ['userName', 'displayName', 'email', 'mobile']) assert.match(bad.json().message as string, new RegExp(`${field}:`));
    assert.equal((await call('POST', '/users', { userName: 'z', displayName: 'Z', colour: 'blue' })).status, 400, 'unknown fields are refused');

    const updated = await call('PATCH', '/users/jane', { upn: 'jane@corp.example.com', mobile: null });
    assert.equal(updated.status, 200, updated.body);
    assert.equal(updated.json().user && (updated.json().user as { upn: string }).upn, 'jane@corp.example.com');
    assert.equal((updated.json().user as { mobile: unknown }).mobile, null);
    assert.equal((await call('PATCH', '/users/nobody', { upn: 'a@b' })).status, 404);
    assert.equal((await call('PATCH', '/users/jane', { email: 'nope' })).status, 400);
    assert.equal(
      ((await call('GET', `/users/${String(jane.id)}`)).json().user as { email: string }).email,
      'jane@example.com',
      'a refused update changes nothing',
    );
    assert.deepEqual(await users('?q=jan'), ['jane']);
    assert.deepEqual(await users('?group=Finance'), ['jane']);
    const audit = (await call('GET', `/audit?subjectId=${String(jane.id)}`)).json().entries as { action: string }[];
    assert.deepEqual(
      audit.map((e) => e.action),
      ['user.update', 'user.create'],
    );
  });

  test('CSV import creates and updates by user name; one bad row changes nothing and every bad row is named', async () => {
    const csv =
      'userName,displayName,email,mobile,groups,roles\nann,Ann Lee,ann@example.com,+1 555 0100,Sales;EMEA,mobile-user\n"bob","Bob, Jr.",bob@example.com,,,\n';
    const first = await call('POST', '/users/import', csv, 'text/csv');
    assert.equal(first.status, 200, first.body);
    assert.deepEqual(first.json(), { created: 2, updated: 0, unchanged: 0 });
    const ann = (await call('GET', '/users/ann')).json().user as { groups: string[]; mobile: string };
    assert.deepEqual(ann.groups, ['Sales', 'EMEA']);
    assert.equal(ann.mobile, '+15550100');
    assert.equal(((await call('GET', '/users/bob')).json().user as { displayName: string }).displayName, 'Bob, Jr.');

    const again = await call('POST', '/users/import', csv.replace('Ann Lee', 'Ann Lee-Smith'), 'text/csv');
    assert.deepEqual(again.json(), { created: 0, updated: 1, unchanged: 1 });

    const bad = await call(
      'POST',
      '/users/import',
      'userName,displayName,email\ncarl,Carl,carl@example.com\ndora,,dora@example\nann,Ann,ann@example.com\nann,Ann,ann@example.com\n',
      'text/csv',
    );
    assert.equal(bad.status, 400);
    const message = bad.json().message as string;
    assert.match(message, /nothing was imported/);
    assert.match(message, /row 3\.displayName/);
    assert.match(message, /row 3\.email/);
    assert.match(message, /row 5: user name "ann" is already in row 4/);
    assert.deepEqual(await users('?q=carl'), [], 'the good row was not imported either');
    assert.match((await call('POST', '/users/import', 'userName,shoeSize\nx,9\n', 'text/csv')).json().message as string, /unknown column "shoeSize"/);
    assert.equal((await call('POST', '/users/import', 'a,b\n1,2,3\n', 'text/csv')).status, 400);
    assert.equal((await call('POST', '/users/import', '<users/>', 'application/xml')).status, 400);
  });

  test('JSON import; devices registered by serial, imported with owners by user name', async () => {
    const imported = await call('POST', '/users/import', [{ userName: 'erin', displayName: 'Erin', roles: ['operator'] }]);
    assert.deepEqual(imported.json(), { created: 1, updated: 0, unchanged: 0 });

    const reg = await call('POST', '/devices', { serial: 'f2lx1234abcd', platform: 'iOS', model: 'iPhone12,1', owner: 'erin' });
    assert.equal(reg.status, 201, reg.body);
    const device = reg.json().device as { serial: string; platform: string; status: string; ownerId: string };
    assert.equal(device.serial, 'F2LX1234ABCD');
    assert.equal(device.platform, 'ios');
    assert.equal(device.status, 'registered');
    assert.equal((await call('POST', '/devices', { serial: 'F2LX1234ABCD', platform: 'ios' })).status, 409);
    assert.match((await call('POST', '/devices', { serial: 'ABC123', platform: 'ios', owner: 'nobody' })).json().message as string, /owner: no user "nobody"/);
    assert.match((await call('POST', '/devices', { serial: '??', platform: 'blackberry' })).json().message as string, /serial:.*platform:/);

    const csv = 'serial,platform,model,owner\nR58M123456,android,SM-G991B,erin\nDMPXQ0001,ios,iPad13,\n';
    assert.deepEqual((await call('POST', '/devices/import', csv, 'text/csv')).json(), { created: 2, updated: 0, unchanged: 0 });
    const bad = await call('POST', '/devices/import', 'serial,platform,owner\nNEW0001,ios,erin\nNEW0002,ios,ghost\n', 'text/csv');
    assert.equal(bad.status, 400);
    assert.match(bad.json().message as string, /row 3: owner: no user "ghost"/);
    assert.equal((await call('GET', '/devices/NEW0001')).status, 404, 'nothing imported');
    const mine = (await call('GET', '/devices?owner=erin')).json().devices as { serial: string }[];
    assert.deepEqual(
      mine.map((d) => d.serial),
      ['F2LX1234ABCD', 'R58M123456'],
    );
    const patched = await call('PATCH', '/devices/R58M123456', { owner: null, osVersion: '14' });
    assert.equal((patched.json().device as { ownerId: unknown }).ownerId, null);
  });

  test('only admins manage people and devices', async () => {
    const { token } = await new TokenRepository(gw.db).create({ name: 'helpdesk', roles: ['operator'] });
    const r = await call('GET', '/users', undefined, undefined, ['-H', `Authorization: Bearer ${token}`]);
    assert.equal(r.status, 403);
  });
});
