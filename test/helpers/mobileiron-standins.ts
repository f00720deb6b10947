/**
 * Stand-ins for MobileIron Core, for tests of the MobileIron connector
 * (docs/vendors/mobileiron.md).
 *
 * Core's REST API v2 (startCoreApi):
 *
 *  - POST <uploadPath> (default /api/v2/usercertificates/upload): multipart
 *    with file, password, userId and ceSettingName. The PKCS#12 is opened
 *    with `openssl pkcs12` and that password and must hold exactly one
 *    private key; the setting must be one Core knows;
 *  - GET /api/v2/devices?query=common.uuid="<guid>"&fields=user.email_address:
 *    the device search the connector finds user emails with;
 *  - GET /api/v2/ping.
 *
 * Every call needs HTTP Basic of the configured admin and the configured
 * adminDeviceSpaceId, as Core would refuse anything else. With
 * `multipartSession` it also asks of uploads what Core's V2 API guide asks
 * of multipart calls ("JSESSIONID and CSRF_NONCE Required for Multipart
 * Calls"), in the form the connector assumes: any authenticated GET opens a
 * session (Set-Cookie JSESSIONID, and a CSRF_NONCE response header or
 * cookie); an upload without that cookie and nonce gets 403.
 *
 * Core's Event Notification Service broker, for what Mosquitto does not do
 * (startEnsBroker): refuse a subscription in its SUBACK.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { generate as mqttGenerate, parser as mqttParser, type Packet } from 'mqtt-packet';

export interface CoreUpload {
  at: Date;
  userId: string;
  ceSettingName: string;
  password: string;
  fileName: string;
  /** The JSESSIONID the upload carried, with multipartSession. */
  session?: string;
  pkcs12: Buffer;
  /** `openssl pkcs12 -nodes` output: the key and the certificates as PEM. */
  pem: string;
}

export interface CoreApiOptions {
  cert: string;
  key: string;
  username: string;
  password: string;
  adminDeviceSpaceId: number;
  ceSettingNames: string[];
  uploadPath?: string;
  /** Names of the multipart fields, when Core's differ from the contract's. */
  fields?: { file: string; password: string; userId: string; ceSettingName: string };
  multipartSession?: MultipartSession;
}

export interface MultipartSession {
  /** Where a GET's answer puts the nonce. */
  nonceIn: 'header' | 'cookie';
  /** Every upload's answer carries a new nonce (CSRF_NONCE header), and only that one is taken next. */
  rotate?: boolean;
}

export interface CoreApiHandle {
  url: string;
  uploads: CoreUpload[];
  /** Every request: method, path and query, in arrival order. */
  requests: { method: string; path: string; query: URLSearchParams }[];
  /** Device GUID -> user email, for the device search. */
  addDevice(guid: string, email: string): void;
  /** The search for `guid` also lists these devices, before it (a query matching more loosely than one device). */
  alsoMatch(guid: string, others: string[]): void;
  /** Answer the next n uploads with `status`, recording nothing. */
  failNext(n: number, status?: number): void;
  /** Asks uploads for a session from now on (undefined: Basic alone again). */
  requireSession(mode: MultipartSession | undefined): void;
  /** Forgets every session, as Core does when they time out. */
  expireSessions(): void;
  /** Every session id and nonce handed out, to look for in logs. */
  sessionSecrets(): string[];
  /** How many uploads were answered 403 for a missing, unknown or stale session. */
  sessionRefusals(): number;
  stop(): Promise<void>;
}

/** Opens a PKCS#12 with openssl; the PEM text, or the reason it does not open. */
function openPkcs12(p12: Buffer, password: string): { ok: true; pem: string } | { ok: false; reason: string } {
  const dir = mkdtempSync(join(tmpdir(), 'core-standin-'));
  try {
    const file = join(dir, 'upload.p12');
    writeFileSync(file, p12);
    const r = spawnSync('openssl', ['pkcs12', '-in', file, '-passin', 'stdin', '-nodes'], { input: password, encoding: 'utf8' });
    if (r.status !== 0) return { ok: false, reason: `openssl pkcs12 cannot open the file: ${r.stderr.split('\n')[0]}` };
    return { ok: true, pem: r.stdout };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const cookiesOf = (req: IncomingMessage) =>
  new Map(
    (req.headers.cookie ?? '').split(';').flatMap((c) => {
      const eq = c.indexOf('=');
      return eq > 0 ? [[c.slice(0, eq).trim(), c.slice(eq + 1).trim()] as [string, string]] : [];
    }),
  );

const send = (res: ServerResponse, status: number, body: unknown) => {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
};

const readBody = (req: IncomingMessage) =>
  new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });

export async function startCoreApi(opts: CoreApiOptions): Promise<CoreApiHandle> {
  const uploadPath = opts.uploadPath ?? '/api/v2/usercertificates/upload';
  const fields = opts.fields ?? { file: 'file', password: 'password', userId: 'userId', ceSettingName: 'ceSettingName' };
  const expectedAuth = `Basic ${Buffer.from(`${opts.username}:${opts.password}`).toString('base64')}`;
  const uploads: CoreUpload[] = [];
  const requests: CoreApiHandle['requests'] = [];
  const devices = new Map<string, string>();
  const looseMatches = new Map<string, string[]>();
  let failures = { left: 0, status: 503 };
  let session = opts.multipartSession;
  /** JSESSIONID -> the nonce it takes. */
  const sessions = new Map<string, string>();
  const handedOut: string[] = [];
  let refusals = 0;
  const secret = () => {
    const v = randomBytes(16).toString('hex').toUpperCase();
    handedOut.push(v);
    return v;
  };

  /** What a GET's answer carries while sessions are asked for. */
  const openSession = (res: ServerResponse, mode: MultipartSession) => {
    const [id, nonce] = [secret(), secret()];
    sessions.set(id, nonce);
    res.setHeader('Set-Cookie', [`JSESSIONID=${id}; Path=/; Secure; HttpOnly`, ...(mode.nonceIn === 'cookie' ? [`CSRF_NONCE=${nonce}; Path=/; Secure`] : [])]);
    if (mode.nonceIn === 'header') res.setHeader('CSRF_NONCE', nonce);
  };

  /** The session an upload carries, or undefined when it carries none Core knows with that nonce. */
  const sessionOf = (req: IncomingMessage, res: ServerResponse, mode: MultipartSession): string | undefined => {
    const id = cookiesOf(req).get('JSESSIONID');
    if (!id || sessions.get(id) === undefined || sessions.get(id) !== req.headers.csrf_nonce) return undefined;
    if (mode.rotate) {
      const next = secret();
      sessions.set(id, next);
      res.setHeader('CSRF_NONCE', next);
    }
    return id;
  };

  const upload = async (req: IncomingMessage, res: ServerResponse, sessionId: string | undefined) => {
    if (failures.left > 0) {
      failures.left -= 1;
      return send(res, failures.status, { messages: [{ type: 'Error', message: `stand-in answering ${failures.status}` }] });
    }
    const type = req.headers['content-type'] ?? '';
    if (!type.startsWith('multipart/form-data')) return send(res, 415, { messages: [{ message: 'expected multipart/form-data' }] });
    let form: FormData;
    try {
      form = await new Response(await readBody(req), { headers: { 'content-type': type } }).formData();
    } catch (err) {
      return send(res, 400, { messages: [{ message: `unreadable multipart body: ${(err as Error).message}` }] });
    }
    const file = form.get(fields.file);
    const [password, userId, ceSettingName] = [fields.password, fields.userId, fields.ceSettingName].map((k) => form.get(k));
    if (!(file instanceof Blob)) return send(res, 400, { messages: [{ message: 'file is missing or not a file' }] });
    for (const [k, v] of Object.entries({ password, userId, ceSettingName })) {
      if (typeof v !== 'string' || v === '') return send(res, 400, { messages: [{ message: `${k} is missing` }] });
    }
    if (!opts.ceSettingNames.includes(ceSettingName as string))
      return send(res, 404, { messages: [{ message: `no certificate enrollment setting named ${String(ceSettingName)}` }] });
    const pkcs12 = Buffer.from(await file.arrayBuffer());
    const opened = openPkcs12(pkcs12, password as string);
    if (!opened.ok) return send(res, 400, { messages: [{ message: opened.reason }] });
    const keys = opened.pem.match(/-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----/g)?.length ?? 0;
    if (keys !== 1) return send(res, 400, { messages: [{ message: `the PKCS#12 must hold exactly one private key, it holds ${keys}` }] });
    uploads.push({
      at: new Date(),
      userId: userId as string,
      ceSettingName: ceSettingName as string,
      password: password as string,
      fileName: (file as File).name,
      ...(sessionId && { session: sessionId }),
      pkcs12,
      pem: opened.pem,
    });
    send(res, 200, { results: { success: true } });
  };

  const server = createServer({ cert: opts.cert, key: opts.key }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://core.invalid');
    requests.push({ method: req.method ?? '', path: url.pathname, query: url.searchParams });
    if (req.headers.authorization !== expectedAuth) return send(res, 401, { messages: [{ message: 'authentication failed' }] });
    if (url.searchParams.get('adminDeviceSpaceId') !== String(opts.adminDeviceSpaceId))
      return send(res, 400, { messages: [{ message: 'adminDeviceSpaceId is missing or wrong' }] });
    if (req.method === 'GET' && session) openSession(res, session);
    if (req.method === 'POST' && url.pathname === uploadPath) {
      const sessionId = session && sessionOf(req, res, session);
      if (session && !sessionId) {
        refusals += 1;
        return send(res, 403, { messages: [{ type: 'Error', message: 'JSESSIONID and CSRF_NONCE are required for multipart calls' }] });
      }
      upload(req, res, sessionId).catch((err: unknown) => send(res, 500, { messages: [{ message: String(err) }] }));
      return;
    }
    if (req.method === 'GET' && url.pathname === '/api/v2/ping') return send(res, 200, { results: { vspVersion: 'stand-in' } });
    if (req.method === 'GET' && url.pathname === '/api/v2/devices') {
      const m = /^common\.uuid="([^"]+)"$/.exec(url.searchParams.get('query') ?? '');
      if (!m || !url.searchParams.get('fields')) return send(res, 400, { messages: [{ message: 'query and fields are required' }] });
      const found = [...(looseMatches.get(m[1]!) ?? []), m[1]!].filter((g) => devices.has(g));
      const results = found.map((g) => ({ 'common.uuid': g, 'user.email_address': devices.get(g) }));
      return send(res, 200, { totalCount: results.length, resultCount: results.length, results });
    }
    send(res, 404, { messages: [{ message: `no route ${req.method} ${url.pathname}` }] });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    uploads,
    requests,
    addDevice: (guid, email) => void devices.set(guid, email),
    alsoMatch: (guid, others) => void looseMatches.set(guid, others),
    failNext(n, status = 503) {
      failures = { left: n, status };
    },
    requireSession(mode) {
      session = mode;
    },
    expireSessions: () => sessions.clear(),
    sessionSecrets: () => [...handedOut],
    sessionRefusals: () => refusals,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface EnsBrokerOptions {
  /** PEM text: the CA client certificates must chain to, and the broker's own certificate and key. */
  ca: string;
  cert: string;
  key: string;
  /** The SUBACK return code for a topic asked for at `qos`: a QoS, or 0x80 to refuse. */
  grant(topic: string, qos: number): number;
}

export interface EnsBrokerHandle {
  port: number;
  /** mqtts://127.0.0.1:<port> */
  url: string;
  /** Every CONNECT and SUBSCRIBE, in arrival order. */
  connects: { clientId: string; clean: boolean; sessionPresent: boolean }[];
  subscriptions: { clientId: string; topic: string; qos: number; granted: number }[];
  stop(): Promise<void>;
}

/**
 * An MQTT 3.1.1 broker that answers SUBSCRIBE with the return codes `grant`
 * chooses, for what Mosquitto does not do: refuse a subscription (0x80)
 * when it is made rather than filter on delivery. TLS with a required client
 * certificate, as the Event Notification Service; CONNACK's Session Present
 * is set for a client id that connected before without a clean session.
 * It routes no messages.
 */
export async function startEnsBroker(opts: EnsBrokerOptions): Promise<EnsBrokerHandle> {
  const connects: EnsBrokerHandle['connects'] = [];
  const subscriptions: EnsBrokerHandle['subscriptions'] = [];
  const sessions = new Set<string>();
  const sockets = new Set<TLSSocket>();
  const server = createTlsServer(
    { ca: opts.ca, cert: opts.cert, key: opts.key, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' },
    (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      const packets = mqttParser({ protocolVersion: 4 });
      let clientId = '';
      const send = (packet: Packet) => socket.write(mqttGenerate(packet));
      packets.on('error', () => socket.destroy());
      packets.on('packet', (packet: Packet) => {
        if (packet.cmd === 'connect') {
          clientId = packet.clientId;
          const clean = packet.clean !== false;
          const sessionPresent = !clean && sessions.has(clientId);
          if (clean) sessions.delete(clientId);
          else sessions.add(clientId);
          connects.push({ clientId, clean, sessionPresent });
          send({ cmd: 'connack', returnCode: 0, sessionPresent });
        } else if (packet.cmd === 'subscribe') {
          const granted = packet.subscriptions.map((sub) => {
            const code = opts.grant(sub.topic, sub.qos);
            subscriptions.push({ clientId, topic: sub.topic, qos: sub.qos, granted: code });
            return code;
          });
          send({ cmd: 'suback', messageId: packet.messageId!, granted });
        } else if (packet.cmd === 'pingreq') {
          send({ cmd: 'pingresp' });
        } else if (packet.cmd === 'disconnect') {
          socket.end();
        }
      });
      socket.on('data', (d: Buffer) => packets.parse(d));
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `mqtts://127.0.0.1:${port}`,
    connects,
    subscriptions,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
