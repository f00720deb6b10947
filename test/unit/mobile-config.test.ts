/** Credential profiles for mobile identities, one-time codes, where codes and notifications go, and the SMS gateway call. */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import pino from 'pino';
import { parseConfig } from '../../src/config/load.js';
import { IdentityError } from '../../src/identity/errors.js';
import type { Messages } from '../../src/identity/messages.js';
import { maskAddress, Notifications, type Senders } from '../../src/identity/notifications.js';
import { CodeMac, codeLength, generateCode, normalizeCode } from '../../src/identity/otp.js';
import { SmsSender } from '../../src/notify/sms.js';
import type { Person } from '../../src/store/people.js';

test('profile defaults: identity-agent, any device, no validation, PIN, 04-08N, 7 days; request by admins, receive and collect by anyone', () => {
  const p = parseConfig('', 'f', {}).credentialProfiles.smime!;
  assert.equal(p.encoding, 'identity-agent');
  assert.equal(p.deviceRestriction, 'any');
  assert.equal(p.requireValidation, false);
  assert.deepEqual(p.authentication, ['pin']);
  assert.equal(p.otpComplexity, '04-08N');
  assert.equal(p.requestExpiry, '7d');
  assert.deepEqual(p.roles, { request: ['admin'], receive: ['*'], validate: ['admin'], collect: ['*'], unlock: ['admin'] });
  const m = parseConfig('', 'f', {}).mobile;
  assert.deepEqual(
    [m.maxSessions, m.maxCodeAttempts, m.otpDelivery, m.policy.logLevel, m.policy.maxLogFiles, m.policy.maxRetries, m.policy.minRetryDelay],
    [-1, 5, 'screen', 2, -1, 5, '10s'],
  );
});

test('profile mistakes are refused with what to fix', () => {
  const profile = (extra: string) => `credentialProfiles:\n  p:\n    certificates: [{ template: tls-client }]\n${extra}`;
  assert.throws(() => parseConfig(profile('    otpComplexity: 4-8\n'), 'f', {}), /expected "xx-yyN"/);
  assert.throws(() => parseConfig(profile('    otpComplexity: 08-04N\n'), 'f', {}), /minimum length/);
  assert.throws(() => parseConfig(profile('    otpComplexity: 02-08N\n'), 'f', {}), /at least 4/);
  assert.throws(() => parseConfig(profile('    authentication: [face]\n'), 'f', {}), /must include "pin"/);
  assert.throws(() => parseConfig(profile('    deviceRestriction: trusted\n'), 'f', {}), /deviceRestriction/);
  assert.throws(() => parseConfig(profile('    encoding: smart-card\n'), 'f', {}), /encoding/);
  assert.throws(
    () =>
      parseConfig(
        'credentialProfiles:\n  p:\n    certificates: [{ template: smime-encryption, container: citrix-securevault, includeHistoric: true }]\n',
        'f',
        {},
      ),
    /historic certificates cannot be provisioned to citrix-securevault/,
  );
  assert.throws(() => parseConfig('mobile:\n  maxSessions: -2\n', 'f', {}), /maxSessions/);
});

test('codes: the longest allowed length, grouped by four; typed with or without spaces; compared as HMACs bound to the request', () => {
  const length = codeLength('04-08N');
  assert.deepEqual(length, { min: 4, max: 8 });
  const codes = new Set(Array.from({ length: 200 }, () => generateCode(length)));
  for (const c of codes) assert.match(c, /^\d{4} \d{4}$/);
  assert.ok(codes.size > 190, 'random');
  assert.match(generateCode(codeLength('06-10N')), /^\d{4} \d{4} \d{2}$/);
  assert.equal(normalizeCode(' 1234-5678 ', length), '12345678');
  assert.equal(normalizeCode('123', length), undefined);
  assert.equal(normalizeCode('1234567890', length), undefined);
  assert.equal(normalizeCode('12ab5678', length), undefined);
  const mac = new CodeMac(Buffer.alloc(32, 7));
  const stored = mac.digest('mobile code', 'req-1', '1234 5678');
  assert.ok(!stored.includes('12345678'));
  assert.equal(mac.matches('mobile code', 'req-1', '12345678', stored), true);
  assert.equal(mac.matches('mobile code', 'req-2', '12345678', stored), false, 'bound to the request');
  assert.equal(mac.matches('mobile code', 'req-1', '12345679', stored), false);
});

const person = (extra: Partial<Person> = {}): Person => ({
  id: 'u',
  userName: 'jane',
  displayName: 'Jane',
  email: 'jane@example.com',
  mobile: '+447700900123',
  upn: null,
  title: null,
  groups: [],
  roles: [],
  createdAt: 0,
  updatedAt: 0,
  ...extra,
});
const senders: Senders = { email: { send: async () => undefined }, sms: { send: async () => 'ok' } };
const notifications = (otpDelivery: 'screen' | 'sms' | 'email', s: Senders = senders) =>
  new Notifications({
    messages: {} as Messages,
    senders: s,
    otpDelivery,
    appLink: 'credgate://collect',
    baseUrl: 'https://gw.example.com',
    log: pino({ level: 'silent' }),
  });
const refusal = (fn: () => unknown, pattern: RegExp) =>
  assert.throws(fn, (err: unknown) => err instanceof IdentityError && err.kind === 'bad_request' && pattern.test(err.message));

test('a code sent by SMS means the notification goes by email, never both by SMS', () => {
  const n = notifications('sms');
  assert.deepEqual(n.plan(person(), undefined), { code: 'sms', notifyBy: 'email' });
  assert.deepEqual(n.plan(person(), 'email'), { code: 'sms', notifyBy: 'email' });
  assert.deepEqual(n.plan(person(), 'none'), { code: 'sms', notifyBy: null });
  refusal(() => n.plan(person(), 'sms'), /notification must go by email, not SMS;/);
  refusal(() => n.plan(person({ mobile: null }), undefined), /code goes by SMS.*jane has no mobile number/);
  refusal(() => n.plan(person({ email: null }), undefined), /notification goes by email, but jane has no email address/);
  refusal(() => notifications('sms', { sms: senders.sms! }).plan(person(), undefined), /email \(notify\.email\) is not configured/);
});

test('on screen the code goes to the requester; the notification by the chosen channel, or whichever the person can be reached on', () => {
  const n = notifications('screen');
  assert.deepEqual(n.plan(person(), undefined), { code: 'screen', notifyBy: 'email' });
  assert.deepEqual(n.plan(person({ email: null }), undefined), { code: 'screen', notifyBy: 'sms' });
  assert.deepEqual(n.plan(person(), 'sms'), { code: 'screen', notifyBy: 'sms' });
  assert.deepEqual(notifications('screen', {}).plan(person(), undefined), { code: 'screen', notifyBy: null });
  refusal(() => notifications('screen', {}).plan(person(), 'email'), /notify is "email", but email \(notify\.email\) is not configured/);
  assert.deepEqual(notifications('email').plan(person(), undefined), { code: 'email', notifyBy: 'email' });
  assert.equal(n.link('r-1', '1234 5678'), 'credgate://collect?server=https%3A%2F%2Fgw.example.com&request=r-1&code=12345678');
  assert.equal(maskAddress('jane@example.com'), 'j***@example.com');
  assert.equal(maskAddress('+447700900123'), '+44*******123');
});

test('the SMS gateway gets the configured method, headers and body template, escaped for its content type; a refusal is an error without the message', async () => {
  const seen: { method?: string; url?: string; type?: string; auth?: string; body: string }[] = [];
  let status = 200;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, type: req.headers['content-type'], auth: req.headers.authorization, body });
      res.writeHead(status).end('{"queued":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const json = new SmsSender({
      url: `${url}/v1/sms`,
      method: 'POST',
      headers: { Authorization: 'Bearer t' },
      contentType: 'application/json',
      body: '{"to": "{{mobile}}", "text": "{{message}}"}',
      timeout: '5s',
    });
    assert.equal(await json.send('+447700900123', 'Code "1234"\nbye'), '{"queued":true}');
    assert.deepEqual(JSON.parse(seen[0]!.body), { to: '+447700900123', text: 'Code "1234"\nbye' });
    assert.equal(seen[0]!.auth, 'Bearer t');
    assert.equal(seen[0]!.type, 'application/json');

    const form = new SmsSender({
      url: `${url}/send`,
      method: 'POST',
      headers: {},
      contentType: 'application/x-www-form-urlencoded',
      body: 'msisdn={{mobile}}&msg={{message}}',
      timeout: '5s',
    });
    await form.send('+15550100', 'a&b=c');
    assert.deepEqual(Object.fromEntries(new URLSearchParams(seen[1]!.body)), { msisdn: '+15550100', msg: 'a&b=c' });

    const get = new SmsSender({
      url: `${url}/get?to={{mobile}}&text={{message}}`,
      method: 'GET',
      headers: {},
      contentType: 'application/json',
      body: '',
      timeout: '5s',
    });
    await get.send('+15550100', 'hi there');
    assert.equal(seen[2]!.url, '/get?to=%2B15550100&text=hi%20there');
    assert.equal(seen[2]!.body, '');

    status = 402;
    await assert.rejects(json.send('+15550100', 'secret 9876'), (err: Error) => /402/.test(err.message) && !err.message.includes('9876'));
  } finally {
    server.close();
  }
});
