/**
 * The three passport strategies. Each maps a credential to a Principal from
 * configuration (client certificates, Basic users) or the database (tokens).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { Strategy as ClientCertStrategy } from 'passport-client-cert';
import { BasicStrategy } from 'passport-http';
import { Strategy as BearerStrategy } from 'passport-http-bearer';
import type { BasicUser, ClientCertRule } from '../../config/schema.js';
import type { TokenRepository } from '../../store/tokens.js';
import { sameDn } from './dn.js';
import type { Principal } from './principal.js';

const normalizeFingerprint = (fp: string) => fp.replace(/:/g, '').toUpperCase();

function certSubject(cert: PeerCertificate): string {
  return rdns(cert.subject as unknown as Record<string, string | string[]>);
}

function rdns(name: Record<string, string | string[]>): string {
  return Object.entries(name)
    .flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => `${k}=${x}`) : [`${k}=${v}`]))
    .join(', ');
}

/** Finds the principal for an already chain-verified client certificate, or undefined. */
export function matchClientCert(rules: ClientCertRule[], cert: PeerCertificate): Principal | undefined {
  const fingerprint = normalizeFingerprint(cert.fingerprint256 ?? '');
  const subject = certSubject(cert);
  const rule = rules.find((r) =>
    r.fingerprint ? normalizeFingerprint(r.fingerprint) === fingerprint && (!r.subject || sameDn(r.subject, subject)) : r.subject !== undefined && sameDn(r.subject, subject),
  );
  if (!rule) return undefined;
  return {
    name: rule.principal,
    method: 'client-cert',
    roles: rule.roles,
    certificate: {
      subject,
      issuer: rdns(cert.issuer as unknown as Record<string, string | string[]>),
      fingerprint256: cert.fingerprint256,
      serialNumber: cert.serialNumber,
      validTo: new Date(cert.valid_to).toISOString(),
    },
  };
}

/**
 * Client-certificate authentication for one allowlist. A TLS connection
 * keeps its certificate over keep-alive (the listener refuses
 * renegotiation), so each connection is matched once and guards read the
 * principal from `principals`. Each allowlist keeps its own cache: the same
 * connection may be an admin for one and unknown to another.
 */
export class ClientCertAuth {
  readonly principals = new WeakMap<TLSSocket, Principal | null>();

  constructor(private readonly rules: ClientCertRule[]) {}

  strategy(): ClientCertStrategy {
    return new ClientCertStrategy({ passReqToCallback: true }, ((req: { socket: TLSSocket }, cert: PeerCertificate, done: (e: unknown, u?: Principal | false) => void) => {
      let principal = this.principals.get(req.socket);
      if (principal === undefined) {
        principal = matchClientCert(this.rules, cert) ?? null;
        this.principals.set(req.socket, principal);
      }
      done(null, principal ?? false);
    }) as never);
  }
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export function basicStrategy(users: BasicUser[]): BasicStrategy {
  const byName = new Map(users.map((u) => [u.username, { ...u, digest: digest(u.password) }]));
  // Compared as SHA-256 digests so timingSafeEqual sees equal lengths and
  // the time taken does not depend on where the passwords differ.
  const unknown = digest('credgate: no such user');
  return new BasicStrategy((username, password, done) => {
    const user = byName.get(username);
    const ok = timingSafeEqual(digest(password), user?.digest ?? unknown) && user !== undefined;
    done(null, ok ? { name: user.principal, method: 'basic', roles: user.roles } : false);
  });
}

export function bearerStrategy(tokens: TokenRepository): BearerStrategy<(token: string, done: (e: unknown, u?: Principal | false) => void) => void> {
  return new BearerStrategy((token, done) => {
    tokens.verify(token).then(
      (record) => done(null, record ? { name: record.name, method: 'bearer', roles: record.roles, tokenId: record.id } : false),
      (err: unknown) => done(err),
    );
  });
}
