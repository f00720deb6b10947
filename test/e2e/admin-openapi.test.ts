/**
 * The admin API's OpenAPI document (api/admin-v1.openapi.yaml) against a
 * running gateway, as a client generated from it would meet the API:
 *
 * - every route the gateway registers under /api/v1 is in the document with
 *   its method, and every documented operation is a registered route, so a
 *   route added without documentation fails here (and the same for
 *   /mobile/v1 and its document);
 * - both documents (admin and Identity Agent) are valid OpenAPI 3.1;
 * - each operation's `security` is what its guard does: no credential 401,
 *   HTTP Basic only where documented, a token without a documented role 403,
 *   one with it past the guard; and whatever the guard lets through gets a
 *   status the operation lists, with the documented error body;
 * - real answers (users, mobile IDs, certificates, SCEP, derived
 *   credentials, …) have the documented status, shape and headers;
 * - the MyID refusals it quotes are what the gateway answers.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { compileErrors, dereference, validate } from '@readme/openapi-parser';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import request from 'supertest';
import { parse } from 'yaml';
import { MYID_REFUSALS } from '../../src/identity/requests.js';
import { TokenRepository } from '../../src/store/tokens.js';
import { curl } from '../helpers/curl.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { adminCurlArgs } from '../helpers/pki.js';

type Json = Record<string, unknown>;
type Operation = { security?: Record<string, string[]>[]; parameters?: Json[]; responses: Record<string, Json> };
type Doc = { paths: Record<string, Record<string, unknown> & { parameters?: Json[] }>; components: Json };

const ADMIN_DOC = join(import.meta.dirname, '../../api/admin-v1.openapi.yaml');
const MOBILE_DOC = join(import.meta.dirname, '../../api/mobile-v1.openapi.yaml');
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];
const readDoc = (file: string) => parse(readFileSync(file, 'utf8')) as Doc;
const BASIC = { username: 'console', password: 'correct horse battery staple', principal: 'console', roles: ['admin'] };

/**
 * Where a mapping value is null outside examples, defaults and enums: in
 * these documents that is YAML's reading of an unquoted comma or colon in a
 * flow mapping (`{ description: a, b }` has a key "b"), which a validator
 * takes for an unknown keyword and lets pass.
 */
function nullValues(node: unknown, at = ''): string[] {
  if (Array.isArray(node)) return node.flatMap((x, i) => nullValues(x, `${at}[${i}]`));
  if (!node || typeof node !== 'object') return [];
  return Object.entries(node).flatMap(([k, v]) =>
    ['example', 'examples', 'default', 'const', 'enum'].includes(k) ? [] : v === null ? [`${at}.${k}`] : nullValues(v, `${at}.${k}`),
  );
}

/** Every documented operation, "METHOD /api/v1/path". */
function operations(doc: Doc): { method: string; path: string; op: Operation }[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((m) => ({ method: m.toUpperCase(), path, op: item[m] as Operation })),
  );
}

describe('the admin API OpenAPI document', () => {
  let gw: TestGateway;
  let base: string;
  let rootPem: Buffer;
  let doc: Doc;
  let resolved: Doc;
  const tokens: Record<'none' | 'admin' | 'key-recovery' | 'card-management', string> = { none: '', admin: '', 'key-recovery': '', 'card-management': '' };
  const ajv = new Ajv2020({ strict: true, strictTypes: false, strictRequired: false, validateFormats: false, allErrors: true });
  const compiled = new WeakMap<object, ValidateFunction>();

  before(async () => {
    gw = await startTestGateway({
      overrides: {
        auth: { basic: [BASIC] },
        credentialProfiles: {
          // Only people with the staff role receive anything, so others meet the MyID refusals.
          'staff-smime': { certificates: [{ template: 'smime-signing' }], roles: { receive: ['staff'] } },
          archive: { certificates: [{ template: 'smime-encryption', historic: 'historic-only' }], roles: { receive: ['staff'] } },
        },
      },
    });
    base = gw.url;
    rootPem = readFileSync(join(gw.dir, 'certs/root-ca.pem'));
    const repo = new TokenRepository(gw.db);
    tokens.none = (await repo.create({ name: 'nobody', roles: [] })).token;
    tokens.admin = (await repo.create({ name: 'ops', roles: ['admin'] })).token;
    tokens['key-recovery'] = (await repo.create({ name: 'recovery-officer', roles: ['key-recovery'] })).token;
    tokens['card-management'] = (await repo.create({ name: 'cms', roles: ['card-management'] })).token;
    doc = readDoc(ADMIN_DOC);
    resolved = (await dereference(readDoc(ADMIN_DOC) as never)) as unknown as Doc;
  });
  after(async () => {
    await gw?.stop();
  });

  const call = (method: string, path: string, auth: { token?: string; basic?: [string, string] } = {}, body?: unknown) => {
    let r = request(base)[method.toLowerCase() as 'get'](`/api/v1${path}`).ca(rootPem);
    if (auth.token) r = r.set('Authorization', `Bearer ${auth.token}`);
    if (auth.basic) r = r.auth(auth.basic[0], auth.basic[1]);
    return body === undefined ? r : r.send(body as object);
  };
  const asAdmin = (method: string, path: string, body?: unknown) => call(method, path, { token: tokens.admin }, body);

  /**
   * The answer has a status the operation lists (413, 415 and 500 only under
   * `default`), a body of the documented schema and the documented headers.
   */
  function conforms(method: string, docPath: string, res: { status: number; body: unknown; headers: Record<string, string> }): void {
    const op = resolved.paths[docPath]?.[method.toLowerCase()] as Operation | undefined;
    assert.ok(op, `${method} ${docPath} is not documented`);
    const listed = op.responses[String(res.status)] ?? ([413, 415, 500].includes(res.status) ? op.responses.default : undefined);
    assert.ok(listed, `${method} ${docPath} answered ${res.status}, which the document does not list: ${JSON.stringify(res.body)}`);
    const schema = (listed.content as Record<string, { schema?: object }> | undefined)?.['application/json']?.schema;
    if (schema) {
      const check = compiled.get(schema) ?? ajv.compile(schema);
      compiled.set(schema, check);
      assert.ok(
        check(res.body),
        `${method} ${docPath} ${res.status} does not match the document: ${ajv.errorsText(check.errors)}\n${JSON.stringify(res.body)}`,
      );
    } else if (res.status === 204) {
      assert.deepEqual(res.body, {}, 'no body');
    }
    for (const [name, header] of Object.entries((listed.headers ?? {}) as Record<string, { schema?: { const?: string } }>)) {
      const got = res.headers[name.toLowerCase()];
      assert.ok(got, `${method} ${docPath} ${res.status}: the document promises a ${name} header`);
      if (header.schema?.const !== undefined) assert.equal(got, header.schema.const, `${method} ${docPath} ${res.status}: ${name}`);
    }
  }

  test('every route under /api/v1 is documented with its method, and every documented operation is a route', () => {
    const registered = gw.routes
      .filter((r) => r.path.startsWith('/api/v1/'))
      .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`)
      .sort();
    const documented = operations(doc)
      .map((o) => `${o.method} /api/v1${o.path}`)
      .sort();
    assert.ok(registered.includes('GET /api/v1/whoami') && registered.includes('POST /api/v1/mobile-ids/{id}/cancel'), 'the route list reads the gateway');
    assert.deepEqual(
      registered.filter((r) => !documented.includes(r)),
      [],
      'routes the document lacks: describe them in api/admin-v1.openapi.yaml',
    );
    assert.deepEqual(
      documented.filter((d) => !registered.includes(d)),
      [],
      'documented operations the gateway does not serve',
    );
    assert.equal(new Set(registered).size, registered.length, 'no route is registered twice');
  });

  test('the Identity Agent document lists exactly the routes under /mobile/v1 too', () => {
    const registered = gw.routes
      .filter((r) => r.path.startsWith('/mobile/v1/'))
      .map((r) => `${r.method} ${r.path}`)
      .sort();
    const documented = operations(readDoc(MOBILE_DOC))
      .map((o) => `${o.method} /mobile/v1${o.path}`)
      .sort();
    assert.ok(registered.length > 0, 'mobile.enabled serves /mobile/v1');
    assert.deepEqual(registered, documented);
  });

  test('both documents are valid OpenAPI 3.1', async () => {
    for (const file of [ADMIN_DOC, MOBILE_DOC]) {
      const d = readDoc(file) as unknown as { openapi: string };
      assert.match(d.openapi, /^3\.1\.\d+$/, `${file} is OpenAPI 3.1`);
      const result = await validate(d as never);
      assert.ok(result.valid, `${file}:\n${result.valid ? '' : compileErrors(result)}`);
      assert.deepEqual(result.warnings, [], file);
      assert.deepEqual(nullValues(d), [], `${file}: quote text with commas or colons inside { … }`);
    }
    // The validator does refuse: a response without a description is no OpenAPI.
    const broken = readDoc(ADMIN_DOC);
    delete (broken.paths['/whoami']!.get as Operation).responses['200']!.description;
    assert.equal((await validate(broken as never)).valid, false);
  });

  test('the document is served without credentials, as the file is', async () => {
    const r = await request(base).get('/api/v1/openapi.yaml').ca(rootPem);
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'] ?? '', /^application\/yaml/);
    assert.equal(r.text, readFileSync(ADMIN_DOC, 'utf8'));
    assert.equal((await request(base).post('/api/v1/openapi.yaml').ca(rootPem)).status, 404, 'only GET');
  });

  test("each operation's security is what its guard does, and what passes the guard gets a documented answer", async () => {
    const sample = (p: Json): string => {
      const s = (p.schema ?? {}) as { type?: string; format?: string; pattern?: string; enum?: string[] };
      if (s.type === 'integer') return '1';
      if (s.format === 'uuid') return randomUUID();
      if (s.enum) return s.enum[0]!;
      if (s.pattern?.includes('0-9a-fA-F')) return '0a';
      return 'nothing-here';
    };
    for (const { method, path, op } of operations(resolved)) {
      const params = [...(resolved.paths[path]!.parameters ?? []), ...(op.parameters ?? [])].filter((p) => p.in === 'path');
      const url = params.reduce((u, p) => u.replace(`{${String(p.name)}}`, encodeURIComponent(sample(p))), path);
      const body = ['POST', 'PUT', 'PATCH'].includes(method) ? {} : undefined;
      const security = op.security ?? [];
      const where = `${method} ${path}`;

      const anonymous = await call(method, url, {}, body);
      if (security.length === 0) {
        assert.equal(anonymous.status, 200, `${where} is public`);
        continue;
      }
      assert.equal(anonymous.status, 401, `${where} without a credential`);
      assert.ok(anonymous.headers['www-authenticate'], `${where}: WWW-Authenticate`);
      conforms(method, path, anonymous);

      const basic = await call(method, url, { basic: [BASIC.username, BASIC.password] }, body);
      if (security.some((s) => 'basicAuth' in s)) assert.equal(basic.status, 200, `${where} takes Basic`);
      else assert.equal(basic.status, 401, `${where} refuses Basic, even for a user with the admin role`);

      // Any one documented requirement is enough; an empty role list is any authenticated caller.
      const bearer = security.filter((s) => 'bearerToken' in s).map((s) => s.bearerToken!);
      assert.ok(bearer.length > 0, `${where} accepts tokens`);
      for (const [role, token] of Object.entries(tokens)) {
        const r = await call(method, url, { token }, body);
        const allowed = bearer.some((roles) => roles.length === 0 || roles.includes(role));
        const guardRefusal = r.status === 403 && /lacks the role this needs/.test(String(r.body.message));
        assert.equal(guardRefusal, !allowed, `${where} with a ${role} token: ${r.status} ${JSON.stringify(r.body)}`);
        assert.notEqual(r.status, 401, `${where} with a ${role} token`);
        assert.doesNotMatch(String(r.body.message ?? ''), /^no route for/, `${where} is a route`);
        conforms(method, path, r);
      }
    }
  });

  test('whoami answers each method of authentication with the documented principal', async () => {
    const cert = await curl(`${base}/api/v1/whoami`, adminCurlArgs(join(gw.dir, 'certs')));
    conforms('GET', '/whoami', { status: cert.status, body: cert.json(), headers: {} });
    assert.deepEqual((cert.json().principal as Json).method, 'client-cert');
    const basic = await call('GET', '/whoami', { basic: [BASIC.username, BASIC.password] });
    conforms('GET', '/whoami', basic);
    assert.deepEqual(basic.body.principal, { name: 'console', method: 'basic', roles: ['admin'] });
    const wrong = await call('GET', '/whoami', { basic: [BASIC.username, 'not the password'] });
    conforms('GET', '/whoami', wrong);
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers['www-authenticate'], 'Bearer realm="credgate", Basic realm="credgate"');
  });

  test('the MyID refusals the document quotes are what a request for an unsuitable user gets', async () => {
    const examples = (
      (resolved.components.responses as Json).MobileIdRefused as { content: { 'application/json': { examples: Record<string, { value: Json }> } } }
    ).content['application/json'].examples;
    const text = readFileSync(ADMIN_DOC, 'utf8');
    for (const refusal of Object.values(MYID_REFUSALS)) assert.ok(text.includes(refusal), `the document quotes "${refusal}"`);

    const users = [
      { userName: 'nocontact', displayName: 'No Contact' },
      { userName: 'jane', displayName: 'Jane Smith', email: 'jane@example.com' },
      { userName: 'sam', displayName: 'Sam Staff', email: 'sam@example.com', roles: ['staff'] },
    ];
    const imported = await asAdmin('POST', '/users/import', users);
    conforms('POST', '/users/import', imported);
    assert.deepEqual(imported.body, { created: 3, updated: 0, unchanged: 0 });

    const cases: [string, Json][] = [
      ['noContact', { user: 'nocontact' }],
      ['noProfile', { user: 'jane' }],
      ['noCertificates', { user: 'sam', credentialProfile: 'archive' }],
    ];
    for (const [name, body] of cases) {
      const r = await asAdmin('POST', '/mobile-ids', body);
      conforms('POST', '/mobile-ids', r);
      assert.equal(r.status, 400, name);
      assert.equal(r.body.error, examples[name]!.value.error, name);
      assert.equal(r.body.message, examples[name]!.value.message, `${name}: the document's example is the gateway's answer`);
    }
    const before = await asAdmin('GET', '/mobile-ids?user=jane');
    assert.deepEqual(before.body.mobileIds, [], 'a refusal changes nothing');
  });

  test('people, devices and mobile IDs answer as documented', async () => {
    const created = await asAdmin('POST', '/users', { userName: 'lee', displayName: 'Lee Staff', email: 'lee@example.com', roles: ['staff'] });
    conforms('POST', '/users', created);
    assert.equal(created.status, 201);
    conforms('POST', '/users', await asAdmin('POST', '/users', { userName: 'lee', displayName: 'Again' }));
    const bad = await asAdmin('POST', '/users', { userName: 'has space', displayName: 'X', email: 'no', extra: 1 });
    conforms('POST', '/users', bad);
    assert.equal(bad.status, 400);
    conforms('GET', '/users', await asAdmin('GET', '/users?limit=1'));
    conforms('GET', '/users/{ref}', await asAdmin('GET', '/users/lee'));
    conforms('PATCH', '/users/{ref}', await asAdmin('PATCH', '/users/lee', { mobile: '+44 7700 900123', upn: null }));
    const csv = await call('POST', '/users/import', { token: tokens.admin })
      .set('Content-Type', 'text/csv')
      .send('userName,displayName,email,roles\nkim,Kim Staff,kim@example.com,staff;london\n');
    conforms('POST', '/users/import', csv);
    assert.deepEqual(csv.body, { created: 1, updated: 0, unchanged: 0 });

    const device = await asAdmin('POST', '/devices', { serial: 'f2lx1234abcd', platform: 'iOS', owner: 'lee' });
    conforms('POST', '/devices', device);
    assert.equal(device.body.device.serial, 'F2LX1234ABCD');
    conforms('GET', '/devices', await asAdmin('GET', '/devices?owner=lee'));
    conforms('GET', '/devices', await asAdmin('GET', '/devices?owner=nobody-at-all'));
    conforms('PATCH', '/devices/{ref}', await asAdmin('PATCH', '/devices/F2LX1234ABCD', { model: 'iPhone15,2' }));
    conforms('POST', '/devices/import', await asAdmin('POST', '/devices/import', [{ serial: 'bad serial!', platform: 'ios' }]));

    const requested = await asAdmin('POST', '/mobile-ids', { user: 'lee', credentialProfile: 'staff-smime', qr: true });
    conforms('POST', '/mobile-ids', requested);
    assert.equal(requested.status, 201);
    assert.ok(requested.body.code, 'the code is on screen (mobile.otpDelivery screen)');
    const id = requested.body.mobileId.id as string;
    conforms('POST', '/mobile-ids', await asAdmin('POST', '/mobile-ids', { user: 'lee' }));
    conforms('GET', '/mobile-ids', await asAdmin('GET', '/mobile-ids?user=lee&status=ready'));
    conforms('GET', '/mobile-ids/{id}', await asAdmin('GET', `/mobile-ids/${id}`));
    conforms('POST', '/mobile-ids/{id}/validate', await asAdmin('POST', `/mobile-ids/${id}/validate`, {}));
    conforms('POST', '/mobile-ids/{id}/disable', await asAdmin('POST', `/mobile-ids/${id}/disable`, {}));
    conforms('POST', '/mobile-ids/{id}/unlock', await asAdmin('POST', `/mobile-ids/${id}/unlock`, { challenge: 'ABCD1234' }));
    const replaced = await asAdmin('POST', `/mobile-ids/${id}/replace`, { note: 'lost phone' });
    conforms('POST', '/mobile-ids/{id}/replace', replaced);
    assert.equal(replaced.status, 201);
    const again = await asAdmin('POST', `/mobile-ids/${id}/cancel`, { reason: 'keyCompromise' });
    conforms('POST', '/mobile-ids/{id}/cancel', again);
    assert.equal(again.status, 409, 'replace cancelled it');
    const cancelled = await asAdmin('POST', `/mobile-ids/${replaced.body.replacement.mobileId.id as string}/cancel`, { reason: 'certificateHold' });
    conforms('POST', '/mobile-ids/{id}/cancel', cancelled);
    assert.equal(cancelled.status, 400);
    conforms('POST', '/mobile-ids/renewal-notices', await asAdmin('POST', '/mobile-ids/renewal-notices'));

    conforms('GET', '/mobile/templates', await asAdmin('GET', '/mobile/templates'));
    conforms('PUT', '/mobile/templates/{name}', await asAdmin('PUT', '/mobile/templates/request-sms', { body: 'Collect it: {{link}}' }));
    conforms('PUT', '/mobile/templates/{name}', await asAdmin('PUT', '/mobile/templates/request-email', { subject: 'two\nlines', body: '<p>x</p>' }));
    conforms('DELETE', '/mobile/templates/{name}', await asAdmin('DELETE', '/mobile/templates/request-sms'));
    conforms('DELETE', '/mobile/templates/{name}', await asAdmin('DELETE', '/mobile/templates/no-such'));
  });

  test('certificates, audit, jobs, SCEP, OTA, connectors and derived credentials answer as documented', async () => {
    const issued = await asAdmin('POST', '/certificates', { template: 'tls-client', user: { userName: 'svc-1' }, userId: 'svc-1' });
    conforms('POST', '/certificates', issued);
    assert.equal(issued.status, 201);
    assert.ok(issued.body.pkcs12 && issued.body.pkcs12Password, 'a key generated here comes back once');
    const serial = issued.body.certificate.serial as string;
    conforms('POST', '/certificates', await asAdmin('POST', '/certificates', { template: 'no-such' }));
    conforms('GET', '/certificates', await asAdmin('GET', '/certificates?user=svc-1&status=valid'));
    conforms('GET', '/certificates', await asAdmin('GET', '/certificates?limit=0'));
    conforms('GET', '/certificates/{serial}', await asAdmin('GET', `/certificates/${serial.toUpperCase()}`));
    conforms('GET', '/certificates/{serial}', await asAdmin('GET', '/certificates/not-hex'));
    conforms('POST', '/certificates/{serial}/release', await asAdmin('POST', `/certificates/${serial}/release`, {}));
    conforms('POST', '/certificates/{serial}/hold', await asAdmin('POST', `/certificates/${serial}/hold`, { note: 'checking' }));
    conforms('POST', '/certificates/{serial}/release', await asAdmin('POST', `/certificates/${serial}/release`, {}));
    conforms('POST', '/certificates/{serial}/revoke', await asAdmin('POST', `/certificates/${serial}/revoke`, { reason: 'removeFromCRL' }));
    const revoked = await asAdmin('POST', `/certificates/${serial}/revoke`, { reason: 'keyCompromise' });
    conforms('POST', '/certificates/{serial}/revoke', revoked);
    assert.equal(revoked.body.certificate.status, 'revoked');
    conforms('POST', '/certificates/{serial}/revoke', await asAdmin('POST', `/certificates/${serial}/revoke`, {}));
    const recover = await call('POST', `/certificates/${serial}/recover-key`, { token: tokens['key-recovery'] }, { reason: 'no escrow' });
    conforms('POST', '/certificates/{serial}/recover-key', recover);
    assert.equal(recover.status, 404, 'tls-client keys are not escrowed');
    conforms('GET', '/audit', await asAdmin('GET', `/audit?subjectId=${serial}`));

    conforms('GET', '/jobs', await asAdmin('GET', '/jobs?status=dead'));
    conforms('GET', '/jobs', await asAdmin('GET', '/jobs?status=lost'));
    conforms('GET', '/jobs/{id}', await asAdmin('GET', '/jobs/x'));
    conforms('GET', '/connectors', await asAdmin('GET', '/connectors'));

    const challenge = await asAdmin('POST', '/scep/challenges', { binding: { CN: 'kiosk-1' }, exact: true, ttl: '10m' });
    conforms('POST', '/scep/challenges', challenge);
    assert.equal(challenge.status, 201);
    conforms('POST', '/scep/challenges', await asAdmin('POST', '/scep/challenges', { profile: 'no-such' }));
    conforms('GET', '/scep/requests', await asAdmin('GET', '/scep/requests'));
    conforms('POST', '/scep/requests/{id}/reject', await asAdmin('POST', '/scep/requests/x/reject', {}));

    const ota = await asAdmin('POST', '/ota/enrollments', { credentialProfile: 'staff-smime', user: { id: 'u-1', displayName: 'U', email: 'u@example.com' } });
    conforms('POST', '/ota/enrollments', ota);
    assert.equal(ota.status, 409, 'ota.deviceCa is not configured in this gateway');
    assert.equal(ota.body.error, 'not_ready');

    const report = { issuer: 'C=US, O=Example Agency, CN=Example PIV CA', serial: '1A:2B:3C:4D', note: 'card terminated' };
    const cms = await call('POST', '/derived-credentials/piv-cancelled', { token: tokens['card-management'] }, report);
    conforms('POST', '/derived-credentials/piv-cancelled', cms);
    assert.equal(cms.status, 200);
    assert.equal(cms.body.card.serial, '1a2b3c4d');
    const repeated = await asAdmin('POST', '/derived-credentials/piv-cancelled', report);
    conforms('POST', '/derived-credentials/piv-cancelled', repeated);
    assert.equal(repeated.body.alreadyCancelled, true);
    conforms('POST', '/derived-credentials/piv-cancelled', await asAdmin('POST', '/derived-credentials/piv-cancelled', { ...report, pin: '1234' }));
    conforms('POST', '/derived-credentials/rederive-notices', await asAdmin('POST', '/derived-credentials/rederive-notices'));
    conforms('GET', '/derived-credentials', await asAdmin('GET', '/derived-credentials?user=sam'));
  });

  test('body errors come in the documented error body, before authentication', async () => {
    const malformed = await request(base).post('/api/v1/users').ca(rootPem).set('Content-Type', 'application/json').send('{"userName": ');
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.error, 'malformed_body');
    conforms('POST', '/users', malformed);
    const huge = await request(base)
      .post('/api/v1/users')
      .ca(rootPem)
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ displayName: 'x'.repeat(2 * 1024 * 1024) }));
    assert.equal(huge.status, 413);
    conforms('POST', '/users', huge);
    const unknown = await asAdmin('GET', '/no-such-thing');
    assert.equal(unknown.status, 404);
    assert.deepEqual(Object.keys(unknown.body).sort(), ['error', 'message', 'requestId']);
    assert.equal(unknown.body.requestId, unknown.headers['x-request-id'], 'the request id is also the header');
  });
});
