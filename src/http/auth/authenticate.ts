/**
 * Route guard: tries the allowed methods in order and answers 401 with the
 * reason when none succeeds, or 403 when the caller lacks a required role;
 * an address that keeps failing Basic gets 429 (address-throttle.ts).
 * A caller's roles are their credential's plus their user record's, but
 * for the built-in ones (the guard asks `access` only when the credential's
 * are not enough; src/identity/scope.ts, rightsRoles). A route
 * with roles that does not honour operator scope itself (`scoped`) admits
 * only callers whose scope is all (src/identity/scope.ts): what it lists or
 * changes reaches across every person.
 */
import type { RequestHandler } from 'express';
import type { PassportStatic } from 'passport';

type Authenticator = PassportStatic['Authenticator']['prototype'];
import type { TLSSocket } from 'node:tls';
import { Refusal } from '../../util/refusal.js';
import { HttpError } from '../errors.js';
import type { BasicUsers } from './basic.js';
import type { AuthMethod, Principal } from './principal.js';
import type { ApiRole } from './roles.js';
import type { ClientCertAuth } from './strategies.js';

export interface GuardOptions {
  methods: AuthMethod[];
  /** Passport strategy name per method, when not the method's own name (per-connector strategies). */
  strategies?: Partial<Record<Exclude<AuthMethod, 'basic'>, string>>;
  /** The allowlist behind the client-cert strategy, whose per-connection cache the guard reads. */
  clientCert?: ClientCertAuth;
  /** The users the basic method accepts. */
  basic?: BasicUsers;
  /** Any one of these roles is enough; omit to accept any authenticated caller. */
  roles?: (ApiRole | string)[];
  /** The route limits what it shows and does to the caller's operator scope; without it, a guard with roles requires scope all. */
  scoped?: boolean;
  /** The caller's roles with their user record's, and whether their scope is all (src/identity/scope.ts). */
  access?: GuardAccess;
}

export interface GuardAccess {
  rolesOf(p: Principal): Promise<string[]>;
  seesAll(p: Principal): Promise<boolean>;
}

function reason(req: Parameters<RequestHandler>[0], methods: AuthMethod[]): string {
  const socket = req.socket as TLSSocket;
  const header = req.headers.authorization ?? '';
  const scheme = header.split(' ')[0]?.toLowerCase();
  if (scheme === 'bearer' && methods.includes('bearer')) return 'bearer token is unknown, expired or revoked';
  if (scheme === 'basic' && methods.includes('basic')) return 'wrong username or password';
  if (methods.includes('client-cert') && typeof socket.getPeerCertificate === 'function') {
    const cert = socket.getPeerCertificate();
    if (cert && Object.keys(cert).length > 0) {
      if (!socket.authorized) return `client certificate rejected: ${String(socket.authorizationError)}`;
      return `client certificate ${cert.fingerprint256} is not on the allowlist`;
    }
  }
  const offered = methods.map((m) => (m === 'client-cert' ? 'a client certificate' : m === 'basic' ? 'Basic credentials' : 'a bearer token'));
  return `authentication required: present ${offered.join(' or ')}`;
}

const CHALLENGE: Partial<Record<AuthMethod, string>> = { basic: 'Basic realm="credgate"', bearer: 'Bearer realm="credgate"' };

/**
 * Narrows the passport methods worth trying for this request, so passport
 * runs only strategies that can succeed: a connection without a verified
 * certificate skips client-cert, and Bearer is tried only for its own scheme.
 */
function candidates(req: Parameters<RequestHandler>[0], opts: GuardOptions): Exclude<AuthMethod, 'basic'>[] {
  const socket = req.socket as TLSSocket;
  const bearer = req.headers.authorization?.slice(0, 7).toLowerCase() === 'bearer ';
  return opts.methods.filter((m): m is Exclude<AuthMethod, 'basic'> => {
    if (m === 'client-cert') return socket.authorized === true && opts.clientCert?.principals.get(socket) !== null;
    return m === 'bearer' && bearer;
  });
}

export type Guard = (opts: GuardOptions) => RequestHandler;

export function guard(passport: Authenticator, opts: GuardOptions): RequestHandler {
  const challenge = opts.methods
    .map((m) => CHALLENGE[m])
    .filter(Boolean)
    .join(', ');
  const accept = (req: Parameters<RequestHandler>[0], user: Principal | false, next: (err?: unknown) => void) => {
    if (!user) {
      return next(new HttpError(401, 'unauthorized', reason(req, opts.methods), challenge ? { 'WWW-Authenticate': challenge } : {}));
    }
    if (!opts.roles) {
      req.user = user;
      return next();
    }
    admit(user, opts.roles).then((refusal) => {
      if (refusal) return next(refusal);
      req.user = user;
      next();
    }, next);
  };
  const admit = async (user: Principal, roles: string[]): Promise<Refusal | undefined> => {
    const holds = (held: string[]) => roles.some((r) => held.includes(r));
    if (!holds(user.roles) && !(opts.access && holds(await opts.access.rolesOf(user)))) {
      return new Refusal('forbidden', `${user.name} lacks the role this needs (${roles.join(' or ')})`);
    }
    if (!opts.scoped && opts.access && !(await opts.access.seesAll(user))) {
      return new Refusal('forbidden', `${user.name}'s operator scope does not reach everyone, which this needs: it lists or changes things across all people`);
    }
    return undefined;
  };
  return (req, res, next) => {
    if (opts.clientCert && opts.methods.includes('client-cert')) {
      const known = opts.clientCert.principals.get(req.socket as TLSSocket);
      if (known) return accept(req, known, next);
    }
    const authorization = req.headers.authorization;
    let basic: Principal | false = false;
    if (opts.basic && opts.methods.includes('basic') && authorization?.slice(0, 6).toLowerCase() === 'basic ') {
      const address = req.socket.remoteAddress ?? '';
      const wait = opts.basic.throttle.retryAfter(address);
      if (wait > 0)
        return next(
          new HttpError(429, 'too_many_requests', `too many failed Basic logins from ${address}; try again in ${wait} s`, { 'Retry-After': String(wait) }),
        );
      basic = opts.basic.verify(authorization);
      if (!basic && opts.basic.throttle.fail(address))
        req.log?.warn({ address }, 'failed Basic logins from this address are refused for the rest of the minute');
    }
    const methods = candidates(req, opts);
    if (methods.length === 0) return accept(req, basic, next);
    // A certificate not yet matched on this connection goes first, as it comes first in `methods`.
    passport.authenticate(
      methods.map((m) => opts.strategies?.[m] ?? m),
      { session: false },
      (err: unknown, user: Principal | false) => {
        if (err) return next(err);
        accept(req, user || basic, next);
      },
    )(req, res, next);
  };
}
