/**
 * The passport strategies for client certificates (configuration) and bearer
 * tokens (the database). Basic users are checked by basic.ts.
 */
import { X509Certificate } from 'node:crypto';
import type { DetailedPeerCertificate, PeerCertificate, TLSSocket } from 'node:tls';
import { Strategy as ClientCertStrategy } from 'passport-client-cert';
import { Strategy as BearerStrategy } from 'passport-http-bearer';
import type { ClientCertRule } from '../../config/schema.js';
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

/** The rule an already chain-verified client certificate matches, or undefined. */
function matchRule(rules: ClientCertRule[], cert: PeerCertificate): ClientCertRule | undefined {
  const fingerprint = normalizeFingerprint(cert.fingerprint256 ?? '');
  const subject = certSubject(cert);
  return rules.find((r) =>
    r.fingerprint ? normalizeFingerprint(r.fingerprint) === fingerprint && (!r.subject || sameDn(r.subject, subject)) : r.subject !== undefined && sameDn(r.subject, subject),
  );
}

function principalOf(rule: ClientCertRule, cert: PeerCertificate): Principal {
  return {
    name: rule.principal,
    method: 'client-cert',
    roles: rule.roles,
    certificate: {
      subject: certSubject(cert),
      issuer: rdns(cert.issuer as unknown as Record<string, string | string[]>),
      fingerprint256: cert.fingerprint256,
      serialNumber: cert.serialNumber,
      validTo: new Date(cert.valid_to).toISOString(),
    },
  };
}

/** SHA-256 fingerprints (OpenSSL's colon form) of every certificate in PEM texts. */
function fingerprintsOf(pems: string[]): Set<string> {
  return new Set(pems.flatMap((pem) => [...pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)].map((m) => new X509Certificate(m[0]).fingerprint256)));
}

/** The verified chain above the certificate; Node completes it from the listener's trust store. */
function chainAbove(peer: DetailedPeerCertificate): string[] {
  const seen = [peer.fingerprint256];
  for (let c = peer.issuerCertificate as DetailedPeerCertificate | undefined; c?.fingerprint256 && !seen.includes(c.fingerprint256); c = c.issuerCertificate) {
    seen.push(c.fingerprint256);
  }
  return seen.slice(1);
}

export interface ClientCertTrust {
  /**
   * PEM texts of the CAs this allowlist accepts: a certificate must chain to
   * one. The listener trusts the union of every allowlist's CAs (and the PIV
   * CAs), so without this a console's or a card issuer's CA could mint an
   * admin's subject.
   */
  anchors: string[];
  /**
   * Whether the gateway's own issuance core issued the certificate (by
   * lower-case SHA-256 hex). Such a certificate matches fingerprint rules
   * only: its subject came from an enrollee (a SCEP request, a directory
   * entry), so it says nothing about who holds it.
   */
  issuedHere?: (sha256: string) => Promise<boolean>;
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
  private readonly anchors: Set<string>;

  constructor(
    private readonly rules: ClientCertRule[],
    private readonly trust: ClientCertTrust,
  ) {
    this.anchors = fingerprintsOf(trust.anchors);
  }

  /** The principal for this connection's certificate, or null. */
  async resolve(socket: TLSSocket): Promise<Principal | null> {
    const peer = socket.getPeerCertificate(true);
    if (!peer?.raw || !chainAbove(peer).some((fp) => this.anchors.has(fp))) return null;
    const rule = matchRule(this.rules, peer);
    if (!rule) return null;
    if (!rule.fingerprint && (await this.trust.issuedHere?.(normalizeFingerprint(peer.fingerprint256).toLowerCase()))) return null;
    return principalOf(rule, peer);
  }

  strategy(): ClientCertStrategy {
    return new ClientCertStrategy({ passReqToCallback: true }, ((req: { socket: TLSSocket }, _cert: PeerCertificate, done: (e: unknown, u?: Principal | false) => void) => {
      const known = this.principals.get(req.socket);
      if (known !== undefined) return done(null, known ?? false);
      this.resolve(req.socket).then(
        (principal) => {
          this.principals.set(req.socket, principal);
          done(null, principal ?? false);
        },
        (err: unknown) => done(err),
      );
    }) as never);
  }
}

export function bearerStrategy(tokens: TokenRepository): BearerStrategy<(token: string, done: (e: unknown, u?: Principal | false) => void) => void> {
  return new BearerStrategy((token, done) => {
    tokens.verify(token).then(
      (record) => done(null, record ? { name: record.name, method: 'bearer', roles: record.roles, tokenId: record.id } : false),
      (err: unknown) => done(err),
    );
  });
}
