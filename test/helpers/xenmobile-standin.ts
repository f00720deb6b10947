/**
 * A stand-in for the XenMobile REST API (docs/vendors/citrix.md) over
 * HTTPS: login -> auth_token (expiring; an unknown or expired token gets 401),
 * POST /device/filter paged by start/limit, GET /device/<id>. Tests add,
 * retire and remove devices, and can make the list fail.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import { BodyTooLarge, listen, parseJson, readBody, sendJson } from './ws1-standins.js';

export interface XmStandinDevice {
  id: number;
  serialNumber: string;
  userName: string;
  platform: string;
  deviceModel: string;
  managed: boolean;
  mdmKnown: boolean;
  properties: { name: string; value: string }[];
}

export interface XenMobileStandin {
  url: string;
  /** Successful logins so far. */
  readonly logins: number;
  /** Every API call: method, path, the auth_token header it carried, the body, and the status it was answered with (0 until then). */
  readonly requests: { method: string; path: string; token: string | undefined; body: unknown; status: number }[];
  addDevice(d: Partial<XmStandinDevice> & { id: number; serialNumber: string; userName: string }): void;
  /** What XenMobile shows for a retired (revoked / selectively wiped) device: known to MDM, no longer managed. */
  retire(id: number): void;
  remove(id: number): void;
  /** Answer the next n device-list calls with `status`. */
  failList(n: number, status?: number): void;
  /** Every token issued so far stops working. */
  expireTokens(): void;
  stop(): Promise<void>;
}

const BASE = '/xenmobile/api/v1';

export async function startXenMobile(opts: { cert: string; key: string; login: string; password: string; tokenTtlMs?: number }): Promise<XenMobileStandin> {
  const devices = new Map<number, XmStandinDevice>();
  const tokens = new Map<string, number>();
  const requests: XenMobileStandin['requests'] = [];
  let logins = 0;
  let listFailures = { left: 0, status: 503 };

  const server = createServer({ cert: opts.cert, key: opts.key });
  const life = await listen(server);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let raw: Buffer;
    try {
      raw = await readBody(req, 64 * 1024);
    } catch (err) {
      if (err instanceof BodyTooLarge) sendJson(res, 413, { status: 1, message: 'too large' });
      return;
    }
    const path = new URL(req.url ?? '/', life.url).pathname;
    const json = raw.length ? parseJson(raw) : { ok: true as const, value: undefined };
    const body = json.ok ? json.value : undefined;
    const token = req.headers.auth_token as string | undefined;
    const entry = { method: req.method ?? '', path, token, body, status: 0 };
    requests.push(entry);
    res.on('finish', () => (entry.status = res.statusCode));
    if (!json.ok) return sendJson(res, 400, { status: 1, message: json.reason });

    if (req.method === 'POST' && path === `${BASE}/authentication/login`) {
      const b = body as { login?: unknown; password?: unknown } | undefined;
      if (b?.login !== opts.login || b?.password !== opts.password) return sendJson(res, 401, { status: 1, message: 'Invalid credentials' });
      const t = randomBytes(24).toString('hex');
      tokens.set(t, Date.now() + (opts.tokenTtlMs ?? 3_600_000));
      logins += 1;
      return sendJson(res, 200, { auth_token: t });
    }
    const expiry = token === undefined ? undefined : tokens.get(token);
    if (expiry === undefined || expiry < Date.now()) return sendJson(res, 401, { status: 1, message: 'Session expired or invalid auth_token' });

    if (req.method === 'POST' && path === `${BASE}/device/filter`) {
      if (listFailures.left > 0) {
        listFailures.left -= 1;
        return sendJson(res, listFailures.status, { status: 1, message: 'injected failure' });
      }
      const b = (body ?? {}) as { start?: unknown; limit?: unknown };
      const start = Number(b.start ?? 0);
      const limit = Number(b.limit ?? 1000);
      if (!Number.isInteger(start) || !Number.isInteger(limit) || start < 0 || limit < 1) return sendJson(res, 400, { status: 1, message: 'bad start/limit' });
      const all = [...devices.values()].sort((a, c) => a.id - c.id);
      return sendJson(res, 200, {
        status: 0,
        message: 'Success',
        filteredDevicesDataList: all.slice(start, start + limit),
        totalCount: all.length,
        matchedRecords: all.length,
      });
    }
    const one = /^\/xenmobile\/api\/v1\/device\/(\d+)$/.exec(path);
    if (req.method === 'GET' && one) {
      const d = devices.get(Number(one[1]));
      return d ? sendJson(res, 200, { status: 0, message: 'Success', device: d }) : sendJson(res, 404, { status: 1, message: 'Device not found' });
    }
    sendJson(res, 404, { status: 1, message: `no route ${req.method} ${path}` });
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { status: 1, message: String(err) });
    });
  });

  return {
    url: life.url,
    get logins() {
      return logins;
    },
    requests,
    addDevice(d) {
      devices.set(d.id, { platform: 'iOS', deviceModel: 'iPhone', managed: true, mdmKnown: true, properties: [], ...d });
    },
    retire(id) {
      const d = devices.get(id);
      if (d) devices.set(id, { ...d, managed: false });
    },
    remove(id) {
      devices.delete(id);
    },
    failList(n, status = 503) {
      listFailures = { left: n, status };
    },
    expireTokens() {
      for (const t of tokens.keys()) tokens.set(t, 0);
    },
    stop: () => life.stop(),
  };
}
