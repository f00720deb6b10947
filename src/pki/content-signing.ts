/**
 * The content-signing certificate: what lets the Identity Agent check that
 * what it received came from this gateway, whatever sits between them.
 *
 * - Every JSON answer of /mobile/v1 carries, in its JWS-Signature header,
 *   one detached JWS (RFC 7515 appendix F) over the exact body bytes per
 *   accepted signer: the current one, and during a rollover the previous one
 *   until its configured end, so an app that knows only the old certificate
 *   still verifies what it gets. The body stays the JSON it always was.
 * - The signer set is a JWK Set (RFC 7517 section 5) whose keys carry their
 *   certificate chain (x5c), their thumbprint (x5t#S256, also the kid) and
 *   until when each is accepted; it is itself signed by every accepted key,
 *   so an app holding the old certificate learns the new one from it.
 * - Short-lived tokens (the holder assertions of badges) are compact JWS by
 *   the current key alone, each typed (RFC 8725 section 3.11) so that no JWS
 *   this gateway signs can stand for another kind.
 *
 * The private keys are used only through their Signer (native-signer.ts).
 */
import { createHash, randomUUID, X509Certificate, type KeyObject } from 'node:crypto';
import { compactOf, JwsError, jwsAlgorithmOfSigner, jwtClaims, parseCompactJws, signJws, verifyJws, type JwsAlgorithm } from './jws.js';
import type { Signer } from './native-signer.js';

/** The response header that carries the detached signatures of an answer's body. */
export const SIGNATURE_HEADER = 'JWS-Signature';
/** The typ of the detached JWS over an answer's body. */
export const CONTENT_TYP = 'credgate-content+jws';

export interface SigningIdentity {
  signer: Signer;
  /** The signing certificate (DER). */
  cert: Buffer;
  /** Its issuers, up to the root (DER). */
  chain: Buffer[];
}

export interface SignerEntry {
  kid: string;
  alg: JwsAlgorithm;
  status: 'current' | 'previous';
  cert: X509Certificate;
  chain: Buffer[];
  signer: Signer;
  publicKey: KeyObject;
  notBefore: number;
  notAfter: number;
  /** When apps stop accepting it: the previous one's configured end, the current one's notAfter. */
  acceptUntil: number;
}

/** A JWK (RFC 7517) of the signer set, with the certificate and how long it is accepted. */
export interface SignerJwk {
  kty: string;
  use: 'sig';
  alg: JwsAlgorithm;
  kid: string;
  x5c: string[];
  'x5t#S256': string;
  status: 'current' | 'previous';
  notBefore: string;
  notAfter: string;
  acceptUntil: string;
  [member: string]: unknown;
}

export interface SignerReport {
  kid: string;
  status: 'current' | 'previous';
  /** Whether apps accept it now (a previous one past its end is not). */
  accepted: boolean;
  alg: JwsAlgorithm;
  subject: string;
  issuer: string;
  serial: string;
  /** SHA-256 fingerprint, colon-separated hex, as openssl x509 -fingerprint -sha256 prints it. */
  sha256: string;
  notBefore: string;
  notAfter: string;
  acceptUntil: string;
  daysLeft: number;
}

/** A token that is not one of ours, of the wrong type, or out of its time. */
export class SignedTokenError extends Error {
  constructor(
    /** malformed, signature, type, audience, expired or not_yet_valid: what a verifier reports. */
    readonly reason: 'malformed' | 'signature' | 'type' | 'audience' | 'expired' | 'not_yet_valid',
    message: string,
  ) {
    super(message);
  }
}

/** A certificate's thumbprint as RFC 7515 section 4.1.8 defines x5t#S256; also the kid. */
export const certificateThumbprint = (der: Buffer): string => createHash('sha256').update(der).digest('base64url');

/** Clock skew allowed between the gateway and the phones (RFC 7519 section 4.1.4 leaves it to the verifier). */
export const CLOCK_SKEW_S = 60;

function entry(id: SigningIdentity, status: 'current' | 'previous', until: number | undefined): SignerEntry {
  const cert = new X509Certificate(id.cert);
  const notAfter = Date.parse(cert.validTo);
  return {
    kid: certificateThumbprint(id.cert),
    alg: jwsAlgorithmOfSigner(id.signer),
    status,
    cert,
    chain: id.chain,
    signer: id.signer,
    publicKey: id.signer.publicKey,
    notBefore: Date.parse(cert.validFrom),
    notAfter,
    acceptUntil: Math.min(until ?? notAfter, notAfter),
  };
}

export class ContentSigning {
  private readonly entries: SignerEntry[];

  constructor(
    current: SigningIdentity,
    previous?: { identity: SigningIdentity; until: number },
    private readonly now: () => number = Date.now,
  ) {
    this.entries = [entry(current, 'current', undefined), ...(previous ? [entry(previous.identity, 'previous', previous.until)] : [])];
  }

  /** The signers whose signatures apps accept now: the current one, and the previous one until its end. */
  active(): SignerEntry[] {
    const now = this.now();
    return this.entries.filter((e) => e.status === 'current' || e.acceptUntil > now);
  }

  /** Every configured signer, accepted or not (for operators: a previous one past its end is still listed here). */
  all(): SignerEntry[] {
    return [...this.entries];
  }

  get current(): SignerEntry {
    return this.entries[0]!;
  }

  /**
   * The JWS-Signature header value for an answer: one detached compact JWS
   * per accepted signer, current first, separated by ", " (a compact JWS
   * holds no comma or space). `path` is the request path, so an answer
   * cannot pass for another endpoint's.
   */
  async signBody(body: Buffer, path: string): Promise<string> {
    const iat = Math.floor(this.now() / 1000);
    const parts = await Promise.all(
      this.active().map(async (e) =>
        compactOf(await signJws(e.signer, { typ: CONTENT_TYP, cty: 'json', kid: e.kid, 'x5t#S256': e.kid, iat, path }, body), body, true),
      ),
    );
    return parts.join(', ');
  }

  /** A JWT of type `typ` signed by the current key, with iat, exp (now + ttl) and a fresh jti added to `claims`. */
  async signToken(typ: string, claims: Record<string, unknown>, ttlMs: number): Promise<{ token: string; jti: string; iat: number; exp: number }> {
    const e = this.current;
    const iat = Math.floor(this.now() / 1000);
    const exp = iat + Math.max(1, Math.floor(ttlMs / 1000));
    const jti = randomUUID();
    const payload = Buffer.from(JSON.stringify({ ...claims, iat, exp, jti }), 'utf8');
    const part = await signJws(e.signer, { typ, kid: e.kid, 'x5t#S256': e.kid }, payload);
    return { token: compactOf(part, payload), jti, iat, exp };
  }

  /**
   * Checks a JWT this gateway signed: an accepted signer's kid and signature,
   * the typ and audience asked for, and its time (exp, iat, nbf, with
   * CLOCK_SKEW_S of slack). What fails is a SignedTokenError naming why.
   */
  verifyToken(token: string, expect: { typ: string; aud: string }): Record<string, unknown> {
    let jws: ReturnType<typeof parseCompactJws>;
    let claims: Record<string, unknown>;
    try {
      jws = parseCompactJws(token);
      claims = jwtClaims(jws);
    } catch (err) {
      throw new SignedTokenError('malformed', (err as Error).message);
    }
    const signer = this.active().find((e) => e.kid === jws.header.kid);
    if (!signer) throw new SignedTokenError('signature', 'the token is not signed by a key of the signer set');
    try {
      verifyJws(jws, signer.publicKey);
    } catch (err) {
      if (err instanceof JwsError) throw new SignedTokenError('signature', err.message);
      throw err;
    }
    if (jws.header.typ !== expect.typ) throw new SignedTokenError('type', `the token is of type ${JSON.stringify(jws.header.typ)}, not ${expect.typ}`);
    const aud = claims.aud;
    if (!(aud === expect.aud || (Array.isArray(aud) && aud.includes(expect.aud))))
      throw new SignedTokenError('audience', `the token is not meant for ${expect.aud}`);
    const now = this.now() / 1000;
    if (typeof claims.exp !== 'number' || typeof claims.iat !== 'number') throw new SignedTokenError('malformed', 'the token has no exp or iat');
    if (claims.exp <= now - CLOCK_SKEW_S) throw new SignedTokenError('expired', 'the token has expired');
    if (claims.iat > now + CLOCK_SKEW_S || (typeof claims.nbf === 'number' && claims.nbf > now + CLOCK_SKEW_S))
      throw new SignedTokenError('not_yet_valid', 'the token is not valid yet');
    return claims;
  }

  /** What an operator sees of each configured certificate, accepted or not (admin API, `credgate signing signers`). */
  report(): SignerReport[] {
    const now = this.now();
    const active = new Set(this.active().map((e) => e.kid));
    return this.entries.map((e) => ({
      kid: e.kid,
      status: e.status,
      accepted: active.has(e.kid),
      alg: e.alg,
      subject: e.cert.subject.replace(/\n/g, ', '),
      issuer: e.cert.issuer.replace(/\n/g, ', '),
      serial: e.cert.serialNumber.toLowerCase(),
      sha256: e.cert.fingerprint256,
      notBefore: new Date(e.notBefore).toISOString(),
      notAfter: new Date(e.notAfter).toISOString(),
      acceptUntil: new Date(e.acceptUntil).toISOString(),
      daysLeft: Math.max(0, Math.floor((e.acceptUntil - now) / 86_400_000)),
    }));
  }

  /** The accepted signing certificates and their issuers, each once, as PEM (for openssl and other tools). */
  chainPem(): string {
    const seen = new Set<string>();
    return this.active()
      .flatMap((e) => [e.cert.raw, ...e.chain])
      .filter((der) => {
        const key = der.toString('base64');
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      })
      .map((der) => new X509Certificate(der).toString())
      .join('');
  }

  /** The signer set as a JWK Set, each key with its chain and until when it is accepted. */
  signerSet(): { keys: SignerJwk[] } {
    return {
      keys: this.active().map((e) => ({
        ...(e.publicKey.export({ format: 'jwk' }) as Record<string, unknown> as { kty: string }),
        use: 'sig',
        alg: e.alg,
        kid: e.kid,
        // x5c is standard base64, not base64url (RFC 7517 section 4.7).
        x5c: [e.cert.raw, ...e.chain].map((d) => d.toString('base64')),
        'x5t#S256': e.kid,
        status: e.status,
        notBefore: new Date(e.notBefore).toISOString(),
        notAfter: new Date(e.notAfter).toISOString(),
        acceptUntil: new Date(e.acceptUntil).toISOString(),
      })),
    };
  }
}
