/**
 * Calls to Microsoft Graph with the app's token: a 401 refetches the token
 * once, 429 and 503 carry Retry-After, @odata.nextLink is followed only
 * within the configured Graph host (the token must not travel elsewhere).
 * Failures never carry axios's request config, which holds the token.
 */
import { Agent } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { rootCertificates } from 'node:tls';
import axios, { isAxiosError, type AxiosInstance, type AxiosResponse, type Method } from 'axios';
import { durationMs } from '../../src/config/duration.js';
import type { OAuthClient } from '../../src/connectors/oauth-client.js';
import { readCaSetting } from '../../src/connectors/setting-file.js';
import type { IntuneSettings } from './schema.js';

export interface GraphResponse {
  status: number;
  data: Record<string, unknown>;
  /** From Retry-After, when the answer had one. */
  retryAfterMs?: number;
}

/** A Graph answer the caller cannot use, with what the operator needs to know. */
export class GraphError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly body: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'GraphError';
  }

  /** Worth trying again later: network failures, 408, 429 and 5xx. */
  get retryable(): boolean {
    return this.status === undefined || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

/** A network-level failure (no HTTP answer), without the request config. */
export class TransportError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

/** Connection-level failures after which a cached service address may be stale. */
export const isConnectionFailure = (err: unknown): boolean =>
  err instanceof TransportError && ['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH'].includes(err.code ?? '');

/** Retry-After as seconds or an HTTP date, in milliseconds from now. */
export function retryAfterMs(value: unknown, now = Date.now()): number | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The outbound HTTP client every Intune call uses: extra trust, timeout, no proxy surprises. */
export function intuneHttp(settings: Pick<IntuneSettings, 'trust' | 'timeout'>): AxiosInstance {
  const extra = settings.trust.map((p, i) => readCaSetting(p, `trust[${i}]`).toString('utf8'));
  return axios.create({
    timeout: durationMs(settings.timeout),
    // Node's bundled roots stay trusted: the extra CAs are added, not substituted.
    httpsAgent: new Agent({ keepAlive: true, minVersion: 'TLSv1.2', ...(extra.length && { ca: [...rootCertificates, ...extra] }) }),
    validateStatus: () => true,
    maxRedirects: 0,
    proxy: false,
  });
}

/** Sends one request, turning a network failure into a TransportError. */
export async function send(
  http: AxiosInstance,
  config: { method: Method; url: string; data?: unknown; headers?: Record<string, string> },
): Promise<AxiosResponse> {
  try {
    return await http.request({ ...config, responseType: 'json' });
  } catch (err) {
    if (!isAxiosError(err)) throw err;
    const { origin, pathname } = new URL(config.url);
    throw new TransportError(`${config.method} ${origin}${pathname} failed: ${`${err.code ?? ''} ${err.message}`.trim()}`, err.code);
  }
}

/**
 * A listing page Graph throttles (429, or 503 from a busy service) is asked
 * for again within the same listing once Retry-After has passed, as the
 * "Microsoft Graph throttling guidance" page asks; without the header the
 * wait doubles from a second. Bounded: more retries than this, or a wait
 * longer than this, fails the listing and the caller's own schedule (the
 * next polling interval) takes over.
 */
export const THROTTLE = { retries: 4, maxWaitMs: 5 * 60_000, firstBackoffMs: 1000 } as const;

export const bodyText = (data: unknown): string => (typeof data === 'string' ? data : JSON.stringify(data ?? '')).slice(0, 2000);

export class Graph {
  readonly scope: string;

  constructor(
    private readonly http: AxiosInstance,
    private readonly tokens: OAuthClient,
    private readonly settings: Pick<IntuneSettings, 'graphHost' | 'graphScope'>,
  ) {
    this.scope = settings.graphScope ?? `${settings.graphHost}/.default`;
  }

  /** `path` is relative to the Graph host (e.g. /v1.0/users/x) or an absolute URL on it. */
  async request(method: Method, path: string, data?: unknown): Promise<GraphResponse> {
    const url = path.startsWith('https://') ? path : `${this.settings.graphHost}${path}`;
    if (!url.startsWith(`${this.settings.graphHost}/`)) throw new GraphError(`refusing to send the Graph token to ${new URL(url).origin}`, undefined, url);
    const res = await this.tokens.withToken(this.scope, (token) =>
      send(this.http, {
        method,
        url,
        ...(data !== undefined && { data }),
        headers: { Authorization: `Bearer ${token}`, Accept: 'application/json', ...(data !== undefined && { 'Content-Type': 'application/json' }) },
      }),
    );
    const after = retryAfterMs(res.headers['retry-after']);
    const body = res.data && typeof res.data === 'object' ? (res.data as Record<string, unknown>) : {};
    return { status: res.status, data: body, ...(after !== undefined && { retryAfterMs: after }) };
  }

  /** GET that must answer 200; anything else is a GraphError. */
  async get(path: string): Promise<Record<string, unknown>> {
    const res = await this.request('GET', path);
    if (res.status !== 200) throw failure('GET', path, res);
    return res.data;
  }

  /** GET that must answer 200, waiting out throttling within THROTTLE's bounds; the wait ends early when `signal` aborts. */
  async getThrottled(path: string, signal?: AbortSignal): Promise<Record<string, unknown>> {
    for (let retry = 0; ; retry++) {
      const res = await this.request('GET', path);
      if (res.status === 200) return res.data;
      if (res.status !== 429 && res.status !== 503) throw failure('GET', path, res);
      const wait = res.retryAfterMs ?? THROTTLE.firstBackoffMs * 2 ** retry;
      const why =
        retry >= THROTTLE.retries
          ? `still throttled after ${retry} retries`
          : wait > THROTTLE.maxWaitMs
            ? `Retry-After asks for ${Math.ceil(wait / 1000)} s, more than the ${THROTTLE.maxWaitMs / 1000} s a listing waits`
            : undefined;
      if (why) {
        const f = failure('GET', path, res);
        throw new GraphError(`${f.message}; ${why}`, f.status, f.body, f.retryAfterMs);
      }
      // Unref'd: a throttled listing must not hold a stopping process open.
      await sleep(wait, undefined, { ref: false, ...(signal && { signal }) });
    }
  }

  /** Every item of a collection, page by page (@odata.nextLink); a throttled page is waited for, a failed page fails the whole listing. */
  async *list(path: string, signal?: AbortSignal): AsyncGenerator<Record<string, unknown>[]> {
    let next: string | undefined = path;
    for (let page = 0; next; page++) {
      const data = await this.getThrottled(next, signal);
      const value = data.value;
      if (!Array.isArray(value)) throw new GraphError(`GET ${pathOf(next)}: page ${page + 1} has no value array`, 200, bodyText(data));
      yield value as Record<string, unknown>[];
      const link = data['@odata.nextLink'];
      next = typeof link === 'string' && link !== '' ? link : undefined;
    }
  }
}

const pathOf = (path: string) => (path.startsWith('https://') ? new URL(path).pathname : path.split('?')[0]);

export function failure(method: string, path: string, res: GraphResponse): GraphError {
  const error = (res.data.error ?? {}) as { code?: unknown; message?: unknown };
  const why = [error.code, error.message].filter((v) => typeof v === 'string').join(': ');
  return new GraphError(
    `Graph answered ${res.status} to ${method} ${pathOf(path)}${why ? ` (${why.slice(0, 300)})` : ''}`,
    res.status,
    bodyText(res.data),
    res.retryAfterMs,
  );
}
