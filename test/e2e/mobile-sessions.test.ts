/**
 * What an anonymous caller of POST /mobile/v1/sessions learns and can do.
 * Knowing only a user name tells nothing: every refusal by user name is the
 * same answer, byte for byte, and wrong codes by user name cannot lock the
 * person's request. Wrong codes against the request id (what the link and
 * QR code carry) lock it after mobile.maxCodeAttempts. An address that keeps
 * failing is refused for the rest of the minute. Each test calls from its
 * own loopback address (curl --interface), as separate clients would.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { curl, type CurlResult } from '../helpers/curl.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { adminCurlArgs } from '../helpers/pki.js';

type Json = Record<string, unknown>;

const MAX_FAILURES = 15;
const device = { serial: 'PROBE0001', platform: 'android' };
/** The code with its last digit changed. */
const wrongOf = (code: string) => code.replace(/\d$/, (d) => String((Number(d) + 1) % 10));

describe('Identity Agent sessions: no enumeration or lock-out by user name', () => {
  let gw: TestGateway;
  const codes = new Map<string, { id: string; code: string }>();

  const api = async (method: string, path: string, body?: unknown) => {
    const r = await curl(`${gw.url}/api/v1${path}`, [
      ...adminCurlArgs(join(gw.dir, 'certs')),
      '-X',
      method,
      ...(body === undefined ? [] : ['-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(body)]),
    ]);
    assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${r.body}`);
    return r.json();
  };
  const stateOf = async (user: string) => {
    const m = (await api('GET', `/mobile-ids/${codes.get(user)!.id}`)).mobileId as { status: string; failedAttempts: number };
    return [m.status, m.failedAttempts];
  };
  /** A session start from `from`, with the whole answer (status line, headers, body); the same X-Request-Id each time, so answers can be compared whole. */
  const start = (body: Json, from: string) =>
    curl(`${gw.url}/mobile/v1/sessions`, [
      '-4',
      '--interface',
      from,
      '--cacert',
      join(gw.dir, 'certs/root-ca.pem'),
      '-i',
      '-H',
      'Content-Type: application/json',
      '-H',
      'X-Request-Id: session-probe',
      '--data-binary',
      JSON.stringify(body),
    ]);
  /**
   * The answer without its Date header and its content signature (ECDSA
   * signatures differ each time, and name the time), the parts that may differ.
   */
  const whole = (r: CurlResult) => r.body.replace(/^date: [^\r\n]*\r?\n/im, '').replace(/^jws-signature: [^\r\n]*\r?\n/im, '');
  const bodyOf = (r: CurlResult) => JSON.parse(r.body.slice(r.body.search(/\r?\n\r?\n/)).trim()) as Json;

  before(async () => {
    gw = await startTestGateway({
      overrides: {
        mobile: { maxCodeAttempts: 5, maxFailuresPerAddress: MAX_FAILURES },
        credentialProfiles: {
          phone: { certificates: [{ template: 'tls-client', container: 'none' }] },
          validated: { certificates: [{ template: 'tls-client', container: 'none' }], requireValidation: true },
        },
      },
    });
    const people = ['bob', 'jane', 'vera', 'lena', 'nina', 'paul', 'olga', 'tom'];
    await api(
      'POST',
      '/users/import',
      people.map((userName) => ({ userName, displayName: userName.toUpperCase(), email: `${userName}@example.com` })),
    );
    for (const user of people.filter((u) => u !== 'bob')) {
      const issued = await api('POST', '/mobile-ids', { user, credentialProfile: user === 'vera' ? 'validated' : 'phone', notify: 'none' });
      codes.set(user, { id: (issued.mobileId as { id: string }).id, code: (issued.code as string | undefined) ?? '' });
    }
    // lena's request is locked by wrong codes against its request id.
    const lena = codes.get('lena')!;
    for (let i = 0; i < 5; i++) await start({ request: lena.id, code: wrongOf(lena.code), device }, '127.0.0.7');
    assert.deepEqual(await stateOf('lena'), ['locked', 5]);
  });
  after(async () => {
    await gw?.stop();
  });

  test('an unknown user name, a known one without a request, and ones with a ready, unvalidated or locked request get byte-identical answers', async () => {
    let probe = '1234 5678';
    while ([...codes.values()].some((c) => c.code === probe)) probe = wrongOf(probe);
    const answers = new Map<string, CurlResult>();
    for (const userName of ['ghost', 'bob', 'jane', 'vera', 'lena']) answers.set(userName, await start({ userName, code: probe, device }, '127.0.0.2'));
    const ghost = answers.get('ghost')!;
    assert.equal(ghost.status, 401, ghost.body);
    assert.equal(bodyOf(ghost).error, 'unauthorized');
    for (const [userName, r] of answers) assert.equal(whole(r), whole(ghost), `${userName} is told apart from a user name that does not exist`);
    assert.deepEqual(await stateOf('jane'), ['ready', 0], 'a wrong code by user name is not counted against the request');
  });

  test("wrong codes by user name cannot lock the person's request: the right code still collects with its request id", async () => {
    const nina = codes.get('nina')!;
    const answers: CurlResult[] = [];
    for (let i = 0; i < 12; i++) answers.push(await start({ userName: 'nina', code: wrongOf(nina.code), device }, '127.0.0.3'));
    for (const r of answers) assert.equal(whole(r), whole(answers[0]!), 'every refusal by user name is the same');
    assert.equal(answers[0]!.status, 401);
    assert.deepEqual(await stateOf('nina'), ['ready', 0], 'not locked, and nothing counted against its own attempts');

    // The user-name form stops working for this request after maxCodeAttempts wrong codes, and says so in the same words as any refusal.
    const byName = await start({ userName: 'nina', code: nina.code, device }, '127.0.0.3');
    assert.equal(whole(byName), whole(answers[0]!));
    const byId = await start({ request: nina.id, code: nina.code, device }, '127.0.0.3');
    assert.equal(byId.status, 201, byId.body);
    assert.equal(bodyOf(byId).mobileId, nina.id);

    // Fewer wrong codes than that leave the user-name form working.
    const paul = codes.get('paul')!;
    for (let i = 0; i < 4; i++)
      assert.equal((await start({ userName: 'paul', code: wrongOf(paul.code), device: { ...device, serial: 'PROBE0002' } }, '127.0.0.8')).status, 401);
    const collected = await start({ userName: 'paul', code: paul.code, device: { ...device, serial: 'PROBE0002' } }, '127.0.0.8');
    assert.equal(collected.status, 201, collected.body);
    assert.equal(bodyOf(collected).mobileId, paul.id);
  });

  test('wrong codes against the request id lock it after maxCodeAttempts, however many came by user name before', async () => {
    const olga = codes.get('olga')!;
    for (let i = 0; i < 7; i++) assert.equal((await start({ userName: 'olga', code: wrongOf(olga.code), device }, '127.0.0.4')).status, 401);
    for (let left = 4; left >= 1; left--) {
      const r = await start({ request: olga.id, code: wrongOf(olga.code), device }, '127.0.0.4');
      assert.equal(r.status, 401, r.body);
      assert.match(bodyOf(r).message as string, new RegExp(`${left} attempts? left`));
    }
    const fifth = await start({ request: olga.id, code: wrongOf(olga.code), device }, '127.0.0.4');
    assert.equal(fifth.status, 423, fifth.body);
    assert.equal((await start({ request: olga.id, code: olga.code, device }, '127.0.0.4')).status, 423, 'locked: even the right code is refused');
    assert.deepEqual(await stateOf('olga'), ['locked', 5]);
    const audit = (await api('GET', `/audit?subjectId=${olga.id}&action=mobile-id.lock`)).entries as Json[];
    assert.equal(audit.length, 1);
  });

  test(`an address with ${MAX_FAILURES} failed starts within a minute gets 429 with Retry-After, before its code is compared; other addresses are not held up`, async () => {
    const tom = codes.get('tom')!;
    for (let i = 0; i < MAX_FAILURES; i++) {
      const r =
        i % 2
          ? await start({ request: randomUUID(), code: tom.code, device }, '127.0.0.5')
          : await start({ userName: 'tom', code: '0000 0000', device }, '127.0.0.5');
      assert.ok(r.status === 401 || r.status === 404, r.body);
    }
    const held = await start({ request: tom.id, code: tom.code, device }, '127.0.0.5');
    assert.equal(held.status, 429, held.body);
    assert.equal(bodyOf(held).error, 'rate_limited');
    const wait = Number(/^retry-after: (\d+)\r?$/im.exec(held.body)?.[1]);
    assert.ok(wait >= 1 && wait <= 60, `Retry-After ${wait}`);
    assert.deepEqual(await stateOf('tom'), ['ready', 0], 'the held-up attempt did not reach the request');

    const elsewhere = await start({ request: tom.id, code: tom.code, device }, '127.0.0.6');
    assert.equal(elsewhere.status, 201, elsewhere.body);
  });

  test('the log tells the operator which address was held up and which request closed to user names, and carries no code', () => {
    const logs = gw.logs();
    assert.match(logs, /"address":"127\.0\.0\.5"[^\n]*refused for the rest of the minute/);
    assert.match(logs, new RegExp(`"mobileId":"${codes.get('nina')!.id}"[^\n]*no longer opens by user name`));
    for (const { code } of codes.values()) if (code) assert.ok(!logs.includes(code) && !logs.includes(code.replace(/ /g, '')), 'a one-time code was logged');
  });
});
