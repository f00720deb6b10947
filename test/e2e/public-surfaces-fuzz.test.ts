/**
 * No 5xx for any client input: seeded fuzzing of every public surface of a
 * real gateway over HTTPS, written byte by byte (test/helpers/raw-https.ts)
 * so that methods, paths, headers and framing can be anything a client can
 * put on the wire. Surfaces: /scep (odd GET queries, random and mutated
 * pkiMessages), /pki (CA certificates, CRLs, OCSP by GET and POST), /ota,
 * /mobile/v1, the Workspace ONE and Citrix certsrv inbound endpoints,
 * /derived with a PIV card, /api/v1 without credentials and as an
 * administrator, SCEP and certsrv requests signed correctly with odd names
 * and extensions inside, and paths, headers, framing and bodies of every
 * kind across all of them. The gateway stores in MariaDB, whose column
 * limits SQLite does not enforce.
 *
 * Each batch asserts that no answer is a 5xx or missing, that /healthz still
 * answers, and that the gateway logged nothing at level error or fatal.
 * The seed is printed; PUBLIC_FUZZ_SEED=<n> replays a run (the messages'
 * keys and nonces are fresh each run; what is mutated, where and how, is
 * the seed's).
 */
import assert from 'node:assert/strict';
import { createPublicKey, sign, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { gzipSync } from 'node:zlib';
import forge from 'node-forge';
import {
  algorithmIdentifier,
  bitString,
  bmp,
  derSequence,
  ia5,
  int as integer,
  octets,
  oid,
  parseDer,
  printable,
  seq,
  set,
  toDer,
  utf8,
  type Asn1,
} from '../../src/pki/asn1.js';
import { TokenRepository } from '../../src/store/tokens.js';
import { citrixSettings, escrowGatewayOf, writeConnectorFile, ws1Settings } from '../helpers/connector-files.js';
import { curl } from '../helpers/curl.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { makeDeviceCa } from '../helpers/iphone.js';
import { freshMysqlDatabase, type TestDatabase } from '../helpers/mariadb.js';
import { freePort } from '../helpers/net.js';
import { openssl } from '../helpers/openssl.js';
import { issuePivCard, makePivCa } from '../helpers/piv.js';
import { adminCurlArgs } from '../helpers/pki.js';
import { rawHttps, type RawRequest, type RawTarget } from '../helpers/raw-https.js';
import { deviceCsr, issuerAndSerial, issuerAndSubject, newDevice, pkiMessage, type Identity } from '../helpers/scep-client.js';
import { mutateBytes, pick, randomBytesFrom, rng, seedFrom } from '../helpers/seeded-fuzz.js';
import { tempDir } from '../helpers/tmp.js';
import { makeTestTls, writeTestTlsFiles } from '../helpers/ws1-standins.js';

const SEED = seedFrom('PUBLIC_FUZZ_SEED', 20270214);
const IN_FLIGHT = 4;
const STATIC_CHALLENGE = 'fuzz-static-challenge';
const WS1_PASSWORD = 'ws1-fuzz-events-pw';
const CERTSRV_PASSWORD = 'xm-fuzz-pki-pw';

type R = () => number;
/** A request, and whether the server may rightly hang up without answering (a body shorter than its Content-Length). */
interface Case extends RawRequest {
  mayDrop?: boolean;
  /** Sent from another loopback address, so wrong passwords do not throttle the batches that log in. */
  from?: string;
  card?: boolean;
}

const int = (r: R, n: number) => Math.floor(r() * n);

// ---------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------

const PATH_EDGES = [
  '%',
  '%25',
  '%00',
  '%2500',
  '%ZZ',
  '%2',
  '%%',
  '%252F',
  '%2525',
  '%C0%AE%C0%AE/',
  '%C0%AF',
  '%E0%80%AF',
  '%F0%80%80%AF',
  '%ED%A0%80',
  '%FF',
  '%FE%FF',
  '..',
  '../',
  '..%2F',
  '%2e%2e',
  '%2e%2e%2f',
  '.%2e/',
  '..;/',
  '%2F',
  '%5C',
  '\\',
  '//',
  ';',
  ';jsessionid=1',
  '~',
  '%7E',
  '+',
  '%20',
  '%0A',
  '%0D%0A',
  '*',
  '\u00e9',
  '\u00ff',
  'a'.repeat(4000),
  '%u002e',
  '%23',
  '&',
  '=',
  '.',
  'ca.cer',
  'ocsp',
  'default',
  'events',
  'certnew.cer',
  ':',
  '@',
  '$',
  '!',
];
const QUERY_EDGES = [
  '',
  'a',
  'a=',
  '=a',
  'a=%',
  'a=%ZZ',
  'a=%00',
  'a=%C0%AE',
  'code=%25',
  'code=',
  'code=x&code=y',
  'code[]=1',
  'code[a]=1',
  '__proto__=1',
  '__proto__[x]=1',
  'constructor[prototype][x]=1',
  'operation=GetCACaps',
  'operation=GetCACert',
  'operation=PKIOperation',
  'operation=GetCACaps&operation=GetCACert',
  'operation=PKIOperation&message=',
  'operation=PKIOperation&message=%',
  'operation=PKIOperation&message=AAAA',
  'message=%2B%2F%3D',
  'ReqID=1',
  'ReqID=CACert',
  'ReqID=-1',
  'ReqID=1e309',
  'ReqID=99999999999999999999',
  'ReqID=1&ReqID=2',
  'Enc=b64',
  'Enc=bin',
  'Enc=x',
  'Enc=b64&Enc=bin',
  'Renewal=1',
  'Renewal=',
  'status=dead',
  'status[]=x',
  'limit=-1',
  'limit=1e999',
  'limit=NaN',
  'before=0x10',
  'user=%00',
  'profile=__proto__',
  `type=${'x'.repeat(3000)}`,
  ';',
  '&&&',
  '#x',
];
const METHODS = [
  'GET',
  'GET',
  'GET',
  'POST',
  'POST',
  'POST',
  'PUT',
  'DELETE',
  'PATCH',
  'HEAD',
  'OPTIONS',
  'TRACE',
  'PROPFIND',
  'MKCOL',
  'SEARCH',
  'QUERY',
  'get',
  'FOO',
  'M-SEARCH',
];
const CONTENT_TYPES = [
  undefined,
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/json; charset=nope',
  'application/json; charset="',
  'text/plain',
  'text/xml',
  'application/xml',
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded; charset=iso-8859-1',
  'application/x-www-form-urlencoded; charset=utf-32',
  'multipart/form-data; boundary=x',
  'application/ocsp-request',
  'application/x-pki-message',
  'application/pkcs7-signature',
  '',
  ';;;',
  'a/b/c',
  '*/*',
  'application/json, text/plain',
  'application/vnd.api+json',
  'text/html; charset=utf-8',
];
const AUTHORIZATIONS = [
  'Bearer',
  'Bearer ',
  'Bearer x',
  'bearer aaaa.bbbb.cccc',
  `Bearer ${'a'.repeat(6000)}`,
  'Basic',
  'Basic ',
  'Basic Og==',
  'Basic !!!!',
  'Basic dXNlcg==',
  `Basic ${Buffer.from('admin:admin').toString('base64')}`,
  `Basic ${Buffer.from('\u0000:\u0000').toString('base64')}`,
  `Basic ${Buffer.from('a'.repeat(5000)).toString('base64')}`,
  'Negotiate YII=',
  'Digest username="x"',
  'x',
  '',
  '\u00e9\u00e9',
];

const WEIRD_VALUES: unknown[] = [
  null,
  0,
  -1,
  1e308,
  1.5,
  '',
  ' ',
  'x'.repeat(70_000),
  '%00',
  '\u0000',
  '\ud800',
  '\u202e',
  [],
  [1, 2],
  {},
  { a: { b: {} } },
  true,
  false,
  '__proto__',
  'constructor',
  '00000000-0000-0000-0000-000000000000',
  '../../etc/passwd',
  '<script>alert(1)</script>',
  "' OR 1=1 --",
  '9'.repeat(400),
];

const deep = (n: number, open: string, close: string, leaf = '1') => open.repeat(n) + leaf + close.repeat(n);

/** Bodies that break parsers: empty, random, huge, malformed, deep, wrongly typed, entity-laden. */
function oddBody(r: R): Buffer {
  const texts = [
    '',
    '{',
    '{"a":',
    '}',
    'null',
    '1',
    '"x"',
    '[]',
    'true',
    '{"__proto__":{"admin":true}}',
    '{"constructor":{"prototype":{"x":1}}}',
    '{"a":1,"a":2}',
    '1e400',
    '["\\ud800"]',
    '{"a":"\\u0000"}',
    '\ufeff{}',
    deep(5000, '[', ']'),
    deep(3000, '{"a":', '}'),
    deep(200, '[', ']'),
    'a=%&b=%ZZ',
    'a[b][c]=1',
    'a=1&'.repeat(3000),
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><Eventlog><EventId>&c;</EventId></Eventlog>',
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><Eventlog><EventId>&e;</EventId></Eventlog>',
    `<Eventlog>${deep(3000, '<a>', '</a>')}</Eventlog>`,
    '<Eventlog',
    '<<<>>>',
    '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----',
    JSON.stringify({ request: '00000000-0000-4000-8000-000000000000', code: '123456', device: { serial: 'ABC', platform: 'ios' } }),
  ];
  switch (int(r, 5)) {
    case 0:
      return randomBytesFrom(r, int(r, 4096));
    case 1:
      // Near the 1mb body limit, now and then.
      return r() < 0.2 ? Buffer.from(`{"a":"${'A'.repeat(1_000_000 - 16)}"}`) : Buffer.from(JSON.stringify({ a: 'A'.repeat(int(r, 200_000)) }));
    case 2:
      return Buffer.from(JSON.stringify(pick(r, WEIRD_VALUES)) ?? 'undefined');
    default:
      return Buffer.from(pick(r, texts));
  }
}

/** A JSON object with one field given a wrong value, removed, or the text itself damaged. */
function mutateJson(base: Record<string, unknown>, r: R): Buffer {
  const copy = structuredClone(base);
  const nested = Object.values(copy).filter((v): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v));
  const target = nested.length > 0 && r() < 0.4 ? pick(r, nested) : copy;
  const keys = Object.keys(target);
  switch (int(r, 5)) {
    case 0:
      target[pick(r, keys)] = pick(r, WEIRD_VALUES);
      break;
    case 1:
      delete target[pick(r, keys)];
      break;
    case 2:
      target[pick(r, ['extra', 'userName', 'isAdmin', '__proto__', ''])] = pick(r, WEIRD_VALUES);
      break;
    case 3: {
      const text = JSON.stringify(copy);
      const i = int(r, text.length);
      return Buffer.from(text.slice(0, i) + pick(r, ['"', '\\', '{', '}', ',', '\u0000', '\\u', '%', ':null', '']) + text.slice(i + int(r, 4)));
    }
    default:
      break;
  }
  return Buffer.from(JSON.stringify(copy));
}

/** An odd path under `prefix`: an edge appended, inserted or swapped in, sometimes with an odd query. */
function oddPath(prefix: string, r: R): string {
  const edge = pick(r, PATH_EDGES);
  let path: string;
  switch (int(r, 4)) {
    case 0:
      path = prefix + edge;
      break;
    case 1:
      path = `${prefix}/${edge}`;
      break;
    case 2: {
      const i = 1 + int(r, Math.max(prefix.length - 1, 1));
      path = prefix.slice(0, i) + edge + prefix.slice(i);
      break;
    }
    default:
      path = prefix;
  }
  return r() < 0.4 ? `${path}?${Array.from({ length: 1 + int(r, 3) }, () => pick(r, QUERY_EDGES)).join('&')}` : path;
}

function chunked(body: Buffer, r: R): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < body.length; ) {
    const n = 1 + int(r, 512);
    const piece = body.subarray(i, i + n);
    parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
    i += n;
  }
  return Buffer.concat([...parts, Buffer.from('0\r\n\r\n')]);
}

/** The same request with its framing or headers made strange; `mayDrop` where the server may rightly hang up. */
function oddFraming(c: Case, r: R): Case {
  const body = c.body ?? Buffer.alloc(0);
  const headers = [...(c.headers ?? [])];
  switch (int(r, 14)) {
    case 0:
      // The rest of the body is read as a next request, which is garbage: the server may close the connection over both.
      return { ...c, contentLength: Math.max(0, body.length - 1 - int(r, 20)), mayDrop: true };
    case 1:
      return { ...c, contentLength: body.length + 1 + int(r, 100), hangUp: r() < 0.7, mayDrop: true };
    case 2:
      return { ...c, contentLength: null, headers: [...headers, ['Transfer-Encoding', 'chunked']], body: chunked(body, r) };
    case 3:
      return {
        ...c,
        contentLength: null,
        headers: [...headers, ['Transfer-Encoding', 'chunked']],
        body: Buffer.concat([Buffer.from('zz\r\n'), body]),
        mayDrop: true,
      };
    case 4:
      return {
        ...c,
        contentLength: null,
        headers: [...headers, ['Transfer-Encoding', 'chunked']],
        body: chunked(body, r).subarray(0, -5),
        hangUp: r() < 0.7,
        mayDrop: true,
      };
    case 5:
      return { ...c, headers: [...headers, ['Transfer-Encoding', pick(r, ['gzip, chunked', 'chunked, identity', 'identity', 'x'])]], mayDrop: true };
    case 6:
      return { ...c, headers: [...headers, ['Content-Encoding', pick(r, ['gzip', 'deflate', 'br', 'identity', 'gzip, gzip', 'x-unknown', 'zstd'])]] };
    case 7:
      return { ...c, headers: [...headers, ['Content-Encoding', 'gzip']], body: gzipSync(body) };
    case 8:
      return { ...c, headers: [...headers, ['Content-Length', pick(r, ['-1', '1e3', ' 10', '0x10', '1,1', '99999999999999999999', ''])]], mayDrop: true };
    case 9:
      return { ...c, headers: [...headers, ['Expect', pick(r, ['100-continue', 'x'])]] };
    case 10:
      return { ...c, headers: [...headers, ['Content-Type', pick(r, CONTENT_TYPES) ?? 'x'], ['Content-Type', pick(r, CONTENT_TYPES) ?? 'y']] };
    case 11:
      return {
        ...c,
        headers: [
          ...headers,
          [
            pick(r, ['X-Request-Id', 'X-Forwarded-For', 'Accept', 'Accept-Charset', 'Range', 'If-None-Match', 'Cookie', 'Origin']),
            pick(r, ['\u00e9', 'a'.repeat(8000), '*', '"', '../', 'bytes=0-1,5-2', '%00', '']),
          ],
        ],
      };
    case 12:
      return { ...c, headers: [...headers, ['Host', pick(r, ['', 'evil.example', 'localhost:0', '[::1', 'a'.repeat(300)])]] };
    default:
      return c;
  }
}

// ---------------------------------------------------------------------------
// Requests that are signed correctly and odd inside: the names and extensions
// only a parser past the signature checks sees.
// ---------------------------------------------------------------------------

const OID = {
  challengePassword: '1.2.840.113549.1.9.7',
  extensionRequest: '1.2.840.113549.1.9.14',
  subjectAltName: '2.5.29.17',
  keyUsage: '2.5.29.15',
  basicConstraints: '2.5.29.19',
};
const NAME_TYPES = [
  '2.5.4.3',
  '2.5.4.5',
  '2.5.4.6',
  '2.5.4.10',
  '2.5.4.11',
  '1.2.840.113549.1.9.1',
  '0.9.2342.19200300.100.1.25',
  '0.9.2342.19200300.100.1.1',
  '1.2.3.4.5.6.7.8.9',
  '2.5.4.999999999999',
];
const NAME_VALUES = [
  '',
  ' ',
  'fuzz',
  'a'.repeat(70_000),
  'a'.repeat(300),
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\u202efuzz',
  '\ud83d\ude00',
  'J\u00fcrgen Gro\u00df',
  '<script>',
  '"',
  ',+;=',
  '#00',
  'CN=admin, O=credgate dev',
  'credgate-admin',
  '\r\n',
  '%00',
  '*',
  '..',
  'x@y',
  '@',
  'e\u0301',
];
const raw = (tagClass: number, type: number, value: string | Asn1[], constructed = Array.isArray(value)) =>
  forge.asn1.create(tagClass, type, constructed, value) as Asn1;
const U = forge.asn1.Class.UNIVERSAL;

function oddValue(r: R): Asn1 {
  const text = pick(r, NAME_VALUES);
  switch (int(r, 8)) {
    case 0:
      return printable(text);
    case 1:
      return ia5(text);
    case 2:
      return bmp(text);
    case 3:
      // T61String, UniversalString, an INTEGER, an empty SEQUENCE: types a Name may not hold.
      return raw(U, pick(r, [20, 28, 2, 30]), Buffer.from(text).toString('latin1'), false);
    case 4:
      return seq([]);
    default:
      return utf8(text);
  }
}

function oddName(r: R): Asn1 {
  const rdns: Asn1[] = [];
  for (let n = int(r, r() < 0.1 ? 200 : 5); n > 0; n--) {
    const members = Array.from({ length: r() < 0.15 ? int(r, 3) : 1 }, () => seq([oid(pick(r, NAME_TYPES)), oddValue(r)]));
    rdns.push(set(members));
  }
  return seq(rdns);
}

function oddGeneralName(r: R): Asn1 {
  const CONTEXT = forge.asn1.Class.CONTEXT_SPECIFIC;
  const text = pick(r, NAME_VALUES);
  switch (int(r, 6)) {
    case 0:
      return raw(CONTEXT, 1, Buffer.from(text).toString('latin1'), false); // rfc822Name
    case 1:
      return raw(CONTEXT, 2, Buffer.from(text).toString('latin1'), false); // dNSName
    case 2:
      return raw(CONTEXT, 6, Buffer.from(text).toString('latin1'), false); // URI
    case 3:
      return raw(CONTEXT, 7, randomBytesFrom(r, pick(r, [0, 3, 4, 5, 16, 17])).toString('latin1'), false); // iPAddress of any length
    case 4:
      // otherName UPN, its value any type
      return raw(CONTEXT, 0, [oid('1.3.6.1.4.1.311.20.2.3'), raw(CONTEXT, 0, [oddValue(r)])]);
    default:
      return raw(CONTEXT, pick(r, [3, 4, 5, 8]), [seq([])]);
  }
}

function oddExtensions(r: R): Asn1 {
  const extension = (id: string, value: Buffer, critical = false) => seq([oid(id), ...(critical ? [raw(U, 1, '\xff', false)] : []), octets(value)]);
  const extensions: Asn1[] = [];
  for (let n = 1 + int(r, 3); n > 0; n--) {
    switch (int(r, 4)) {
      case 0:
        extensions.push(extension(OID.subjectAltName, toDer(seq(Array.from({ length: int(r, 4) }, () => oddGeneralName(r))))));
        break;
      case 1:
        extensions.push(extension(OID.keyUsage, randomBytesFrom(r, int(r, 6)), r() < 0.5));
        break;
      case 2:
        extensions.push(extension(OID.basicConstraints, toDer(seq([raw(U, 1, '\xff', false), integer(int(r, 5))])), true));
        break;
      default:
        extensions.push(extension(`1.2.3.${int(r, 1000)}`, randomBytesFrom(r, int(r, 40)), r() < 0.5));
    }
  }
  return seq(extensions);
}

/** A PKCS#10 request signed with `key`: odd subject, odd extensions, the challenge (or an odd one). */
function oddCsr(r: R, device: Identity, challenge: string): Buffer {
  const attributes: Asn1[] = [];
  if (r() < 0.8) attributes.push(seq([oid(OID.challengePassword), set([r() < 0.8 ? printable(challenge) : oddValue(r)])]));
  if (r() < 0.6) attributes.push(seq([oid(OID.extensionRequest), set([oddExtensions(r)])]));
  if (r() < 0.1) attributes.push(seq([oid(OID.challengePassword), set([])]));
  const spki = parseDer(createPublicKey(device.key).export({ type: 'spki', format: 'der' }));
  const info = toDer(seq([integer(r() < 0.95 ? 0 : pick(r, [1, 2, -1])), oddName(r), spki, raw(forge.asn1.Class.CONTEXT_SPECIFIC, 0, attributes)]));
  return derSequence([
    info,
    toDer(algorithmIdentifier({ oid: '1.2.840.113549.1.1.11', nullParams: true })),
    toDer(bitString(sign('sha256', info, device.key))),
  ]);
}

// ---------------------------------------------------------------------------

describe('every public surface under fuzzing: no 5xx, no crash, nothing logged as an error', () => {
  let gw: TestGateway;
  let dir: string;
  let target: RawTarget;
  let defaultCa: string;
  let ocspRequest: Buffer;
  let scepMessages: Buffer[];
  let scepDevice: Identity;
  let ra: X509Certificate;
  let csrPem: string;
  let mobileBody: Record<string, unknown>;
  let ws1Event: Record<string, unknown>;
  let card: { cert: Buffer; key: Buffer };
  let enrollmentId: string;
  let adminToken: string;
  let cardPem: string;
  let logged = 0;
  let database: TestDatabase;

  const basic = (user: string, password: string): [string, string] => ['Authorization', `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`];

  before(async () => {
    dir = tempDir();
    const port = await freePort();
    const base = `https://localhost:${port}`;
    const { ca: deviceCa } = await makeDeviceCa(join(dir, 'apple'), 'Fuzz Device CA');
    const piv = await makePivCa(dir, 'Fuzz PIV CA');
    const cardFiles = await issuePivCard(dir, piv, 'fuzz-card', { cn: 'FUZZ.CARD.1', upn: 'fuzz@corp.example.com' });
    card = { cert: readFileSync(cardFiles.cert), key: readFileSync(cardFiles.key) };
    cardPem = cardFiles.pem;

    // Both connectors with inbound endpoints; nothing outbound is reached (no job workers, the XenMobile poll fails quietly).
    const tls = await makeTestTls();
    const files = writeTestTlsFiles(tls, dir);
    process.env.FUZZ_WS1_PASSWORD = WS1_PASSWORD;
    process.env.FUZZ_CERTSRV_PASSWORD = CERTSRV_PASSWORD;
    writeConnectorFile(
      join(dir, 'connectors'),
      'ws1',
      ws1Settings({
        eventsPassword: '${FUZZ_WS1_PASSWORD}',
        pkcs12: { format: 'modern', password: 'fuzz-p12-password' },
        escrowGateway: escrowGatewayOf('https://127.0.0.1:9/', tls, files),
      }),
    );
    writeConnectorFile(
      join(dir, 'connectors'),
      'xm',
      citrixSettings({
        pkiPassword: '${FUZZ_CERTSRV_PASSWORD}',
        xenmobile: { url: 'https://127.0.0.1:9', password: 'unused-here', serverCa: files.ca, pollEvery: '1h' },
      }),
    );

    database = await freshMysqlDatabase();
    gw = await startTestGateway({
      dir,
      overrides: {
        server: { port, publicUrl: base },
        logging: { level: 'warn' },
        database: { client: 'mysql', url: database.url, pool: { min: 0, max: 5 } },
        jobs: { workers: 0 },
        connectors: { dir: join(dir, 'connectors') },
        ota: { deviceCa: [deviceCa] },
        scep: { profiles: { default: {}, mdm: { challenge: { static: STATIC_CHALLENGE } }, dyn: { challenge: 'dynamic' } } },
        credentialProfiles: {
          smime: { certificates: [{ template: 'smime-signing' }] },
          derived: { encoding: 'derived-credential', certificates: [{ template: 'derived-piv-auth', container: 'none' }], roles: { request: ['*'] } },
        },
        derivedCredentials: { pivTrust: [piv.pem] },
      },
    });
    const certs = join(dir, 'certs');
    target = { port, ca: readFileSync(join(certs, 'root-ca.pem')) };
    defaultCa = gw.config.pki.defaultCa;

    const imported = await curl(`${base}/api/v1/users/import`, [
      ...adminCurlArgs(certs),
      '-H',
      'Content-Type: application/json',
      '--data-binary',
      JSON.stringify([{ userName: 'fuzz', displayName: 'Fuzz', email: 'fuzz@example.com', upn: 'fuzz@corp.example.com' }]),
    ]);
    assert.equal(imported.status, 200, imported.body);
    const requested = await curl(`${base}/api/v1/mobile-ids`, [
      ...adminCurlArgs(certs),
      '-H',
      'Content-Type: application/json',
      '--data-binary',
      JSON.stringify({ user: 'fuzz', credentialProfile: 'smime', notify: 'none' }),
    ]);
    assert.equal(requested.status, 201, requested.body);
    const mobileId = (requested.json().mobileId as { id: string }).id;
    mobileBody = {
      request: mobileId,
      code: '000000',
      device: { serial: 'FUZZ0001', platform: 'ios', model: 'iPhone15,2', osVersion: '17.4', keyStores: ['system-store'] },
    };
    enrollmentId = (await gw.ota!.create({ credentialProfile: 'smime', user: { displayName: 'Fuzz', email: 'fuzz@example.com' }, createdBy: 'test' })).id;

    openssl(['ocsp', '-issuer', join(certs, 'issuing-ca.pem'), '-serial', '0x0123456789abcdef', '-reqout', join(dir, 'ocsp.req')]);
    ocspRequest = readFileSync(join(dir, 'ocsp.req'));
    openssl([
      'req',
      '-new',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      join(dir, 'xm.key'),
      '-out',
      join(dir, 'xm.csr'),
      '-subj',
      '/CN=fuzz/serialNumber=FUZZ0001',
    ]);
    csrPem = readFileSync(join(dir, 'xm.csr'), 'utf8');

    ra = new X509Certificate(readFileSync(join(certs, 'scep-ra.pem')));
    const issuing = new X509Certificate(readFileSync(join(certs, 'issuing-ca.pem')));
    const device = await newDevice('fuzz-device');
    scepDevice = device;
    const csr = deviceCsr(device, [{ type: 'CN', value: 'fuzz-device' }], STATIC_CHALLENGE);
    scepMessages = await Promise.all(
      [
        { type: 'PKCSReq' as const, inner: csr },
        { type: 'PKCSReq' as const, inner: deviceCsr(device, [{ type: 'CN', value: 'fuzz-device' }], 'wrong') },
        { type: 'RenewalReq' as const, inner: csr },
        { type: 'CertPoll' as const, inner: issuerAndSubject(issuing, device.cert) },
        { type: 'GetCert' as const, inner: issuerAndSerial(issuing) },
        { type: 'GetCRL' as const, inner: issuerAndSerial(issuing) },
      ].map(async (m) => (await pkiMessage({ ...m, signer: device, recipients: [ra] })).der),
    );

    ws1Event = {
      EventId: 148,
      EventType: 'MDM Enrollment Complete',
      DeviceId: 1001,
      DeviceFriendlyName: 'fuzz',
      EnrollmentEmailAddress: 'fuzz@example.com',
      EnrollmentUserName: 'fuzz',
      EventTime: '2024-06-01T12:00:00.1234567Z',
      EnrollmentStatus: 'Enrolled',
      SerialNumber: 'FUZZ0001',
      Platform: 'Apple',
      DeviceUUID: 'f0f0f0f0-0000-4000-8000-000000000001',
    };
    adminToken = (await new TokenRepository(gw.db).create({ name: 'fuzz-admin', roles: ['admin', 'key-recovery', 'card-management'] })).token;
    logged = gw.logs().length;
  });
  after(async () => {
    await gw?.stop();
    await database?.drop();
  });

  /** Sends the cases IN_FLIGHT at a time; asserts no 5xx, no missing answer, /healthz alive and no error logged. */
  const run = async (t: TestContext, batch: string, cases: Case[]) => {
    t.diagnostic(`seed ${SEED} (replay with PUBLIC_FUZZ_SEED=${SEED}); ${cases.length} requests`);
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let next = 0;
    const worker = async () => {
      while (next < cases.length) {
        const i = next++;
        const c = cases[i]!;
        // A server waiting for a body that never comes is right to wait; the rest must answer.
        const answer = await rawHttps({ ...target, ...(c.card && card), ...(c.from && { localAddress: c.from }), timeoutMs: c.mayDrop ? 1_500 : 10_000 }, c);
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        if (answer.status >= 500 || (answer.status === 0 && !c.mayDrop)) {
          // Credentials stay out of the test's output; the seed replays the request.
          const headers = (c.headers ?? [])
            .map(([k, v]) => `${k}: ${k.toLowerCase() === 'authorization' ? `${v.split(' ')[0]} …` : v.slice(0, 60)}`)
            .join(' | ');
          const framing = `${c.contentLength !== undefined ? ` Content-Length ${c.contentLength}` : ''}${c.hangUp ? ' then hung up' : ''}`;
          failures.push(
            `${batch} #${i}: ${c.method} ${c.path.slice(0, 200)} [${headers}] body ${c.body?.length ?? 0} bytes${framing} ${JSON.stringify(c.body?.subarray(0, 80).toString('latin1') ?? '')} -> ${answer.status || answer.failure || 'closed'} ${answer.body.subarray(0, 300).toString()}`,
          );
        }
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    t.diagnostic(`answers: ${JSON.stringify(Object.fromEntries(statuses))}`);
    const health = await rawHttps(target, { method: 'GET', path: '/healthz' });
    const errors = gw
      .logs()
      .slice(logged)
      .split('\n')
      .filter((l) => /"level":(50|60)/.test(l));
    logged = gw.logs().length;
    // Both lists at once: the logged error usually says why the answer was a 500.
    assert.deepEqual(
      { failures: failures.slice(0, 10), errors: errors.slice(0, 5).map((l) => l.slice(0, 2000)) },
      { failures: [], errors: [] },
      `${failures.length} requests answered 5xx or not at all; ${errors.length} lines logged at level error or fatal`,
    );
    assert.equal(health.status, 200, 'the gateway still answers /healthz');
  };

  const batch = (n: number, offset: number, make: (r: R, i: number) => Case): Case[] => {
    const r = rng(SEED + offset);
    return Array.from({ length: n }, (_, i) => make(r, i));
  };

  test('paths, methods and query strings across every surface', async (t) => {
    const prefixes = [
      '',
      '/',
      '/scep',
      '/scep/',
      '/scep/default',
      '/scep/mdm',
      '/SCEP',
      '/pki',
      '/pki/',
      '/pki/ca.cer',
      '/pki/ca/',
      `/pki/ca/${defaultCa}.cer`,
      `/pki/${defaultCa}.crl`,
      '/pki/ocsp',
      '/pki/ocsp/',
      '/ota',
      '/ota/',
      '/ota/enroll',
      '/ota/profile/',
      `/ota/profile/${enrollmentId}`,
      '/mobile/v1',
      '/mobile/v1/sessions',
      '/mobile/v1/credentials',
      '/mobile/v1/ack',
      '/mobile/v1/policy',
      '/mobile/v1/openapi.yaml',
      '/connectors',
      '/connectors/ws1',
      '/connectors/ws1/events',
      '/connectors/xm/certsrv/',
      '/connectors/xm/certsrv/certfnsh.asp',
      '/connectors/xm/certsrv/certnew.cer',
      '/connectors/xm/certsrv/certnew.p7b',
      '/connectors/nope/x',
      '/derived',
      '/derived/',
      '/derived/request',
      '/api/v1',
      '/api/v1/openapi.yaml',
      '/api/v1/whoami',
      '/api/v1/certificates',
      '/api/v1/certificates/01',
      '/api/v1/audit',
      '/api/v1/jobs',
      '/api/v1/jobs/1/retry',
      '/api/v1/scep/challenges',
      '/api/v1/scep/requests/1/approve',
      '/api/v1/mobile-ids',
      '/api/v1/mobile-ids/x/unlock',
      '/api/v1/users',
      '/api/v1/users/import',
      '/api/v1/devices/x',
      '/api/v1/ota/enrollments',
      '/api/v1/derived-credentials/piv-cancelled',
      '/api/v1/mobile/templates/x',
      '/healthz',
      '/readyz',
      '/metrics',
    ];
    await run(
      t,
      'paths',
      batch(700, 1, (r) => {
        const method = pick(r, METHODS);
        const c: Case = { method, path: oddPath(pick(r, prefixes), r) };
        if (r() < 0.3) c.headers = [['Content-Type', pick(r, CONTENT_TYPES) ?? 'text/plain']];
        if (r() < 0.3) c.body = oddBody(r);
        return c;
      }),
    );
  });

  test('SCEP: odd GET queries, random DER and mutated pkiMessages', async (t) => {
    await run(
      t,
      'scep',
      batch(400, 2, (r) => {
        const profile = pick(r, [
          '',
          '/',
          '/default',
          '/mdm',
          '/nope',
          '/%',
          '/%25',
          '/%ZZ',
          '/..',
          '/%2e%2e',
          '/mdm/',
          '/__proto__',
          '/constructor',
          `/${'a'.repeat(300)}`,
        ]);
        const base = pick(r, scepMessages);
        const der = r() < 0.85 ? mutateBytes(base, r) : r() < 0.5 ? randomBytesFrom(r, int(r, 2048)) : base;
        if (r() < 0.35) {
          const b64 = der.toString('base64');
          const message = pick(r, [
            b64,
            encodeURIComponent(b64),
            b64.replace(/\+/g, ' '),
            der.toString('base64url'),
            `${b64}%`,
            `%${b64}`,
            b64.slice(0, int(r, b64.length)),
            encodeURIComponent(encodeURIComponent(b64)),
          ]);
          const operation = pick(r, ['PKIOperation', 'PKIOperation', 'GetCACaps', 'GetCACert', 'GetNextCACert', '', 'pkioperation', '%00']);
          return {
            method: pick(r, ['GET', 'GET', 'HEAD']),
            path: `/scep${profile}?operation=${operation}&message=${message}${r() < 0.2 ? `&${pick(r, QUERY_EDGES)}` : ''}`,
          };
        }
        const c: Case = {
          method: r() < 0.9 ? 'POST' : pick(r, METHODS),
          path: `/scep${profile}?${r() < 0.9 ? 'operation=PKIOperation' : pick(r, QUERY_EDGES)}`,
          headers: [['Content-Type', pick(r, ['application/x-pki-message', 'application/x-pki-message', 'application/octet-stream', 'text/plain', ''])]],
          body: der,
        };
        return r() < 0.15 ? oddFraming(c, r) : c;
      }),
    );
  });

  test('/pki: CA certificates, CRLs and OCSP by GET with odd encodings and by POST with mutated DER', async (t) => {
    await run(
      t,
      'pki',
      batch(400, 3, (r) => {
        const der = r() < 0.8 ? mutateBytes(ocspRequest, r) : r() < 0.5 ? ocspRequest : randomBytesFrom(r, int(r, 512));
        const b64 = der.toString('base64');
        switch (int(r, 4)) {
          case 0: {
            const encoded = pick(r, [
              b64,
              encodeURIComponent(b64),
              encodeURIComponent(encodeURIComponent(b64)),
              der.toString('base64url'),
              `${encodeURIComponent(b64)}%25`,
              `%25${b64}`,
              `${b64}%`,
              `${b64.slice(0, 10)}%25ZZ${b64.slice(10)}`,
              b64.replace(/\//g, '%2F'),
              b64.replace(/\//g, '//'),
              `${b64}/..`,
              `../${b64}`,
              `${b64}%00`,
              '%C0%AF',
              '%25',
              '',
            ]);
            return { method: pick(r, ['GET', 'GET', 'HEAD']), path: `/pki/ocsp/${encoded}` };
          }
          case 1: {
            const c: Case = {
              method: 'POST',
              path: pick(r, ['/pki/ocsp', '/pki/ocsp/', '/pki/ocsp?x=1', '/PKI/OCSP']),
              headers: [['Content-Type', pick(r, ['application/ocsp-request', 'text/plain', ''])]],
              body: r() < 0.05 ? randomBytesFrom(r, 70_000) : der,
            };
            return r() < 0.2 ? oddFraming(c, r) : c;
          }
          default: {
            const file = pick(r, [
              `${defaultCa}.crl`,
              `${defaultCa}.cer`,
              `ca/${defaultCa}.pem`,
              `ca/${defaultCa}.der`,
              'ca.cer',
              'ca/x.cer',
              'x.crl',
              'ca/%00.cer',
              'ca/..%2Fca.cer',
              '%2e%2e%2fca.cer',
              `${defaultCa.toUpperCase()}.crl`,
            ]);
            return { method: pick(r, ['GET', 'HEAD', 'POST', 'DELETE']), path: oddPath(`/pki/${file}`, r) };
          }
        }
      }),
    );
  });

  test('/ota: odd codes, enrollment ids and device messages', async (t) => {
    await run(
      t,
      'ota',
      batch(200, 4, (r) => {
        switch (int(r, 3)) {
          case 0:
            return {
              method: 'GET',
              path: `/ota${pick(r, ['', '/', '/enroll'])}?code=${pick(r, ['', '%', '%25', 'x', 'a'.repeat(3000), '%00', '%C0%AE', '123456', 'code', '1&code=2'])}`,
            };
          case 1: {
            const c: Case = {
              method: 'POST',
              path: `/ota/profile/${pick(r, [enrollmentId, enrollmentId.toUpperCase(), '%', '%25', 'x', '00000000-0000-0000-0000-000000000000', `${enrollmentId}%00`])}`,
              headers: [['Content-Type', 'application/pkcs7-signature']],
              body: oddBody(r),
            };
            return r() < 0.3 ? oddFraming(c, r) : c;
          }
          default:
            return { method: pick(r, METHODS), path: oddPath('/ota/profile', r), body: oddBody(r) };
        }
      }),
    );
  });

  test('/mobile/v1: session starts of every shape, odd tokens', async (t) => {
    await run(
      t,
      'mobile',
      batch(300, 5, (r) => {
        switch (int(r, 4)) {
          case 0:
          case 1: {
            const c: Case = {
              method: 'POST',
              path: '/mobile/v1/sessions',
              headers: [['Content-Type', pick(r, ['application/json', 'application/json', ...(CONTENT_TYPES.filter(Boolean) as string[])])]],
              body: r() < 0.75 ? mutateJson(mobileBody, r) : oddBody(r),
            };
            return r() < 0.2 ? oddFraming(c, r) : c;
          }
          case 2:
            return {
              method: pick(r, ['GET', 'POST']),
              path: pick(r, ['/mobile/v1/credentials', '/mobile/v1/ack']),
              headers: [['Authorization', pick(r, AUTHORIZATIONS)]],
              body: r() < 0.3 ? oddBody(r) : Buffer.alloc(0),
            };
          default:
            return {
              method: pick(r, METHODS),
              path: oddPath(pick(r, ['/mobile/v1/policy', '/mobile/v1/openapi.yaml', '/mobile/v1/sessions']), r),
              body: r() < 0.3 ? oddBody(r) : Buffer.alloc(0),
            };
        }
      }),
    );
  });

  test('Workspace ONE events: JSON, XML and worse, with the console credentials', async (t) => {
    const xml = (fields: Record<string, unknown>) =>
      `<Eventlog>${Object.entries(fields)
        .map(([k, v]) => `<${k}>${String(v)}</${k}>`)
        .join('')}</Eventlog>`;
    await run(
      t,
      'ws1',
      batch(300, 6, (r) => {
        let body: Buffer;
        let type: string | undefined;
        switch (int(r, 4)) {
          case 0:
            body = mutateJson(ws1Event, r);
            type = 'application/json';
            break;
          case 1: {
            const text = xml(ws1Event);
            const i = int(r, text.length);
            body = Buffer.from(
              text.slice(0, i) +
                pick(r, ['<', '>', '&', '&amp;', '&#0;', '<![CDATA[x]]>', '<!DOCTYPE x [<!ENTITY a "b">]>', '</Eventlog>', '<x>', '\u0000', '']) +
                text.slice(i + int(r, 3)),
            );
            type = pick(r, ['text/xml', 'application/xml', undefined]);
            break;
          }
          default:
            body = oddBody(r);
            type = pick(r, CONTENT_TYPES);
        }
        const c: Case = {
          method: r() < 0.9 ? 'POST' : pick(r, METHODS),
          path: pick(r, ['/connectors/ws1/events', '/connectors/ws1/events', '/connectors/ws1/', '/connectors/ws1/events/']),
          headers: [basic('ws1-events', WS1_PASSWORD), ...(type ? [['Content-Type', type] as [string, string]] : [])],
          body,
        };
        return r() < 0.2 ? oddFraming(c, r) : c;
      }),
    );
  });

  test('Citrix certsrv: forms, requests and fetches, with the PKI entity credentials', async (t) => {
    const der = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const pem = (b: Buffer, label = 'NEW CERTIFICATE REQUEST') =>
      `-----BEGIN ${label}-----\r\n${b.toString('base64').replace(/.{64}/g, '$&\r\n')}\r\n-----END ${label}-----\r\n`;
    await run(
      t,
      'certsrv',
      batch(300, 7, (r) => {
        const auth = basic('xm-pki', CERTSRV_PASSWORD);
        if (r() < 0.35) {
          const query = Array.from({ length: int(r, 4) }, () =>
            pick(r, [
              'ReqID=1',
              'ReqID=CACert',
              'ReqID=cacert',
              'ReqID=',
              'ReqID=-1',
              'ReqID=1e3',
              'ReqID=%00',
              'ReqID=99999999999999999',
              'ReqID=1&ReqID=2',
              'Enc=b64',
              'Enc=bin',
              'Enc=',
              'Enc=x',
              'Enc=b64&Enc=bin',
              'Renewal=0',
              'Renewal=1',
              'Renewal=0&Renewal=0',
              'Renewal[]=0',
              'ReqID[]=1',
            ]),
          ).join('&');
          return {
            method: pick(r, ['GET', 'GET', 'HEAD', 'POST']),
            path: `/connectors/xm/certsrv/${pick(r, ['certnew.cer', 'certnew.p7b', 'certcarc.asp', 'certfnsh.asp', '', 'certnew.CER', 'x.asp'])}?${query}`,
            headers: [auth],
          };
        }
        const fields: [string, string][] = [
          ['Mode', pick(r, ['newreq', 'newreq', 'newreq', '', 'chkpnd', 'x'])],
          [
            'CertRequest',
            pick(r, [
              pem(mutateBytes(der, r)),
              pem(mutateBytes(der, r)),
              csrPem,
              pem(der, 'CERTIFICATE REQUEST'),
              pem(randomBytesFrom(r, 300)),
              '',
              'x'.repeat(int(r, 70_000)),
              csrPem.replace(/\n/g, ''),
            ]),
          ],
          [
            'CertAttrib',
            pick(r, [
              'CertificateTemplate:XenMobileUser\r\nUserAgent:XenMobile\r\n',
              'CertificateTemplate:Unknown',
              '',
              'CertificateTemplate:',
              'CertificateTemplate:XenMobileUser\r\nSAN:upn=x@y&email=a@b\r\n',
              'a:b\r\n'.repeat(1000),
              ':::\r\n',
              '\u0000',
            ]),
          ],
          ['FriendlyType', 'Saved-Request Certificate'],
          ['TargetStoreFlags', pick(r, ['0', 'x', ''])],
          ['SaveCert', 'yes'],
        ];
        if (r() < 0.2) fields.push([pick(r, ['Mode', 'CertRequest', 'CertAttrib']), 'again']);
        if (r() < 0.2) fields.splice(int(r, fields.length), 1);
        let body: Buffer = Buffer.from(fields.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&'));
        if (r() < 0.2) body = r() < 0.5 ? oddBody(r) : Buffer.from(body.toString().replace(/%[0-9A-F]{2}/, pick(r, ['%', '%ZZ', '%C0%AE', '%00'])));
        const c: Case = {
          method: 'POST',
          path: '/connectors/xm/certsrv/certfnsh.asp',
          headers: [auth, ['Content-Type', r() < 0.85 ? 'application/x-www-form-urlencoded' : (pick(r, CONTENT_TYPES) ?? 'text/plain')]],
          body,
        };
        return r() < 0.15 ? oddFraming(c, r) : c;
      }),
    );
  });

  test('/derived: the card holder page and form with a PIV card, and without one', async (t) => {
    await run(
      t,
      'derived',
      batch(150, 8, (r) => {
        const withCard = r() < 0.8;
        if (r() < 0.4) return { method: pick(r, ['GET', 'HEAD', 'PUT']), path: oddPath('/derived/', r), card: withCard };
        const token = pick(r, ['', 'x', 'a.b', '.', `${'z'.repeat(20)}.${'a'.repeat(43)}`, 'zzzzzzzzzzzzzz.', '-1.x', 'a'.repeat(200), '%00.%00']);
        const body = r() < 0.7 ? Buffer.from(`token=${pick(r, [encodeURIComponent(token), token, '%', '%ZZ'])}${r() < 0.2 ? '&token=x' : ''}`) : oddBody(r);
        const c: Case = {
          method: 'POST',
          path: pick(r, ['/derived/request', '/derived/request/', '/derived/request?x=%']),
          headers: [['Content-Type', r() < 0.8 ? 'application/x-www-form-urlencoded' : (pick(r, CONTENT_TYPES) ?? '')]],
          body,
          card: withCard,
        };
        return r() < 0.2 ? oddFraming(c, r) : c;
      }),
    );
  });

  test('/api/v1 without valid credentials: every route, method, header and body', async (t) => {
    const routes = [
      'whoami',
      'jobs',
      'jobs/1',
      'jobs/x/retry',
      'certificates',
      'certificates/01',
      'certificates/x/revoke',
      'certificates/01/hold',
      'certificates/01/recover-key',
      'audit',
      'scep/challenges',
      'scep/requests',
      'scep/requests/1/reject',
      'users',
      'users/import',
      'users/x',
      'devices',
      'devices/import',
      'mobile-ids',
      'mobile-ids/renewal-notices',
      'mobile-ids/00000000-0000-4000-8000-000000000000/validate',
      'mobile-ids/x/unlock',
      'mobile/templates',
      'mobile/templates/x',
      'ota/enrollments',
      'ota/enrollments/x',
      'derived-credentials',
      'derived-credentials/piv-cancelled',
      'derived-credentials/rederive-notices',
    ];
    await run(
      t,
      'api',
      batch(400, 9, (r) => {
        const c: Case = {
          method: pick(r, METHODS),
          path: oddPath(`/api/v1/${pick(r, routes)}`, r),
          headers: [
            ...(r() < 0.7 ? [['Authorization', pick(r, AUTHORIZATIONS)] as [string, string]] : []),
            ...(r() < 0.6 ? [['Content-Type', pick(r, CONTENT_TYPES) ?? 'application/json'] as [string, string]] : []),
          ],
          body: r() < 0.6 ? oddBody(r) : Buffer.alloc(0),
          // Wrong passwords from elsewhere: the throttle must not shut the connector batches out.
          from: '127.0.0.2',
        };
        return r() < 0.3 ? oddFraming(c, r) : c;
      }),
    );
  });

  test('/api/v1 as an administrator: odd bodies and queries on every route', async (t) => {
    const bodies: [string, string, Record<string, unknown>][] = [
      [
        'POST',
        '/api/v1/certificates',
        { template: 'tls-client', csr: csrPem, user: { userName: 'fuzz', email: 'fuzz@example.com' }, userId: 'u-fuzz', format: 'modern' },
      ],
      ['POST', '/api/v1/users', { userName: 'fuzz2', displayName: 'Fuzz Two', email: 'fuzz2@example.com', upn: 'fuzz2@corp.example.com' }],
      ['PATCH', '/api/v1/users/fuzz', { displayName: 'Fuzz', email: 'fuzz@example.com', mobile: '+15555550100' }],
      ['POST', '/api/v1/devices', { serial: 'FUZZ0002', platform: 'ios', model: 'iPhone15,2', owner: 'fuzz' }],
      ['POST', '/api/v1/mobile-ids', { user: 'fuzz', credentialProfile: 'smime', notify: 'none', qr: false }],
      ['POST', '/api/v1/scep/challenges', { profile: 'dyn', ttl: '5m', binding: { serialNumber: 'FUZZ0001' } }],
      ['POST', '/api/v1/ota/enrollments', { credentialProfile: 'smime', user: { displayName: 'Fuzz', email: 'fuzz@example.com' }, expiresIn: '1h' }],
      ['POST', '/api/v1/derived-credentials/piv-cancelled', { certificate: cardPem, reason: 'cardCancelled', note: 'fuzz' }],
      ['POST', '/api/v1/certificates/0123456789abcdef/revoke', { reason: 'keyCompromise', note: 'fuzz' }],
      ['POST', '/api/v1/certificates/0123456789abcdef/recover-key', { reason: 'fuzz' }],
      ['PUT', '/api/v1/mobile/templates/request-email', { subject: 'Your mobile ID', body: 'Code {{code}}' }],
      ['POST', '/api/v1/jobs/1/retry', {}],
      ['POST', '/api/v1/scep/requests/1/approve', { reason: 'fuzz' }],
      ['POST', '/api/v1/mobile-ids/00000000-0000-4000-8000-000000000000/cancel', { reason: 'fuzz' }],
    ];
    const lists = [
      '/api/v1/certificates',
      '/api/v1/audit',
      '/api/v1/jobs',
      '/api/v1/users',
      '/api/v1/devices',
      '/api/v1/mobile-ids',
      '/api/v1/scep/requests',
      '/api/v1/derived-credentials',
      '/api/v1/whoami',
      '/api/v1/mobile/templates',
    ];
    const listQueries = [
      'status=valid',
      'status=x',
      'limit=0',
      'limit=1001',
      'limit=1e3',
      'limit=-1',
      'limit=1&limit=2',
      'user=fuzz',
      'user=',
      'user[]=a',
      'q=%25',
      'q=%00',
      'after=zzzz',
      'before=-1',
      'expiringBefore=not-a-date',
      'expiringBefore=99999-01-01',
      'subjectId=%27',
      'template=__proto__',
      'profile=nope',
      'type=x',
      'serial=zz',
    ];
    await run(
      t,
      'admin',
      batch(300, 12, (r) => {
        const auth: [string, string] = ['Authorization', `Bearer ${adminToken}`];
        if (r() < 0.3) {
          const query = Array.from({ length: 1 + int(r, 3) }, () => pick(r, r() < 0.7 ? listQueries : QUERY_EDGES)).join('&');
          return { method: pick(r, ['GET', 'GET', 'HEAD', 'DELETE']), path: `${pick(r, lists)}?${query}`, headers: [auth] };
        }
        const [method, path, base] = pick(r, bodies);
        const body = r() < 0.85 ? mutateJson(base, r) : oddBody(r);
        const c: Case = {
          method: r() < 0.9 ? method : pick(r, METHODS),
          path: r() < 0.9 ? path : oddPath(path, r),
          headers: [auth, ['Content-Type', r() < 0.85 ? 'application/json' : (pick(r, CONTENT_TYPES) ?? 'text/csv')]],
          body,
        };
        return r() < 0.15 ? oddFraming(c, r) : c;
      }),
    );
  });

  test('signed requests with odd names and extensions: SCEP PKCSReq and certsrv', async (t) => {
    const r = rng(SEED + 11);
    const cases: Case[] = [];
    for (let i = 0; i < 300; i++) {
      const csr = oddCsr(r, scepDevice, STATIC_CHALLENGE);
      if (r() < 0.5) {
        const message = await pkiMessage({ type: 'PKCSReq', inner: csr, signer: scepDevice, recipients: [ra] });
        cases.push({
          method: 'POST',
          path: `/scep${pick(r, ['', '/mdm', '/mdm'])}?operation=PKIOperation`,
          headers: [['Content-Type', 'application/x-pki-message']],
          body: message.der,
        });
      } else {
        const pem = `-----BEGIN NEW CERTIFICATE REQUEST-----\r\n${csr.toString('base64').replace(/.{64}/g, '$&\r\n')}\r\n-----END NEW CERTIFICATE REQUEST-----\r\n`;
        const form = `Mode=newreq&CertRequest=${encodeURIComponent(pem)}&CertAttrib=${encodeURIComponent(`CertificateTemplate:${pick(r, ['XenMobileUser', 'XenMobileUser', 'Unknown'])}\r\nUserAgent:XenMobile\r\n`)}`;
        cases.push({
          method: 'POST',
          path: '/connectors/xm/certsrv/certfnsh.asp',
          headers: [basic('xm-pki', CERTSRV_PASSWORD), ['Content-Type', 'application/x-www-form-urlencoded']],
          body: Buffer.from(form),
        });
      }
    }
    await run(t, 'signed', cases);
  });

  test('framing and headers of every kind on every body-taking route', async (t) => {
    const posts = [
      '/scep?operation=PKIOperation',
      '/pki/ocsp',
      `/ota/profile/${enrollmentId}`,
      '/mobile/v1/sessions',
      '/mobile/v1/ack',
      '/connectors/ws1/events',
      '/connectors/xm/certsrv/certfnsh.asp',
      '/derived/request',
      '/api/v1/mobile-ids',
      '/api/v1/jobs/1/retry',
    ];
    await run(
      t,
      'framing',
      batch(400, 10, (r) => {
        const path = pick(r, posts);
        const connector = path.startsWith('/connectors/ws1')
          ? basic('ws1-events', WS1_PASSWORD)
          : path.startsWith('/connectors/xm')
            ? basic('xm-pki', CERTSRV_PASSWORD)
            : undefined;
        const c: Case = {
          method: 'POST',
          path,
          headers: [...(connector ? [connector] : []), ['Content-Type', pick(r, CONTENT_TYPES) ?? 'application/json']],
          body: oddBody(r),
          card: path.startsWith('/derived'),
        };
        return oddFraming(oddFraming(c, r), r);
      }),
    );
  });
});
