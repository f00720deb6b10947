/**
 * Local stand-ins for the Workspace ONE side of the wire, built to the
 * contract of docs/vendors/workspace-one.md, for integration tests of the
 * Workspace ONE connector:
 *
 *  - startEscrowGateway: the Escrow Gateway (EG), `POST /v2/certificates`
 *    behind mTLS with a fingerprint allowlist;
 *  - startUemApi: the UEM REST API (system info, user and device lookups,
 *    S/MIME upload) with aw-tenant-code plus Basic or OAuth2
 *    client-credentials bearer auth;
 *  - makeTestTls: a throwaway CA, a server certificate for 127.0.0.1 /
 *    localhost and two client identities (one for the allowlist, one not),
 *    built with the project's own PKI code.
 *
 * Both servers validate strictly so connector bugs surface as 4xx in tests,
 * and expose behaviour controls (failNext, hang, expireTokens, ...) for the
 * connector's retry and refresh logic.
 */
import { randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { buildCertificate } from '../../src/pki/certificate.js';
import { generateKey } from '../../src/pki/keys.js';
import { NativeSigner } from '../../src/pki/native-signer.js';
import { buildPkcs12 } from '../../src/pki/pkcs12.js';

// ---------------------------------------------------------------------------
// TLS material
// ---------------------------------------------------------------------------

export interface TlsIdentity {
  /** PEM certificate (leaf only). */
  cert: string;
  /** PEM PKCS#8 private key, unencrypted. */
  key: string;
}

export interface TestClientIdentity extends TlsIdentity {
  /** DER of the certificate. */
  der: Buffer;
  /** `AB:CD:...` as X509Certificate.fingerprint256 / getPeerCertificate() give it. */
  fingerprint256: string;
  /** PKCS#12 ('modern' profile) with key, certificate and the CA certificate. */
  pkcs12: Buffer;
  pkcs12Password: string;
}

export interface TestCa {
  pem: string;
  der: Buffer;
  key: KeyObject;
}

export interface TestTls {
  caPem: string;
  ca: TestCa;
  /** serverAuth, SAN IP 127.0.0.1 + DNS localhost. */
  server: TlsIdentity;
  /** clientAuth; put client.fingerprint256 on the EG allowlist. */
  client: TestClientIdentity;
  /** clientAuth from the same CA (passes the TLS handshake) but meant to stay off the allowlist. */
  otherClient: TestClientIdentity;
}

const DAY = 86_400_000;

export async function makeTestCa(commonName = 'WS1 Stand-in Test CA'): Promise<TestCa> {
  const { privateKey, publicKey } = await generateKey('rsa-2048');
  const cert = await buildCertificate({
    subject: [{ type: 'CN', value: commonName }],
    publicKey,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 30 * DAY),
    signer: new NativeSigner(privateKey),
    ca: { pathLength: 0 },
    keyUsage: { keyCertSign: true, cRLSign: true },
  });
  return { pem: cert.pem, der: cert.der, key: privateKey };
}

export async function issueTestServer(ca: TestCa, commonName = 'localhost'): Promise<TlsIdentity> {
  const { privateKey, publicKey } = await generateKey('rsa-2048');
  const cert = await buildCertificate({
    subject: [{ type: 'CN', value: commonName }],
    publicKey,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 30 * DAY),
    issuer: { cert: ca.der },
    signer: new NativeSigner(ca.key),
    keyUsage: { digitalSignature: true, keyEncipherment: true },
    extendedKeyUsage: ['serverAuth'],
    subjectAltNames: [
      { type: 'ip', value: '127.0.0.1' },
      { type: 'dns', value: 'localhost' },
    ],
  });
  return { cert: cert.pem, key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

export async function issueTestClient(
  ca: TestCa,
  commonName: string,
  pkcs12Password = `p12-${randomBytes(6).toString('hex')}`,
  organization = 'credgate test',
): Promise<TestClientIdentity> {
  const { privateKey, publicKey } = await generateKey('rsa-2048');
  const cert = await buildCertificate({
    subject: [
      { type: 'CN', value: commonName },
      { type: 'O', value: organization },
    ],
    publicKey,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 30 * DAY),
    issuer: { cert: ca.der },
    signer: new NativeSigner(ca.key),
    keyUsage: { digitalSignature: true },
    extendedKeyUsage: ['clientAuth'],
  });
  const pkcs12 = buildPkcs12({ key: privateKey, cert: cert.der, chain: [ca.der], password: pkcs12Password, friendlyName: commonName, format: 'modern' });
  return {
    cert: cert.pem,
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    der: cert.der,
    fingerprint256: cert.x509.fingerprint256,
    pkcs12,
    pkcs12Password,
  };
}

/** A fresh CA, server identity and two client identities (four RSA-2048 keys). */
export async function makeTestTls(): Promise<TestTls> {
  const ca = await makeTestCa();
  const [server, client, otherClient] = await Promise.all([
    issueTestServer(ca),
    issueTestClient(ca, 'credgate-ws1-connector'),
    issueTestClient(ca, 'not-on-the-allowlist'),
  ]);
  return { caPem: ca.pem, ca, server, client, otherClient };
}

export interface TestTlsFiles {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  clientP12: string;
  otherClientCert: string;
  otherClientKey: string;
  otherClientP12: string;
}

/** Writes the material as files (ca.pem, client.p12, ...) into `dir`, e.g. for curl or a connector YAML. */
export function writeTestTlsFiles(tls: TestTls, dir: string): TestTlsFiles {
  const w = (name: string, data: string | Buffer, mode = 0o644): string => {
    const p = join(dir, name);
    writeFileSync(p, data, { mode });
    return p;
  };
  return {
    ca: w('ca.pem', tls.caPem),
    serverCert: w('server.pem', tls.server.cert),
    serverKey: w('server-key.pem', tls.server.key, 0o600),
    clientCert: w('client.pem', tls.client.cert),
    clientKey: w('client-key.pem', tls.client.key, 0o600),
    clientP12: w('client.p12', tls.client.pkcs12, 0o600),
    otherClientCert: w('other-client.pem', tls.otherClient.cert),
    otherClientKey: w('other-client-key.pem', tls.otherClient.key, 0o600),
    otherClientP12: w('other-client.p12', tls.otherClient.pkcs12, 0o600),
  };
}

// ---------------------------------------------------------------------------
// Shared HTTP plumbing (other vendors' stand-ins use it too)
// ---------------------------------------------------------------------------

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Non-empty, standard alphabet, padded, no whitespace or line breaks. */
export function isStrictBase64(s: unknown): s is string {
  return typeof s === 'string' && s.length > 0 && STRICT_BASE64.test(s);
}

const normalizeFingerprint = (fp: string): string => fp.replace(/[^0-9a-f]/gi, '').toUpperCase();

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const mediaType = (value: string | undefined): string | undefined => value?.split(';')[0]?.trim().toLowerCase();

interface MediaRange {
  type: string;
  params: Record<string, string>;
}

function parseAccept(value: string | undefined): MediaRange[] {
  if (!value) return [];
  return value.split(',').map((range) => {
    const [type = '', ...rest] = range.split(';');
    const params: Record<string, string> = {};
    for (const p of rest) {
      const eq = p.indexOf('=');
      if (eq > 0)
        params[p.slice(0, eq).trim().toLowerCase()] = p
          .slice(eq + 1)
          .trim()
          .replace(/^"|"$/g, '');
    }
    return { type: type.trim().toLowerCase(), params };
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Length': 0, ...headers });
  res.end();
}

export class BodyTooLarge extends Error {}

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new BodyTooLarge());
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export const parseJson = (body: Buffer): { ok: true; value: unknown } | { ok: false; reason: string } => {
  try {
    return { ok: true, value: JSON.parse(body.toString('utf8')) as unknown };
  } catch (err) {
    return { ok: false, reason: `body is not valid JSON: ${(err as Error).message}` };
  }
};

export interface Lifecycle {
  server: Server;
  url: string;
  port: number;
  stop(): Promise<void>;
  timers: Set<NodeJS.Timeout>;
}

export async function listen(server: Server): Promise<Lifecycle> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const timers = new Set<NodeJS.Timeout>();
  let stopped: Promise<void> | undefined;
  return {
    server,
    port,
    url: `https://127.0.0.1:${port}`,
    timers,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.close(() => resolve());
        // Drops keep-alive sockets and requests held by hang()/hangForever().
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}

/** Waits `ms` (Infinity = until stop()); resolves false if the client went away meanwhile or the server stopped. */
function delay(life: Lifecycle, req: IncomingMessage, ms: number): Promise<boolean> {
  if (ms <= 0) return Promise.resolve(true);
  if (!Number.isFinite(ms)) return new Promise<boolean>(() => {});
  return new Promise<boolean>((resolve) => {
    const t = setTimeout(() => {
      life.timers.delete(t);
      resolve(!req.socket.destroyed);
    }, ms);
    life.timers.add(t);
  });
}

// ---------------------------------------------------------------------------
// Escrow Gateway
// ---------------------------------------------------------------------------

export interface EscrowGatewayOptions {
  /** Server TLS identity, PEM. */
  cert: string;
  key: string;
  /** PEM CA(s) that client certificates must chain to. */
  clientCa: string;
  /** SHA-256 fingerprints of approved clients; colons and case do not matter. */
  allowedFingerprints: string[];
  /** Status for an accepted upload (default 200). */
  successStatus?: 200 | 201;
  /** Larger bodies get 413 (default 10 MiB). */
  maxBodyBytes?: number;
}

export interface EscrowUpload {
  at: Date;
  deviceUuid: string;
  userUuid: string;
  signing: Buffer[];
  encryption: Buffer[];
  archived: Buffer[];
  /** Of the client certificate, `AB:CD:...` (X509Certificate.fingerprint256 format). */
  clientFingerprint: string;
}

export interface EscrowGatewayHandle {
  /** `https://127.0.0.1:<port>` (no trailing slash). */
  readonly url: string;
  readonly port: number;
  /** Accepted uploads, oldest first. */
  readonly uploads: EscrowUpload[];
  /** POSTs received (any path, any outcome, counted on arrival). */
  readonly requests: number;
  /** Answer the next n requests with `status` (default 503) and record nothing. */
  failNext(n: number, status?: number): void;
  /** Delay every response by ms (0 = off). A request whose client left during the delay is dropped, not recorded. */
  hang(ms: number): void;
  /** Never answer (nor record) from now on; held requests are cut by stop(). hang(0) ends it for new requests. */
  hangForever(): void;
  /** Add / remove a fingerprint on the approved-client list at runtime. */
  allow(fingerprint: string): void;
  disallow(fingerprint: string): void;
  stop(): Promise<void>;
}

const EG_TOP_KEYS = new Set(['device_uuid', 'user_uuid', 'smime_certificates']);
const EG_CERT_KEYS = ['signing', 'encryption', 'archived'] as const;

type EgParsed = { ok: true; deviceUuid: string; userUuid: string; signing: Buffer[]; encryption: Buffer[]; archived: Buffer[] } | { ok: false; reason: string };

/** Validates a `/v2/certificates` body against the contract (docs/vendors/workspace-one.md). */
export function validateEscrowBody(body: unknown): EgParsed {
  if (!isPlainObject(body)) return { ok: false, reason: 'body must be a JSON object' };
  const unknown = Object.keys(body).filter((k) => !EG_TOP_KEYS.has(k));
  if (unknown.length) return { ok: false, reason: `unknown field(s): ${unknown.join(', ')}` };
  const { device_uuid: deviceUuid, user_uuid: userUuid, smime_certificates: certs } = body;
  if (typeof deviceUuid !== 'string' || deviceUuid.trim() === '') return { ok: false, reason: 'device_uuid must be a non-empty string' };
  if (typeof userUuid !== 'string' || userUuid.trim() === '') return { ok: false, reason: 'user_uuid must be a non-empty string' };
  if (!isPlainObject(certs)) return { ok: false, reason: 'smime_certificates must be an object' };
  const unknownCert = Object.keys(certs).filter((k) => !(EG_CERT_KEYS as readonly string[]).includes(k));
  if (unknownCert.length) return { ok: false, reason: `unknown field(s) in smime_certificates: ${unknownCert.join(', ')}` };
  const out: Record<(typeof EG_CERT_KEYS)[number], Buffer[]> = { signing: [], encryption: [], archived: [] };
  for (const k of EG_CERT_KEYS) {
    const list = certs[k];
    if (list === undefined) continue;
    if (!Array.isArray(list)) return { ok: false, reason: `smime_certificates.${k} must be an array of base64 strings` };
    for (const [i, entry] of list.entries()) {
      if (!isStrictBase64(entry)) return { ok: false, reason: `smime_certificates.${k}[${i}] is not valid base64` };
      out[k].push(Buffer.from(entry, 'base64'));
    }
  }
  if (!out.signing.length && !out.encryption.length && !out.archived.length) {
    return { ok: false, reason: 'smime_certificates needs at least one non-empty list (signing, encryption, archived)' };
  }
  return { ok: true, deviceUuid, userUuid, ...out };
}

export async function startEscrowGateway(opts: EscrowGatewayOptions): Promise<EscrowGatewayHandle> {
  const allowed = new Set(opts.allowedFingerprints.map(normalizeFingerprint));
  const uploads: EscrowUpload[] = [];
  const maxBody = opts.maxBodyBytes ?? 10 * 1024 * 1024;
  let requests = 0;
  let failures: { left: number; status: number } = { left: 0, status: 503 };
  let hangMs = 0;

  const server = createServer({
    cert: opts.cert,
    key: opts.key,
    ca: opts.clientCa,
    requestCert: true,
    rejectUnauthorized: true,
  });
  const life = await listen(server);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method === 'POST') requests += 1;
    let body: Buffer;
    try {
      body = await readBody(req, maxBody);
    } catch (err) {
      if (err instanceof BodyTooLarge) sendJson(res, 413, { error: 'payload_too_large', reason: `body exceeds ${maxBody} bytes` }, { Connection: 'close' });
      return;
    }
    if (!(await delay(life, req, hangMs))) return;

    if (failures.left > 0) {
      failures.left -= 1;
      sendJson(res, failures.status, { error: 'injected_failure', reason: `stand-in answering ${failures.status} (failNext)` });
      return;
    }

    const peer = (req.socket as TLSSocket).getPeerCertificate();
    const fingerprint = peer?.fingerprint256 ?? '';
    if (!fingerprint || !allowed.has(normalizeFingerprint(fingerprint))) {
      sendJson(res, 403, { error: 'forbidden', reason: `client certificate ${fingerprint || '(none)'} is not on the approved-client list` });
      return;
    }

    const path = new URL(req.url ?? '/', life.url).pathname;
    if (path !== '/v2/certificates') {
      sendJson(res, 404, { error: 'not_found', reason: `no route ${path}` });
      return;
    }
    if (req.method !== 'POST') {
      sendJson(res, 405, { error: 'method_not_allowed', reason: 'use POST' }, { Allow: 'POST' });
      return;
    }
    if (mediaType(req.headers['content-type']) !== 'application/json') {
      sendJson(res, 415, { error: 'unsupported_media_type', reason: 'Content-Type must be application/json' });
      return;
    }
    if (!parseAccept(req.headers.accept).some((r) => r.type === 'application/json')) {
      sendJson(res, 406, { error: 'not_acceptable', reason: 'Accept must include application/json' });
      return;
    }
    const json = parseJson(body);
    if (!json.ok) {
      sendJson(res, 400, { error: 'bad_request', reason: json.reason });
      return;
    }
    const parsed = validateEscrowBody(json.value);
    if (!parsed.ok) {
      sendJson(res, 400, { error: 'bad_request', reason: parsed.reason });
      return;
    }
    uploads.push({
      at: new Date(),
      deviceUuid: parsed.deviceUuid,
      userUuid: parsed.userUuid,
      signing: parsed.signing,
      encryption: parsed.encryption,
      archived: parsed.archived,
      clientFingerprint: fingerprint,
    });
    sendJson(res, opts.successStatus ?? 200, { status: 'accepted' });
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: 'internal', reason: String(err) });
    });
  });

  return {
    url: life.url,
    port: life.port,
    uploads,
    get requests() {
      return requests;
    },
    failNext(n: number, status = 503) {
      failures = { left: n, status };
    },
    hang(ms: number) {
      hangMs = ms;
    },
    hangForever() {
      hangMs = Infinity;
    },
    allow(fp: string) {
      allowed.add(normalizeFingerprint(fp));
    },
    disallow(fp: string) {
      allowed.delete(normalizeFingerprint(fp));
    },
    stop: () => life.stop(),
  };
}

// ---------------------------------------------------------------------------
// UEM REST API
// ---------------------------------------------------------------------------

export interface UemApiOptions {
  /** Server TLS identity, PEM. */
  cert: string;
  key: string;
  /** Required `aw-tenant-code` on every API request (not on the token endpoint). */
  tenantCode: string;
  /** Accepted HTTP Basic credentials; omit to refuse Basic. */
  basic?: { username: string; password: string };
  /** OAuth2 client (client_secret_basic at POST /connect/token or /oauth/token); omit to disable. */
  oauth?: { clientId: string; clientSecret: string };
  /** expires_in of issued tokens, seconds (default 3600); tokens also stop working after it. */
  tokenTtlSeconds?: number;
}

export interface UemUser {
  id: number;
  uuid: string;
  userName: string;
  /** Omit or '' to simulate a user without an email address. */
  email?: string;
  upn?: string;
  firstName?: string;
  lastName?: string;
}

export interface UemDevice {
  uuid: string;
  /** Omit or '' to simulate a device without an enrollment email. */
  userEmail?: string;
  userUuid?: string;
  userName?: string;
  id?: number;
  friendlyName?: string;
  serialNumber?: string;
}

export interface UemRequest {
  at: Date;
  method: string;
  /** Path without query string. */
  path: string;
  /** Raw request target, with query string. */
  url: string;
  headers: IncomingHttpHeaders;
}

export interface UemSmimeCredential {
  payload: Buffer;
  password: string;
}

export interface UemSmimeUpload {
  at: Date;
  userId: number;
  signing?: UemSmimeCredential;
  encryption?: UemSmimeCredential;
  archived: UemSmimeCredential[];
  auth: 'basic' | 'bearer';
}

export interface UemApiHandle {
  /** `https://127.0.0.1:<port>` (no trailing slash). */
  readonly url: string;
  readonly port: number;
  /** `${url}/connect/token`. */
  readonly tokenUrl: string;
  /** Every request, including the token endpoint and rejected ones. */
  readonly requests: UemRequest[];
  /** Accepted uploadsmimecerts calls. */
  readonly uploads: UemSmimeUpload[];
  /** Access tokens issued so far. */
  readonly tokensIssued: number;
  addUser(user: UemUser): void;
  addDevice(device: UemDevice): void;
  /** Invalidates every token issued so far (next use → 401 invalid_token). */
  expireTokens(): void;
  /** Answer the next n API requests (not the token endpoint) with `status` (default 503). */
  failNext(n: number, status?: number): void;
  /** uploadsmimecerts answers 403 errorCode 1011 while on. */
  forbidSmimeUploads(on?: boolean): void;
  stop(): Promise<void>;
}

const MAX_ARCHIVED = 30;

function decodeBasic(header: string | undefined): { user: string; pass: string } | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m) return undefined;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  return { user: text.slice(0, colon), pass: text.slice(colon + 1) };
}

/** RFC 6749 2.3.1 says form-encode client id/secret before Basic; accept both encoded and raw. */
const formDecode = (s: string): string => {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
};

export async function startUemApi(opts: UemApiOptions): Promise<UemApiHandle> {
  const usersById = new Map<number, UemUser>();
  const usersByUuid = new Map<string, UemUser>();
  const devices = new Map<string, UemDevice>();
  const requests: UemRequest[] = [];
  const uploads: UemSmimeUpload[] = [];
  const tokens = new Map<string, number>(); // token → expiry (ms)
  const ttl = opts.tokenTtlSeconds ?? 3600;
  let tokensIssued = 0;
  let failures = { left: 0, status: 503 };
  let forbidUploads = false;

  const server = createServer({ cert: opts.cert, key: opts.key });
  const life = await listen(server);

  const uemError = (res: ServerResponse, status: number, errorCode: number, message: string, headers: Record<string, string> = {}) =>
    sendJson(res, status, { errorCode, message, activityId: randomUUID() }, headers);

  const tokenEndpoint = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const oauthError = (status: number, error: string, description: string, headers: Record<string, string> = {}) =>
      sendJson(res, status, { error, error_description: description }, { 'Cache-Control': 'no-store', ...headers });
    if (req.method !== 'POST') return oauthError(405, 'invalid_request', 'use POST', { Allow: 'POST' });
    if (!opts.oauth) return oauthError(401, 'invalid_client', 'OAuth is not enabled on this stand-in');
    const creds = decodeBasic(req.headers.authorization);
    const ok =
      creds &&
      (creds.user === opts.oauth.clientId || formDecode(creds.user) === opts.oauth.clientId) &&
      (creds.pass === opts.oauth.clientSecret || formDecode(creds.pass) === opts.oauth.clientSecret);
    if (!ok) return oauthError(401, 'invalid_client', 'client authentication failed (client_secret_basic)', { 'WWW-Authenticate': 'Basic realm="token"' });
    if (mediaType(req.headers['content-type']) !== 'application/x-www-form-urlencoded') {
      return oauthError(400, 'invalid_request', 'body must be application/x-www-form-urlencoded');
    }
    const form = new URLSearchParams(body.toString('utf8'));
    if (form.get('grant_type') !== 'client_credentials') return oauthError(400, 'unsupported_grant_type', 'only client_credentials is supported');
    const token = randomBytes(32).toString('base64url');
    tokens.set(token, Date.now() + ttl * 1000);
    tokensIssued += 1;
    sendJson(res, 200, { access_token: token, token_type: 'Bearer', expires_in: ttl, scope: '' }, { 'Cache-Control': 'no-store', Pragma: 'no-cache' });
  };

  /** 'basic' | 'bearer' when authenticated, else the response has been sent. */
  const authenticate = (req: IncomingMessage, res: ServerResponse): 'basic' | 'bearer' | undefined => {
    if (req.headers['aw-tenant-code'] !== opts.tenantCode) {
      uemError(res, 401, 401, 'aw-tenant-code header missing or not valid');
      return undefined;
    }
    const authz = req.headers.authorization ?? '';
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authz);
    if (bearer) {
      const expiry = tokens.get(bearer[1]!);
      if (expiry !== undefined && expiry > Date.now()) return 'bearer';
      uemError(res, 401, 401, 'access token is invalid or expired', { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
      return undefined;
    }
    const basic = decodeBasic(authz);
    if (basic && opts.basic && basic.user === opts.basic.username && basic.pass === opts.basic.password) return 'basic';
    uemError(res, 401, 401, 'authentication required (Basic or Bearer)', { 'WWW-Authenticate': 'Basic realm="AirWatch"' });
    return undefined;
  };

  /** Version from `Accept: application/json;version=N` (default 1); undefined after answering 406. */
  const jsonVersion = (req: IncomingMessage, res: ServerResponse): number | undefined => {
    const json = parseAccept(req.headers.accept).find((r) => r.type === 'application/json');
    if (!json) {
      uemError(res, 406, 406, 'Accept must be application/json (optionally ;version=N)');
      return undefined;
    }
    const version = json.params.version === undefined ? 1 : Number(json.params.version);
    if (version !== 1 && version !== 2) {
      uemError(res, 406, 406, `unsupported API version ${json.params.version}`);
      return undefined;
    }
    return version;
  };

  const userV1 = (u: UemUser) => ({
    Id: { Value: u.id },
    Uuid: u.uuid,
    UserName: u.userName,
    FirstName: u.firstName ?? '',
    LastName: u.lastName ?? '',
    Status: true,
    Email: u.email ?? '',
    SecurityType: 'Basic',
    UserPrincipalName: u.upn ?? '',
  });

  const userV2 = (u: UemUser) => ({
    uuid: u.uuid,
    userName: u.userName,
    firstName: u.firstName ?? '',
    lastName: u.lastName ?? '',
    status: true,
    emailAddress: u.email ?? '',
    userPrincipalName: u.upn ?? '',
  });

  const deviceV2 = (d: UemDevice) => ({
    uuid: d.uuid,
    ...(d.id !== undefined && { id: d.id }),
    ...(d.friendlyName !== undefined && { friendlyName: d.friendlyName }),
    ...(d.serialNumber !== undefined && { serialNumber: d.serialNumber }),
    enrollmentInfo: {
      enrollmentStatus: 'Enrolled',
      userEmailAddress: d.userEmail ?? '',
      ...(d.userName !== undefined && { userName: d.userName }),
      ...(d.userUuid !== undefined && { userUuid: d.userUuid }),
    },
  });

  type Cred = { ok: true; value: UemSmimeCredential | undefined } | { ok: false; message: string };
  const credential = (v: unknown, where: string): Cred => {
    if (v === undefined || v === null) return { ok: true, value: undefined };
    if (!isPlainObject(v)) return { ok: false, message: `${where} must be an object {CertificatePayload, Password}` };
    const extra = Object.keys(v).filter((k) => k !== 'CertificatePayload' && k !== 'Password');
    if (extra.length) return { ok: false, message: `${where}: unknown field(s) ${extra.join(', ')}` };
    const { CertificatePayload: payload, Password: password } = v;
    if (typeof payload !== 'string') return { ok: false, message: `${where}.CertificatePayload must be a string` };
    if (typeof password !== 'string') return { ok: false, message: `${where}.Password must be a string` };
    if (payload !== '' && !isStrictBase64(payload)) return { ok: false, message: `${where}.CertificatePayload is not valid base64` };
    return { ok: true, value: { payload: Buffer.from(payload, 'base64'), password } };
  };

  const uploadSmime = (res: ServerResponse, user: UemUser, auth: 'basic' | 'bearer', req: IncomingMessage, body: Buffer) => {
    if (forbidUploads) return uemError(res, 403, 1011, 'The user does not have permission to perform this action');
    if (mediaType(req.headers['content-type']) !== 'application/json') return uemError(res, 415, 415, 'Content-Type must be application/json');
    const json = parseJson(body);
    if (!json.ok) return uemError(res, 400, 400, json.reason);
    const b = json.value;
    if (!isPlainObject(b)) return uemError(res, 400, 400, 'body must be a JSON object');
    const extra = Object.keys(b).filter((k) => !['Signing', 'Encryption', 'Archived'].includes(k));
    if (extra.length) return uemError(res, 400, 400, `unknown field(s): ${extra.join(', ')}`);
    const signing = credential(b.Signing, 'Signing');
    if (!signing.ok) return uemError(res, 400, 400, signing.message);
    const encryption = credential(b.Encryption, 'Encryption');
    if (!encryption.ok) return uemError(res, 400, 400, encryption.message);
    if (b.Archived !== undefined && b.Archived !== null && !Array.isArray(b.Archived)) return uemError(res, 400, 400, 'Archived must be an array');
    const archivedRaw: unknown[] = Array.isArray(b.Archived) ? b.Archived : [];
    if (archivedRaw.length > MAX_ARCHIVED) return uemError(res, 400, 6041, `Archived accepts at most ${MAX_ARCHIVED} certificates`);
    const archived: UemSmimeCredential[] = [];
    for (const [i, a] of archivedRaw.entries()) {
      const c = credential(a, `Archived[${i}]`);
      if (!c.ok) return uemError(res, 400, 400, c.message);
      if (!c.value) return uemError(res, 400, 400, `Archived[${i}] is null`);
      if (c.value.payload.length === 0) return uemError(res, 400, 400, `Archived[${i}].CertificatePayload is empty`);
      archived.push(c.value);
    }
    if (!signing.value && !encryption.value && archived.length === 0) return uemError(res, 400, 6042, 'Signing, Encryption and Archived are all null');
    if (signing.value && signing.value.payload.length === 0) return uemError(res, 400, 6043, 'Signing CertificatePayload is empty');
    if (encryption.value && encryption.value.payload.length === 0) return uemError(res, 400, 400, 'Encryption.CertificatePayload is empty');
    uploads.push({
      at: new Date(),
      userId: user.id,
      ...(signing.value && { signing: signing.value }),
      ...(encryption.value && { encryption: encryption.value }),
      archived,
      auth,
    });
    sendEmpty(res, 200);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', life.url).pathname;
    requests.push({ at: new Date(), method: req.method ?? '', path, url: req.url ?? '', headers: { ...req.headers } });
    let body: Buffer;
    try {
      body = await readBody(req, 10 * 1024 * 1024);
    } catch (err) {
      if (err instanceof BodyTooLarge) sendJson(res, 413, { errorCode: 413, message: 'body too large' }, { Connection: 'close' });
      return;
    }

    if (path === '/connect/token' || path === '/oauth/token') return tokenEndpoint(req, res, body);

    if (failures.left > 0) {
      failures.left -= 1;
      return uemError(res, failures.status, failures.status, `stand-in answering ${failures.status} (failNext)`);
    }
    const auth = authenticate(req, res);
    if (!auth) return;

    if (/^\/api\/system\/info$/i.test(path)) {
      if (req.method !== 'GET') return uemError(res, 405, 405, 'use GET', { Allow: 'GET' });
      if (jsonVersion(req, res) === undefined) return;
      return sendJson(res, 200, { ProductName: 'Workspace ONE UEM stand-in', ProductVersion: '23.10.0.0' });
    }
    const upload = /^\/api\/system\/users\/([^/]+)\/uploadsmimecerts$/i.exec(path);
    if (upload) {
      if (req.method !== 'POST') return uemError(res, 405, 405, 'use POST', { Allow: 'POST' });
      const version = jsonVersion(req, res);
      if (version === undefined) return;
      if (version !== 1) return uemError(res, 406, 406, 'uploadsmimecerts is version=1');
      const user = /^\d+$/.test(upload[1]!) ? usersById.get(Number(upload[1])) : undefined;
      if (!user) return uemError(res, 404, 404, `user ${upload[1]} not found`);
      return uploadSmime(res, user, auth, req, body);
    }
    const userPath = /^\/api\/system\/users\/([^/]+)$/i.exec(path);
    if (userPath) {
      if (req.method !== 'GET') return uemError(res, 405, 405, 'use GET', { Allow: 'GET' });
      const version = jsonVersion(req, res);
      if (version === undefined) return;
      const key = decodeURIComponent(userPath[1]!);
      if (version === 1) {
        const user = /^\d+$/.test(key) ? usersById.get(Number(key)) : undefined;
        return user ? sendJson(res, 200, userV1(user)) : uemError(res, 404, 404, `user ${key} not found (version=1 takes the numeric id)`);
      }
      const user = usersByUuid.get(key.toLowerCase());
      return user ? sendJson(res, 200, userV2(user)) : uemError(res, 404, 404, `user ${key} not found (version=2 takes the uuid)`);
    }
    const devicePath = /^\/api\/mdm\/devices\/([^/]+)$/i.exec(path);
    if (devicePath) {
      if (req.method !== 'GET') return uemError(res, 405, 405, 'use GET', { Allow: 'GET' });
      const version = jsonVersion(req, res);
      if (version === undefined) return;
      if (version !== 2) return uemError(res, 406, 406, 'device lookup by uuid needs Accept: application/json;version=2');
      const device = devices.get(decodeURIComponent(devicePath[1]!).toLowerCase());
      return device ? sendJson(res, 200, deviceV2(device)) : uemError(res, 404, 404, `device ${devicePath[1]} not found`);
    }
    uemError(res, 404, 404, `no route ${req.method} ${path}`);
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) uemError(res, 500, 500, String(err));
    });
  });

  return {
    url: life.url,
    port: life.port,
    tokenUrl: `${life.url}/connect/token`,
    requests,
    uploads,
    get tokensIssued() {
      return tokensIssued;
    },
    addUser(user: UemUser) {
      usersById.set(user.id, user);
      usersByUuid.set(user.uuid.toLowerCase(), user);
    },
    addDevice(device: UemDevice) {
      devices.set(device.uuid.toLowerCase(), device);
    },
    expireTokens() {
      tokens.clear();
    },
    failNext(n: number, status = 503) {
      failures = { left: n, status };
    },
    forbidSmimeUploads(on = true) {
      forbidUploads = on;
    },
    stop: () => life.stop(),
  };
}
