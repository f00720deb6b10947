/**
 * Local stand-ins for Microsoft's side of the Intune contract
 * (connectors/intune/README.md), over real HTTPS with a test CA:
 *
 *  - the Entra ID token endpoint: client credentials with a client secret or
 *    an RS256 client assertion (signature, x5t, x5t#S256, aud, iss, sub, exp
 *    checked); tokens are opaque, bound to their scope, and expire;
 *  - Microsoft Graph: managedDevices with @odata.nextLink paging, users, the
 *    Intune service principal's endpoints, and beta userPfxCertificates,
 *    which checks every field of an import: it decrypts encryptedPfxPassword
 *    with the connector's private key (openssl pkeyutl, OAEP with the digest
 *    of paddingScheme for both OAEP and MGF1), opens the PKCS#12 with it
 *    (openssl pkcs12) and compares thumbprint and dates with the certificate.
 *    An import is addressed by the id its 201 answer gives, and by no other
 *    form: a GET or DELETE with another id is a 404 and the import stays.
 *    Graph documents no id form; by default the stand-in uses the one
 *    Microsoft's Remove-IntuneUserPfxCertificate cmdlet deletes by (the
 *    user id without dashes, a dash, the thumbprint), and importIdForm
 *    switches to the README's `{UserId}-{Thumbprint}` or an opaque GUID;
 *  - the Intune services: SCEP request validation (verdicts per challenge the
 *    stand-in handed out) and the PKI connector's revocation queue.
 *
 * Every request is recorded; failNext() makes a route answer an error (429
 * with Retry-After, 5xx, …) and expireTokens() revokes every issued token.
 */
import { createHash, generateKeyPairSync, randomBytes, randomUUID, verify, X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import { join } from 'node:path';
import { parseCsr } from '../../src/pki/csr.js';
import { openssl } from './openssl.js';
import { tempDir } from './tmp.js';
import { isStrictBase64, listen, parseJson, readBody, sendJson, type Lifecycle, type TlsIdentity } from './ws1-standins.js';

export const INTUNE_APP_ID = '0000000a-0000-0000-c000-000000000000';
const PFX_COLLECTION = '/beta/deviceManagement/userPfxCertificates';
const PURPOSES = ['unassigned', 'smimeEncryption', 'smimeSigning', 'vpn', 'wifi'];
const PADDING: Record<string, string> = { oaepSha256: 'sha256', oaepSha384: 'sha384', oaepSha512: 'sha512' };
const PFX_FIELDS = [
  'thumbprint',
  'intendedPurpose',
  'userPrincipalName',
  'startDateTime',
  'expirationDateTime',
  'providerName',
  'keyName',
  'paddingScheme',
  'encryptedPfxBlob',
  'encryptedPfxPassword',
];
const SUCCESS_FIELDS = [
  'transactionId',
  'certificateRequest',
  'certificateThumbprint',
  'certificateSerialNumber',
  'certificateExpirationDateUtc',
  'issuingCertificateAuthority',
  'callerInfo',
  'caConfiguration',
  'certificateAuthority',
];
const FAILURE_FIELDS = ['transactionId', 'certificateRequest', 'hResult', 'errorDescription', 'callerInfo'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface ManagedDevice {
  id: string;
  userId?: string;
  userPrincipalName?: string;
  emailAddress?: string;
  enrolledDateTime?: string;
  serialNumber?: string;
  operatingSystem?: string;
  complianceState?: string;
  managedDeviceOwnerType?: string;
}

export interface EntraUser {
  id: string;
  userPrincipalName: string;
  mail?: string;
  displayName?: string;
}

/** An import the stand-in accepted after opening it. */
export interface PfxImport {
  id: string;
  /** The Entra id of the user it was imported for. */
  userId: string;
  body: Record<string, string>;
  /** encryptedPfxPassword, decrypted with the connector's private key. */
  password: string;
  /** The end-entity certificate found in the PKCS#12. */
  certificate: X509Certificate;
  /** Whether the PKCS#12 held the certificate's private key. */
  keyMatches: boolean;
}

export interface RecordedRequest {
  server: 'login' | 'graph' | 'services';
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: unknown;
  /** Epoch ms of arrival. */
  at: number;
}

export interface RevocationRequest {
  requestContext: string;
  serialNumber: string;
  issuerName: string | null;
  caConfiguration: string | null;
}

export interface IntuneCloudOptions {
  tls: TlsIdentity;
  tenant: string;
  clientId: string;
  /** Accepted client secret; omit to accept only assertions. */
  clientSecret?: string;
  /** Certificate registered for client assertions. */
  clientCertificate?: X509Certificate;
  /** expires_in of issued tokens (default 3600). */
  tokenLifetimeS?: number;
  /** managedDevices per page (default 2). */
  pageSize?: number;
}

interface Failure {
  left: number;
  status: number;
  headers: Record<string, string>;
}

interface IssuedToken {
  scope: string;
  expiresAt: number;
  revoked: boolean;
}

export interface IntuneCloud {
  /** The tenant and the application (client id) it was started with. */
  tenant: string;
  clientId: string;
  loginHost: string;
  graphHost: string;
  graphScope: string;
  intuneScope: string;
  /** The PFX connector's public key, PEM SPKI (its private key stays here), as Export-IntunePublicKey -FileFormat PEM writes it. */
  connectorPublicKeyPem: string;
  /** The same key as Export-IntunePublicKey writes it by default: a CNG BCRYPT_RSAPUBLIC_BLOB. */
  connectorPublicKeyCngBlob: Buffer;
  /** How new imports' ids are formed (see the header); imports keep the id they were given. */
  importIdForm: 'compact' | 'dashed' | 'opaque';
  devices: ManagedDevice[];
  users: Map<string, EntraUser>;
  imports: PfxImport[];
  /** Imports refused, with the reason (connector bugs show up here). */
  refused: { reason: string; body: unknown }[];
  requests: RecordedRequest[];
  /** Tokens issued, oldest first. */
  tokensIssued: { scope: string; auth: 'secret' | 'assertion'; token: string }[];
  /** SCEP validation calls, in order. */
  scepCalls: { action: string; headers: IncomingMessage['headers']; body: Record<string, Record<string, unknown>> }[];
  revocationUploads: Record<string, unknown>[][];
  pageSize: number;
  /** The next n requests whose "METHOD /path?query" starts with (or matches) `route` get `status` (with headers) instead of an answer. */
  failNext(route: string | RegExp, n: number, status: number, headers?: Record<string, string>): void;
  /** Every token issued so far is refused from now on (401), as after a revocation. */
  expireTokens(): void;
  /** A challenge for scepclient; validateRequest answers `code` for requests that carry it. */
  scepChallenge(code?: string, errorDescription?: string): string;
  queueRevocation(serialNumber: string, requestContext?: string): RevocationRequest;
  /** Moves the Intune services to a new port: calls to the old address are refused until discovery runs again. */
  moveServices(): Promise<void>;
  stop(): Promise<void>;
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => sendJson(res, status, body, headers);
const graphError = (res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}) =>
  json(res, status, { error: { code, message } }, headers);
const b64urlJson = (part: string | undefined): Record<string, unknown> | undefined => {
  try {
    return JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
};
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const exactKeys = (o: Record<string, unknown>, keys: string[]) => {
  const extra = Object.keys(o).filter((k) => !keys.includes(k));
  const missing = keys.filter((k) => !(k in o));
  return extra.length || missing.length ? `fields: missing [${missing.join(', ')}], unexpected [${extra.join(', ')}]` : undefined;
};

/**
 * An RSA public key as a CNG BCRYPT_RSAPUBLIC_BLOB, laid out as the Windows
 * documentation's "BCRYPT_RSAKEY_BLOB structure" describes: Magic "RSA1",
 * BitLength, cbPublicExp, cbModulus, cbPrime1 = cbPrime2 = 0 (little-endian
 * ULONGs), then the exponent and the modulus, big-endian.
 */
export function cngPublicBlob(key: KeyObject): Buffer {
  const jwk = key.export({ format: 'jwk' });
  const e = Buffer.from(jwk.e!, 'base64url');
  const n = Buffer.from(jwk.n!, 'base64url');
  const header = Buffer.alloc(24);
  header.write('RSA1', 0, 'latin1');
  for (const [i, v] of [key.asymmetricKeyDetails!.modulusLength!, e.length, n.length, 0, 0].entries()) header.writeUInt32LE(v, 4 + 4 * i);
  return Buffer.concat([header, e, n]);
}

export async function startIntuneCloud(opts: IntuneCloudOptions): Promise<IntuneCloud> {
  const work = tempDir('intune-standin-');
  const connectorKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const connectorKeyFile = join(work, 'connector-key.pem');
  writeFileSync(connectorKeyFile, connectorKey.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const tokens = new Map<string, IssuedToken>();
  const failures = new Map<string | RegExp, Failure>();
  const challenges = new Map<string, { code: string; errorDescription: string }>();
  const revocationQueue: RevocationRequest[] = [];

  const servers = { login: createServer({ cert: opts.tls.cert, key: opts.tls.key }), graph: createServer({ cert: opts.tls.cert, key: opts.tls.key }) };
  const login = await listen(servers.login);
  const graph = await listen(servers.graph);
  let services: Lifecycle = await listen(createServer({ cert: opts.tls.cert, key: opts.tls.key }));

  const cloud: IntuneCloud = {
    tenant: opts.tenant,
    clientId: opts.clientId,
    loginHost: login.url,
    graphHost: graph.url,
    graphScope: `${graph.url}/.default`,
    intuneScope: 'https://api.manage.microsoft.com//.default',
    connectorPublicKeyPem: connectorKey.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    connectorPublicKeyCngBlob: cngPublicBlob(connectorKey.publicKey),
    importIdForm: 'compact',
    devices: [],
    users: new Map(),
    imports: [],
    refused: [],
    requests: [],
    tokensIssued: [],
    scepCalls: [],
    revocationUploads: [],
    pageSize: opts.pageSize ?? 2,
    failNext(route, n, status, headers = {}) {
      failures.set(route, { left: n, status, headers });
    },
    expireTokens() {
      for (const t of tokens.values()) t.revoked = true;
    },
    scepChallenge(code = 'Success', errorDescription = '') {
      const challenge = randomBytes(12).toString('hex');
      challenges.set(challenge, { code, errorDescription });
      return challenge;
    },
    queueRevocation(serialNumber, requestContext = randomUUID()) {
      const r = { requestContext, serialNumber, issuerName: null, caConfiguration: null };
      revocationQueue.push(r);
      return r;
    },
    async moveServices() {
      const old = services;
      services = await listen(createServer({ cert: opts.tls.cert, key: opts.tls.key }));
      services.server.on('request', (req: IncomingMessage, res: ServerResponse) => serve('services', req, res));
      await old.stop();
    },
    async stop() {
      await Promise.all([login.stop(), graph.stop(), services.stop()]);
    },
  };

  /** The scope of a valid bearer token, or an error already sent. */
  const authorize = (req: IncomingMessage, res: ServerResponse, scope: string): boolean => {
    const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    const t = m && tokens.get(m[1]!);
    if (!t || t.revoked || t.expiresAt <= Date.now()) {
      graphError(res, 401, 'InvalidAuthenticationToken', t ? 'Access token has expired or is not yet valid.' : 'Access token is empty or unknown.');
      return false;
    }
    if (t.scope !== scope) {
      graphError(res, 401, 'InvalidAuthenticationToken', `token audience ${t.scope} is not ${scope}`);
      return false;
    }
    return true;
  };

  // ---------------------------------------------------------------- login
  const tokenEndpoint = async (req: IncomingMessage, res: ServerResponse, form: URLSearchParams) => {
    const tokenUrl = `${login.url}/${opts.tenant}/oauth2/v2.0/token`;
    const aad = (status: number, error: string, description: string) => json(res, status, { error, error_description: description });
    if (req.headers['content-type']?.split(';')[0] !== 'application/x-www-form-urlencoded')
      return aad(400, 'invalid_request', 'AADSTS900144: expected a form-encoded body');
    if (form.get('grant_type') !== 'client_credentials') return aad(400, 'unsupported_grant_type', 'AADSTS70003: grant_type must be client_credentials');
    if (form.get('client_id') !== opts.clientId) return aad(400, 'unauthorized_client', 'AADSTS700016: unknown application');
    const scope = form.get('scope') ?? '';
    if (scope !== cloud.graphScope && scope !== cloud.intuneScope) return aad(400, 'invalid_scope', `AADSTS70011: scope ${scope} is not valid`);
    let auth: 'secret' | 'assertion';
    if (form.has('client_secret')) {
      if (!opts.clientSecret || form.get('client_secret') !== opts.clientSecret)
        return aad(401, 'invalid_client', 'AADSTS7000215: Invalid client secret provided.');
      auth = 'secret';
    } else {
      const problem = checkAssertion(form, tokenUrl);
      if (problem) return aad(401, 'invalid_client', `AADSTS700027: ${problem}`);
      auth = 'assertion';
    }
    const token = randomBytes(24).toString('base64url');
    const lifetime = opts.tokenLifetimeS ?? 3600;
    tokens.set(token, { scope, expiresAt: Date.now() + lifetime * 1000, revoked: false });
    cloud.tokensIssued.push({ scope, auth, token });
    json(res, 200, { token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: token });
  };

  const checkAssertion = (form: URLSearchParams, tokenUrl: string): string | undefined => {
    if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') return 'client_assertion_type is wrong';
    if (!opts.clientCertificate) return 'no certificate registered';
    const [h, p, s] = (form.get('client_assertion') ?? '').split('.');
    const header = b64urlJson(h);
    const claims = b64urlJson(p);
    if (!header || !claims || !s) return 'the assertion is not a JWT';
    const der = opts.clientCertificate.raw;
    if (header.alg !== 'RS256') return 'alg must be RS256';
    if (header.x5t !== createHash('sha1').update(der).digest('base64url')) return 'x5t does not name the registered certificate';
    if (header['x5t#S256'] !== createHash('sha256').update(der).digest('base64url')) return 'x5t#S256 does not name the registered certificate';
    if (!verify('sha256', Buffer.from(`${h}.${p}`), opts.clientCertificate.publicKey, Buffer.from(s, 'base64url'))) return 'signature invalid';
    const now = Date.now() / 1000;
    if (claims.aud !== tokenUrl) return `aud ${String(claims.aud)} is not ${tokenUrl}`;
    if (claims.iss !== opts.clientId || claims.sub !== opts.clientId) return 'iss and sub must be the client id';
    if (typeof claims.exp !== 'number' || claims.exp < now || typeof claims.nbf !== 'number' || claims.nbf > now + 60)
      return 'the assertion is expired or not yet valid';
    if (typeof claims.jti !== 'string' || claims.jti === '') return 'jti missing';
    return undefined;
  };

  // ---------------------------------------------------------------- graph
  const listings = new Map<string, ManagedDevice[]>();
  const graphRoute = async (req: IncomingMessage, res: ServerResponse, url: URL, body: unknown) => {
    if (!authorize(req, res, cloud.graphScope)) return;
    const path = url.pathname;
    if (req.method === 'GET' && path === '/v1.0/deviceManagement/managedDevices') {
      const skip = Number(url.searchParams.get('$skiptoken') ?? '0');
      const top = Number(url.searchParams.get('$top') ?? cloud.pageSize);
      // A listing pages through the devices as they were when it started (Graph's nextLink is a cursor), however cloud.devices changes meanwhile.
      const listing = url.searchParams.get('listing') ?? randomUUID();
      const devices = listings.get(listing) ?? [...cloud.devices];
      const page = devices.slice(skip, skip + Math.min(top, cloud.pageSize));
      const next = new URL(url.toString().replace(url.origin, graph.url));
      next.searchParams.set('$skiptoken', String(skip + page.length));
      next.searchParams.set('listing', listing);
      const more = !url.searchParams.has('$top') && skip + page.length < devices.length;
      if (more) listings.set(listing, devices);
      else listings.delete(listing);
      return json(res, 200, {
        '@odata.context': `${graph.url}/v1.0/$metadata#deviceManagement/managedDevices`,
        value: page,
        ...(more && { '@odata.nextLink': next.toString() }),
      });
    }
    const user = /^\/v1\.0\/users\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && user) {
      const u = cloud.users.get(decodeURIComponent(user[1]!));
      return u
        ? json(res, 200, { id: u.id, mail: u.mail ?? null, userPrincipalName: u.userPrincipalName, displayName: u.displayName ?? null })
        : graphError(res, 404, 'Request_ResourceNotFound', 'no such user');
    }
    if (req.method === 'GET' && path === `/v1.0/servicePrincipals/appId=${INTUNE_APP_ID}/endpoints`) {
      return json(res, 200, {
        value: [
          {
            id: randomUUID(),
            capability: 'Intune',
            providerId: randomUUID(),
            providerName: 'ScepRequestValidationFEService',
            uri: `${services.url}/ScepRequestValidationFEService/`,
          },
          {
            id: randomUUID(),
            capability: 'Intune',
            providerId: randomUUID(),
            providerName: 'PKIConnectorFEService',
            uri: `${services.url}/PkiConnectorFEService`,
          },
          { id: randomUUID(), capability: 'Intune', providerId: randomUUID(), providerName: 'RACerts', uri: `${services.url}/RACerts` },
        ],
      });
    }
    if (path === PFX_COLLECTION && req.method === 'GET') {
      const m = /^tolower\(userPrincipalName\) eq '((?:[^']|'')*)' and tolower\(thumbprint\) eq '([0-9a-f]{40})'$/.exec(url.searchParams.get('$filter') ?? '');
      if (!m) return graphError(res, 400, 'BadRequest', `unsupported $filter ${url.searchParams.get('$filter')}`);
      const upn = m[1]!.replace(/''/g, "'");
      return json(res, 200, {
        value: cloud.imports
          .filter((i) => i.body.userPrincipalName!.toLowerCase() === upn && i.body.thumbprint === m[2])
          .map((i) => ({ id: i.id, ...publicFields(i.body) })),
      });
    }
    if (path === PFX_COLLECTION && req.method === 'POST') return importPfx(res, body);
    const one = new RegExp(`^${PFX_COLLECTION}/([^/]+)$`).exec(path);
    if (one && (req.method === 'GET' || req.method === 'DELETE')) {
      const at = cloud.imports.findIndex((i) => i.id === decodeURIComponent(one[1]!));
      if (at < 0) return graphError(res, 404, 'ResourceNotFound', 'no such import');
      if (req.method === 'GET') return json(res, 200, { id: cloud.imports[at]!.id, ...publicFields(cloud.imports[at]!.body) });
      cloud.imports.splice(at, 1);
      res.writeHead(204).end();
      return;
    }
    graphError(res, 404, 'ResourceNotFound', `no route ${req.method} ${path}`);
  };

  const publicFields = (b: Record<string, string>) => Object.fromEntries(Object.entries(b).filter(([k]) => !k.startsWith('encrypted')));

  const importPfx = (res: ServerResponse, body: unknown) => {
    const refuse = (reason: string) => {
      cloud.refused.push({ reason, body });
      graphError(res, 400, 'BadRequest', reason);
    };
    if (!isObject(body)) return refuse('body must be a JSON object');
    const keys = exactKeys(body, PFX_FIELDS);
    if (keys) return refuse(keys);
    const b = body as Record<string, string>;
    for (const k of PFX_FIELDS) if (typeof b[k] !== 'string' || b[k] === '') return refuse(`${k} must be a non-empty string`);
    if (!/^[0-9a-f]{40}$/.test(b.thumbprint!)) return refuse('thumbprint must be 40 lower-case hex digits');
    if (!PURPOSES.includes(b.intendedPurpose!)) return refuse(`intendedPurpose ${b.intendedPurpose} is not one of ${PURPOSES.join(', ')}`);
    const owner = [...cloud.users.values()].find((u) => u.userPrincipalName.toLowerCase() === b.userPrincipalName!.toLowerCase());
    if (!owner) return refuse(`no user ${b.userPrincipalName}`);
    const digest = PADDING[b.paddingScheme!];
    if (!digest) return refuse(`paddingScheme ${b.paddingScheme} is not one of ${Object.keys(PADDING).join(', ')}`);
    if (!isStrictBase64(b.encryptedPfxBlob) || !isStrictBase64(b.encryptedPfxPassword))
      return refuse('encryptedPfxBlob and encryptedPfxPassword must be base64');
    for (const k of ['startDateTime', 'expirationDateTime'])
      if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(b[k]!)) return refuse(`${k} must be an ISO-8601 UTC time`);
    if (cloud.imports.some((i) => i.userId === owner.id && i.body.thumbprint === b.thumbprint))
      return graphError(res, 409, 'Conflict', `${b.thumbprint} is already imported for ${owner.userPrincipalName}`);
    const id = { compact: `${owner.id.replace(/-/g, '')}-${b.thumbprint}`, dashed: `${owner.id}-${b.thumbprint}`, opaque: randomUUID() }[cloud.importIdForm];

    // Open it as the on-premises connector would: decrypt the password, then the PKCS#12.
    const file = (name: string, data: Buffer | string) => {
      const p = join(work, `${randomUUID()}-${name}`);
      writeFileSync(p, data, { mode: 0o600 });
      return p;
    };
    let password: string;
    let pem: string;
    try {
      const out = file('password.bin', '');
      openssl([
        'pkeyutl',
        '-decrypt',
        '-inkey',
        connectorKeyFile,
        '-in',
        file('password.enc', Buffer.from(b.encryptedPfxPassword!, 'base64')),
        '-out',
        out,
        '-pkeyopt',
        'rsa_padding_mode:oaep',
        '-pkeyopt',
        `rsa_oaep_md:${digest}`,
        '-pkeyopt',
        `rsa_mgf1_md:${digest}`,
      ]);
      password = readFileSync(out, 'latin1');
    } catch (err) {
      return refuse(`encryptedPfxPassword does not decrypt with the connector key (${(err as Error).message.split('\n')[0]})`);
    }
    try {
      pem = openssl(['pkcs12', '-in', file('blob.p12', Buffer.from(b.encryptedPfxBlob!, 'base64')), '-passin', `pass:${password}`, '-nodes']);
    } catch {
      return refuse('encryptedPfxBlob does not open with the decrypted password');
    }
    const certPem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
    const keyPem = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/.exec(pem)?.[0];
    if (!certPem || !keyPem) return refuse('the PKCS#12 lacks a certificate or a private key');
    const certificate = new X509Certificate(certPem);
    if (createHash('sha1').update(certificate.raw).digest('hex') !== b.thumbprint) return refuse('thumbprint is not the SHA-1 of the certificate in the blob');
    if (Date.parse(b.startDateTime!) !== Date.parse(certificate.validFrom)) return refuse('startDateTime is not the certificate notBefore');
    if (Date.parse(b.expirationDateTime!) !== Date.parse(certificate.validTo)) return refuse('expirationDateTime is not the certificate notAfter');
    const keyMatches = certificate.checkPrivateKey(createPrivateKey(keyPem));
    const imported: PfxImport = { id, userId: owner.id, body: b, password, certificate, keyMatches };
    cloud.imports.push(imported);
    json(res, 201, { '@odata.type': '#microsoft.graph.userPFXCertificate', id, ...publicFields(b), createdDateTime: new Date().toISOString() });
  };

  // ---------------------------------------------------------------- services
  const servicesRoute = async (req: IncomingMessage, res: ServerResponse, url: URL, body: unknown) => {
    if (!authorize(req, res, cloud.intuneScope)) return;
    const h = req.headers;
    const scep = /^\/ScepRequestValidationFEService\/ScepActions\/(validateRequest|successNotification|failureNotification)$/.exec(url.pathname);
    const pki = /^\/PkiConnectorFEService\/CertificateAuthorityRequests\/(downloadRevocationRequests|uploadRevocationResults)$/.exec(url.pathname);
    const headerProblem = (apiVersion: string) =>
      h['content-type']?.split(';')[0] !== 'application/json'
        ? 'content-type must be application/json'
        : !UUID.test(String(h['client-request-id']))
          ? 'client-request-id must be a UUID'
          : h['api-version'] !== apiVersion
            ? `api-version must be ${apiVersion}`
            : !/credgate/i.test(String(h['user-agent']))
              ? 'the user agent must name the provider'
              : undefined;
    if (req.method !== 'POST' || (!scep && !pki)) return json(res, 404, { code: 'NotFound', errorDescription: `no route ${req.method} ${url.pathname}` });
    const problem = headerProblem(scep ? '2018-02-20' : '5019-05-05');
    if (problem) return json(res, 400, { code: 'BadRequest', errorDescription: problem });
    if (!isObject(body)) return json(res, 400, { code: 'BadRequest', errorDescription: 'body must be a JSON object' });
    if (scep) return scepAction(res, scep[1]!, h, body);
    return pkiAction(res, pki![1]!, body);
  };

  const scepAction = (res: ServerResponse, action: string, headers: IncomingMessage['headers'], body: Record<string, unknown>) => {
    const wrapper = action === 'validateRequest' ? 'request' : 'notification';
    const inner = body[wrapper];
    const bad = (why: string) => json(res, 400, { code: 'BadRequest', errorDescription: why });
    if (exactKeys(body, [wrapper]) || !isObject(inner)) return bad(`body must be {"${wrapper}": {...}}`);
    const fields =
      action === 'validateRequest' ? ['transactionId', 'certificateRequest', 'callerInfo'] : action === 'successNotification' ? SUCCESS_FIELDS : FAILURE_FIELDS;
    const keys = exactKeys(inner, fields);
    if (keys) return bad(keys);
    for (const f of fields) {
      const ok = f === 'hResult' ? Number.isInteger(inner[f]) : typeof inner[f] === 'string' && inner[f] !== '';
      if (!ok) return bad(`${f} is missing or of the wrong type`);
    }
    let challenge: string | undefined;
    try {
      challenge = parseCsr(Buffer.from(inner.certificateRequest as string, 'base64')).challengePassword;
    } catch {
      return bad('certificateRequest is not a base64 DER PKCS#10');
    }
    cloud.scepCalls.push({ action, headers, body: body as Record<string, Record<string, unknown>> });
    if (action !== 'validateRequest') return json(res, 200, { code: 'Success', errorDescription: '' });
    const verdict = challenge === undefined ? undefined : challenges.get(challenge);
    if (!verdict) return json(res, 200, { code: 'ChallengeDecryptionError', errorDescription: 'unknown challenge' });
    json(res, 200, { code: verdict.code, errorDescription: verdict.errorDescription });
  };

  const pkiAction = (res: ServerResponse, action: string, body: Record<string, unknown>) => {
    const bad = (why: string) => json(res, 400, { code: 'BadRequest', errorDescription: why });
    if (action === 'downloadRevocationRequests') {
      const p = body.downloadParameters;
      if (exactKeys(body, ['downloadParameters']) || !isObject(p) || exactKeys(p, ['maxRequests', 'issuerName']))
        return bad('body must be {"downloadParameters": {"maxRequests", "issuerName"}}');
      if (!Number.isInteger(p.maxRequests) || (p.maxRequests as number) < 1 || (p.maxRequests as number) > 500) return bad('maxRequests must be 1..500');
      if (p.issuerName !== null && typeof p.issuerName !== 'string') return bad('issuerName must be null or a string');
      return json(res, 200, { value: revocationQueue.splice(0, p.maxRequests as number) });
    }
    const results = body.results;
    if (exactKeys(body, ['results']) || !Array.isArray(results)) return bad('body must be {"results": [...]}');
    for (const r of results) {
      if (!isObject(r) || exactKeys(r, ['requestContext', 'succeeded', 'errorCode', 'errorMessage']))
        return bad('each result has requestContext, succeeded, errorCode, errorMessage');
      if (typeof r.requestContext !== 'string' || typeof r.succeeded !== 'boolean' || !Number.isInteger(r.errorCode) || typeof r.errorMessage !== 'string')
        return bad('result field of the wrong type');
      if (r.succeeded !== (r.errorCode === 0)) return bad('errorCode must be 0 exactly when succeeded');
    }
    cloud.revocationUploads.push(results as Record<string, unknown>[]);
    json(res, 200, { value: true });
  };

  // ---------------------------------------------------------------- plumbing
  const serve = (server: RecordedRequest['server'], req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const raw = await readBody(req, 10 * 1024 * 1024);
      const url = new URL(req.url ?? '/', 'https://127.0.0.1');
      let body: unknown;
      if (raw.length && server === 'login') body = new URLSearchParams(raw.toString());
      else if (raw.length) {
        const parsed = parseJson(raw);
        if (!parsed.ok) return json(res, 400, { error: { code: 'BadRequest', message: parsed.reason } });
        body = parsed.value;
      }
      const recorded = server === 'login' ? Object.fromEntries((body as URLSearchParams | undefined) ?? []) : body;
      cloud.requests.push({ server, method: req.method ?? '', path: url.pathname + url.search, headers: req.headers, body: recorded, at: Date.now() });
      const key = `${req.method} ${url.pathname}${url.search}`;
      for (const [route, f] of failures) {
        if (f.left > 0 && (typeof route === 'string' ? key.startsWith(route) : route.test(decodeURIComponent(key)))) {
          f.left -= 1;
          return graphError(res, f.status, 'Injected', `stand-in answering ${f.status}`, f.headers);
        }
      }
      if (server === 'login') {
        if (req.method === 'POST' && url.pathname === `/${opts.tenant}/oauth2/v2.0/token`)
          return tokenEndpoint(req, res, (body as URLSearchParams | undefined) ?? new URLSearchParams());
        return json(res, 404, { error: 'not_found', error_description: `AADSTS90002: no tenant route ${url.pathname}` });
      }
      if (server === 'graph') return graphRoute(req, res, url, body);
      return servicesRoute(req, res, url, body);
    })().catch((err: unknown) => {
      if (!res.headersSent) json(res, 500, { error: { code: 'InternalError', message: String(err) } });
    });
  };
  servers.login.on('request', (req: IncomingMessage, res: ServerResponse) => serve('login', req, res));
  servers.graph.on('request', (req: IncomingMessage, res: ServerResponse) => serve('graph', req, res));
  services.server.on('request', (req: IncomingMessage, res: ServerResponse) => serve('services', req, res));
  return cloud;
}
