/**
 * JSON Web Signatures (RFC 7515) made through a Signer, so the key may sit
 * in an HSM, and checked with node:crypto. Only three algorithms (RFC 7518
 * section 3): RS256, ES256 and ES384, each tied to the kind of key it needs,
 * so a token can never choose how it is checked ("alg": "none", or HMAC with
 * a public key as the secret, RFC 8725 section 2.1).
 */
import { verify, type KeyObject } from 'node:crypto';
import type { Signer } from './native-signer.js';

export type JwsAlgorithm = 'RS256' | 'ES256' | 'ES384';

/** Input that is not a well-formed JWS, or whose signature does not verify. */
export class JwsError extends Error {}

const BY_SIGNATURE_OID: Record<string, JwsAlgorithm> = {
  '1.2.840.113549.1.1.11': 'RS256',
  '1.2.840.10045.4.3.2': 'ES256',
  '1.2.840.10045.4.3.3': 'ES384',
};
/** Hash, and for ECDSA the size of r and of s in the JWS form (RFC 7518 section 3.4). */
const SHAPE: Record<JwsAlgorithm, { digest: string; ecBytes?: number }> = {
  RS256: { digest: 'sha256' },
  ES256: { digest: 'sha256', ecBytes: 32 },
  ES384: { digest: 'sha384', ecBytes: 48 },
};

export const b64u = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

/** The JWS algorithm a Signer produces. */
export function jwsAlgorithmOfSigner(signer: Signer): JwsAlgorithm {
  const alg = BY_SIGNATURE_OID[signer.algorithm.oid];
  if (!alg) throw new Error(`a JWS signing key must be RSA (SHA-256) or EC P-256/P-384; this signer makes ${signer.algorithm.oid}`);
  return alg;
}

/** The one JWS algorithm a public key is checked with: RSA of 2048 bits or more, EC P-256 or P-384. */
export function jwsAlgorithmOfKey(key: KeyObject): JwsAlgorithm | undefined {
  if (key.asymmetricKeyType === 'rsa') return (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048 ? 'RS256' : undefined;
  if (key.asymmetricKeyType !== 'ec') return undefined;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  return curve === 'prime256v1' ? 'ES256' : curve === 'secp384r1' ? 'ES384' : undefined;
}

/** One DER INTEGER at `at` of a signature we made: its unsigned big-endian value. */
function derInteger(der: Buffer, at: number): { value: Buffer; next: number } {
  if (der[at] !== 0x02) throw new Error('ECDSA signature: expected an INTEGER');
  const len = der[at + 1]!;
  if (len > 0x7f) throw new Error('ECDSA signature: INTEGER too long');
  let value = der.subarray(at + 2, at + 2 + len);
  while (value.length > 1 && value[0] === 0) value = value.subarray(1);
  return { value, next: at + 2 + len };
}

/** ECDSA-Sig-Value (DER, as X.509 and the Signer want it) to JWS's r || s, each padded to the curve size (RFC 7518 section 3.4). */
export function ecdsaDerToJose(der: Buffer, size: number): Buffer {
  if (der[0] !== 0x30) throw new Error('ECDSA signature: expected a SEQUENCE');
  const start = der[1]! & 0x80 ? 2 + (der[1]! & 0x7f) : 2;
  const r = derInteger(der, start);
  const s = derInteger(der, r.next);
  if (r.value.length > size || s.value.length > size) throw new Error('ECDSA signature: r or s longer than the curve');
  const out = Buffer.alloc(size * 2);
  r.value.copy(out, size - r.value.length);
  s.value.copy(out, size * 2 - s.value.length);
  return out;
}

export interface SignedPart {
  /** BASE64URL(UTF8(JWS Protected Header)). */
  protected: string;
  /** BASE64URL(JWS Signature). */
  signature: string;
}

/** Signs BASE64URL(header) "." BASE64URL(payload) (RFC 7515 section 5.1); `alg` is the signer's. */
export async function signJws(signer: Signer, header: Record<string, unknown>, payload: Buffer): Promise<SignedPart> {
  const alg = jwsAlgorithmOfSigner(signer);
  const protectedHeader = b64u(JSON.stringify({ alg, ...header }));
  const input = Buffer.from(`${protectedHeader}.${b64u(payload)}`, 'ascii');
  const der = await signer.sign(input);
  const ecBytes = SHAPE[alg].ecBytes;
  return { protected: protectedHeader, signature: b64u(ecBytes ? ecdsaDerToJose(der, ecBytes) : der) };
}

/** The JWS Compact Serialization (RFC 7515 section 7.1); with `detached`, the payload is left out (appendix F). */
export const compactOf = (part: SignedPart, payload: Buffer, detached = false): string =>
  `${part.protected}.${detached ? '' : b64u(payload)}.${part.signature}`;

const B64U = /^[A-Za-z0-9_-]*$/;

export interface ParsedJws {
  header: Record<string, unknown>;
  /** BASE64URL(header) "." BASE64URL(payload): what was signed. */
  signingInput: Buffer;
  payload: Buffer;
  signature: Buffer;
}

/** Splits a compact JWS (with its payload, or `detachedPayload` for one sent apart) without trusting any of it yet. */
export function parseCompactJws(token: string, detachedPayload?: Buffer): ParsedJws {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => B64U.test(p))) throw new JwsError('not a compact JWS (three base64url parts separated by dots)');
  const [h, p, s] = parts as [string, string, string];
  if (detachedPayload !== undefined && p !== '') throw new JwsError('expected a detached JWS (an empty payload part)');
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
  } catch {
    throw new JwsError('the JWS header is not JSON');
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw new JwsError('the JWS header is not a JSON object');
  // RFC 7515 section 4.1.11: a header parameter this code does not know, marked critical, must be refused.
  if ('crit' in header) throw new JwsError('the JWS header names critical extensions, which are not supported');
  const payload = detachedPayload ?? Buffer.from(p, 'base64url');
  return {
    header: header as Record<string, unknown>,
    signingInput: Buffer.from(`${h}.${detachedPayload === undefined ? p : b64u(detachedPayload)}`, 'ascii'),
    payload,
    signature: Buffer.from(s, 'base64url'),
  };
}

/** Checks a parsed JWS against `key`: its header must name the one algorithm that key is used with. */
export function verifyJws(jws: ParsedJws, key: KeyObject): void {
  const alg = jwsAlgorithmOfKey(key);
  if (!alg) throw new JwsError('the key is not one a JWS is checked with here (RSA of 2048 bits or more, EC P-256 or P-384)');
  if (jws.header.alg !== alg) throw new JwsError(`the JWS names algorithm ${JSON.stringify(jws.header.alg)}, but its key signs with ${alg}`);
  const { digest, ecBytes } = SHAPE[alg];
  if (ecBytes && jws.signature.length !== ecBytes * 2) throw new JwsError(`an ${alg} signature is ${ecBytes * 2} bytes (r || s)`);
  const ok = verify(digest, jws.signingInput, ecBytes ? { key, dsaEncoding: 'ieee-p1363' } : key, jws.signature);
  if (!ok) throw new JwsError('the JWS signature does not verify');
}

/** The JSON object payload of a JWT (RFC 7519), or a JwsError. */
export function jwtClaims(jws: ParsedJws): Record<string, unknown> {
  let claims: unknown;
  try {
    claims = JSON.parse(jws.payload.toString('utf8'));
  } catch {
    throw new JwsError('the JWT payload is not JSON');
  }
  if (!claims || typeof claims !== 'object' || Array.isArray(claims)) throw new JwsError('the JWT payload is not a JSON object');
  return claims as Record<string, unknown>;
}
