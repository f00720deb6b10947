/**
 * OAuth2 client credentials (RFC 6749 §4.4) for connectors that call a
 * vendor API as themselves: a client secret, or a client certificate proven
 * by a signed JWT assertion (RFC 7523, Microsoft identity platform format).
 * Tokens are cached per scope until shortly before they expire; concurrent
 * callers share one token request.
 */
import { createHash, randomUUID, sign, type KeyObject, type X509Certificate } from 'node:crypto';
import { isAxiosError, type AxiosInstance } from 'axios';

export type ClientCredential = { secret: string } | { certificate: X509Certificate; key: KeyObject };

export interface OAuthClientOptions {
  tokenUrl: string;
  clientId: string;
  credential: ClientCredential;
  /** Carries the token requests (trust, timeouts); it must answer every status rather than throw. */
  http: AxiosInstance;
  /** Refresh this long before expiry at most; never more than a tenth of a token's lifetime. */
  refreshMarginMs?: number;
}

/** The token endpoint refused or could not be reached; `status` is absent for network failures. */
export class TokenEndpointError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'TokenEndpointError';
  }
}

interface CachedToken {
  value: string;
  refreshAt: number;
}

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const ASSERTION_LIFETIME_S = 600;
const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/**
 * A client assertion: RS256 JWT whose header names the certificate by its
 * SHA-1 (`x5t`) and SHA-256 (`x5t#S256`) thumbprints, audience the token URL.
 */
export function clientAssertion(opts: { tokenUrl: string; clientId: string; certificate: X509Certificate; key: KeyObject }, now = Date.now()): string {
  const der = opts.certificate.raw;
  const header = {
    alg: 'RS256',
    typ: 'JWT',
    x5t: b64url(createHash('sha1').update(der).digest()),
    'x5t#S256': b64url(createHash('sha256').update(der).digest()),
  };
  const iat = Math.floor(now / 1000);
  const claims = { aud: opts.tokenUrl, iss: opts.clientId, sub: opts.clientId, jti: randomUUID(), iat, nbf: iat, exp: iat + ASSERTION_LIFETIME_S };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${b64url(sign('sha256', Buffer.from(input), opts.key))}`;
}

export class OAuthClient {
  private readonly cache = new Map<string, CachedToken>();
  private readonly pending = new Map<string, Promise<CachedToken>>();

  constructor(private readonly opts: OAuthClientOptions) {}

  /** A bearer token for `scope`, from the cache while it is fresh. */
  async token(scope: string): Promise<string> {
    const cached = this.cache.get(scope);
    if (cached && cached.refreshAt > Date.now()) return cached.value;
    let request = this.pending.get(scope);
    if (!request) {
      request = this.fetch(scope).finally(() => this.pending.delete(scope));
      this.pending.set(scope, request);
    }
    return (await request).value;
  }

  /** Drops `token` from the cache (the API refused it); a newer token fetched meanwhile stays. */
  invalidate(scope: string, token: string): void {
    if (this.cache.get(scope)?.value === token) this.cache.delete(scope);
  }

  /**
   * Runs `call` with a token; when the API answers 401 (a token revoked or
   * expired early) it runs once more with a fresh one.
   */
  async withToken<R extends { status: number }>(scope: string, call: (token: string) => Promise<R>): Promise<R> {
    const token = await this.token(scope);
    const res = await call(token);
    if (res.status !== 401) return res;
    this.invalidate(scope, token);
    return call(await this.token(scope));
  }

  private async fetch(scope: string): Promise<CachedToken> {
    const { tokenUrl, clientId, credential } = this.opts;
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, scope });
    if ('secret' in credential) form.set('client_secret', credential.secret);
    else {
      form.set('client_assertion_type', ASSERTION_TYPE);
      form.set('client_assertion', clientAssertion({ tokenUrl, clientId, ...credential }));
    }
    let res;
    try {
      res = await this.opts.http.post(tokenUrl, form.toString(), {
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      });
    } catch (err) {
      // axios errors carry the request (and so the secret): keep only what went wrong.
      throw new TokenEndpointError(`token request to ${tokenUrl} failed: ${isAxiosError(err) ? `${err.code ?? ''} ${err.message}`.trim() : String(err)}`);
    }
    const data = (res.data ?? {}) as { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown };
    if (res.status !== 200 || typeof data.access_token !== 'string') {
      const why = [data.error, data.error_description]
        .filter((v) => typeof v === 'string')
        .join(': ')
        .split('\n')[0]
        ?.slice(0, 300);
      throw new TokenEndpointError(`token endpoint ${tokenUrl} answered ${res.status}${why ? ` (${why})` : ''}`, res.status);
    }
    const lifetimeMs = Math.max(0, Number(data.expires_in ?? 3600) * 1000) || 3_600_000;
    const margin = Math.min(this.opts.refreshMarginMs ?? 300_000, lifetimeMs / 10);
    const token = { value: data.access_token, refreshAt: Date.now() + lifetimeMs - margin };
    this.cache.set(scope, token);
    return token;
  }
}
