/**
 * The session Core's multipart calls carry besides HTTP Basic. Core's V2 API
 * guide has had a section "JSESSIONID and CSRF_NONCE Required for Multipart
 * Calls" since May 2021 (its change log, Core 11.1); the form here is the
 * usual one for such a requirement and is assumed (docs/vendors/mobileiron.md):
 * an authenticated GET (`upload.session.path`) answers with a session
 * cookie (Set-Cookie JSESSIONID) and a nonce (a CSRF_NONCE response header,
 * else a cookie of that name); a multipart call sends back every cookie of
 * that answer and the nonce as a request header of the same name. A Core
 * that sets neither takes Basic alone, and nothing more is sent.
 *
 * The session is opened once and shared by the uploads that follow. Cookies
 * and a nonce on any later answer replace the ones held (a Core that rolls
 * the nonce per request); a held session that Core no longer takes is the
 * caller's to forget() (core-api.ts does on a 401 or 403, then tries once
 * more).
 *
 * The cookie and the nonce let anyone act as the API admin until they
 * expire: they are never logged or put into an error.
 */
import type { AxiosInstance, AxiosResponse } from 'axios';
import type { MobileIronSettings } from './schema.js';

type SessionSettings = MobileIronSettings['coreApi']['upload']['session'];

interface Held {
  /** The cookies Core set, by name, as a browser's jar for this one host keeps them. */
  cookies: Map<string, string>;
  nonce?: { value: string; from: 'header' | 'cookie' };
}

/** What a session adds to a multipart call, and whether it was opened for this very call. */
export interface SessionHeaders {
  headers: Record<string, string>;
  fresh: boolean;
}

const RETRYABLE = (status: number) => status >= 500 || status === 408 || status === 429;

/** name=value of each Set-Cookie line (RFC 6265 section 4.1.1); its attributes concern a browser's jar, not one session's replay. */
function cookiePairs(res: AxiosResponse): { name: string; value: string }[] {
  const lines = ([] as string[]).concat((res.headers['set-cookie'] as string[] | string | undefined) ?? []);
  return lines.flatMap((line) => {
    const pair = line.split(';', 1)[0]!;
    const eq = pair.indexOf('=');
    const name = eq > 0 ? pair.slice(0, eq).trim() : '';
    return name ? [{ name, value: pair.slice(eq + 1).trim() }] : [];
  });
}

/** The nonce an answer carries: the response header, else a cookie of that name. */
function nonceOf(res: AxiosResponse, name: string): Held['nonce'] {
  const header = res.headers[name.toLowerCase()] as unknown;
  if (typeof header === 'string' && header !== '') return { value: header, from: 'header' };
  const cookie = cookiePairs(res).find((c) => c.name === name)?.value;
  return cookie ? { value: cookie, from: 'cookie' } : undefined;
}

/** What an answer adds to a held session: its cookies, and its nonce in place of the one held. */
function merge(held: Held, res: AxiosResponse, nonceName: string): Held {
  const cookies = new Map(held.cookies);
  for (const c of cookiePairs(res)) cookies.set(c.name, c.value);
  const nonce = nonceOf(res, nonceName) ?? held.nonce;
  return { cookies, ...(nonce && { nonce }) };
}

export class CoreSession {
  private held: Promise<Held> | undefined;

  constructor(
    private readonly http: AxiosInstance,
    private readonly settings: SessionSettings,
    /** The GET that opens it when `session.path` is not set: the API's ping. */
    private readonly defaultPath: string,
  ) {}

  private get path(): string {
    return this.settings.path ?? this.defaultPath;
  }

  /** GET the session path with Basic; 5xx, 408, 429 and network failures are thrown so the delivery job retries. */
  private async open(): Promise<Held> {
    const res = await this.http.get(this.path);
    if (RETRYABLE(res.status)) throw new Error(`Core answered ${res.status} to ${this.path}, which opens the session for uploads`);
    const none: Held = { cookies: new Map() };
    return res.status >= 200 && res.status < 300 ? merge(none, res, this.settings.nonce) : none;
  }

  /** The Cookie and nonce headers for a multipart call; none when Core opened no session. */
  async headers(): Promise<SessionHeaders> {
    let fresh = false;
    if (!this.held) {
      fresh = true;
      const opening = this.open();
      this.held = opening;
      // A failed opening is not kept: the next call tries again.
      opening.catch(() => {
        if (this.held === opening) this.held = undefined;
      });
    }
    const { cookies, nonce } = await this.held;
    const cookie = [...cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    return { headers: { ...(cookie && { Cookie: cookie }), ...(nonce && { [this.settings.nonce]: nonce.value }) }, fresh };
  }

  /** Drops the held session: the next call opens a new one. */
  forget(): void {
    this.held = undefined;
  }

  /** Keeps the cookies and nonce a later answer of Core carries, for the calls after it. */
  observe(res: AxiosResponse): void {
    const held = this.held;
    if (held && (res.headers['set-cookie'] !== undefined || nonceOf(res, this.settings.nonce)))
      this.held = held.then((h) => merge(h, res, this.settings.nonce));
  }

  /** For the connection check: what a new session holds, by name only. */
  async describe(): Promise<string | undefined> {
    const { cookies, nonce } = await this.open();
    if (cookies.size === 0 && !nonce) return undefined;
    const parts = [
      ...(cookies.size > 0 ? [`cookies ${[...cookies.keys()].join(', ')}`] : []),
      ...(nonce ? [`nonce from the ${this.settings.nonce} ${nonce.from}`] : []),
    ];
    return `Core opened a session for uploads (${parts.join('; ')})`;
  }
}
