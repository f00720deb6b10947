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
import { DerError } from '../../pki/der-reader.js';
import { certificateNames } from '../../pki/dn-der.js';
import { formatDn, parseDn, type Dn } from '../../pki/dn.js';
import { sameName } from './dn.js';
import type { Principal } from './principal.js';

const normalizeFingerprint = (fp: string) => fp.replace(/:/g, '').toUpperCase();

/** A rule with its subject parsed once, at start-up (config validation has parsed it already). */
type ParsedRule = ClientCertRule & { subjectName?: Dn };

const parseRule = (rule: ClientCertRule): ParsedRule => (rule.subject === undefined ? rule : { ...rule, subjectName: parseDn(rule.subject) });

/** The rule an already chain-verified client certificate matches, or undefined. */
function matchRule(rules: ParsedRule[], cert: PeerCertificate, subject: Dn): ParsedRule | undefined {
  const fingerprint = normalizeFingerprint(cert.fingerprint256 ?? '');
  return rules.find((r) =>
    r.fingerprint
      ? normalizeFingerprint(r.fingerprint) === fingerprint && (!r.subjectName || sameName(r.subjectName, subject))
      : r.subjectName !== undefined && sameName(r.subjectName, subject),
  );
}

function principalOf(rule: ClientCertRule, cert: PeerCertificate, names: { subject: Dn; issuer: Dn }): Principal {
  return {
    name: rule.principal,
    method: 'client-cert',
    roles: rule.roles,
    certificate: {
      subject: formatDn(names.subject),
      issuer: formatDn(names.issuer),
      fingerprint256: cert.fingerprint256,
      serialNumber: cert.serialNumber,
      validTo: new Date(cert.valid_to).toISOString(),
    },
  };
}

/** SHA-256 fingerprints (OpenSSL's colon form) of every certificate in PEM texts. */
function fingerprintsOf(pems: string[]): Set<string> {
  return new Set(
    pems.flatMap((pem) =>
      [...pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)].map((m) => new X509Certificate(m[0]).fingerprint256),
    ),
  );
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
  private readonly rules: ParsedRule[];

  constructor(
    rules: ClientCertRule[],
    private readonly trust: ClientCertTrust,
  ) {
    this.rules = rules.map(parseRule);
    this.anchors = fingerprintsOf(trust.anchors);
  }

  /** The principal for this connection's certificate, or null. */
  async resolve(socket: TLSSocket): Promise<Principal | null> {
    const peer = socket.getPeerCertificate(true);
    if (!peer?.raw || !chainAbove(peer).some((fp) => this.anchors.has(fp))) return null;
    let names: { subject: Dn; issuer: Dn };
    try {
      names = certificateNames(peer.raw);
    } catch (err) {
      // OpenSSL accepted the chain, yet its names are beyond reading: no rule can vouch for it.
      if (err instanceof DerError) return null;
      throw err;
    }
    const rule = matchRule(this.rules, peer, names.subject);
    if (!rule) return null;
    if (!rule.fingerprint && (await this.trust.issuedHere?.(normalizeFingerprint(peer.fingerprint256).toLowerCase()))) return null;
    return principalOf(rule, peer, names);
  }

  strategy(): ClientCertStrategy {
    return new ClientCertStrategy({ passReqToCallback: true }, ((
      req: { socket: TLSSocket },
      _cert: PeerCertificate,
      done: (e: unknown, u?: Principal | false) => void,
    ) => {
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
