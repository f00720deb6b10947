/**
 * SubjectPublicKeyInfo <-> KeyObject without OpenSSL 3.0's DER decoders and
 * encoders, which cost 120-150 µs a call (a JWK import or export costs 2-5 µs).
 * An enrollment reads two public keys (request signer, CSR) and writes one
 * (the certificate), so this is a visible share of a SCEP enrollment.
 *
 * Only the canonical DER of RSA and named-curve EC keys takes the fast path:
 * the input must equal what we would encode from the values read, so anything
 * unusual (other algorithms, compressed points, odd encodings) goes through
 * OpenSSL exactly as before and is accepted or refused by it.
 */
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { derSequence, tlv } from './asn1.js';
import { childSpans, tlvAt, type Span } from './der-reader.js';

const RSA_ALGORITHM = derSequence([Buffer.from('06092a864886f70d010101', 'hex'), Buffer.from('0500', 'hex')]);
const EC_PUBLIC_KEY = Buffer.from('06072a8648ce3d0201', 'hex');
/** namedCurve OID (DER) per JWK curve name, with the coordinate length. */
const CURVES: { crv: string; oid: Buffer; size: number }[] = [
  { crv: 'P-256', oid: Buffer.from('06082a8648ce3d030107', 'hex'), size: 32 },
  { crv: 'P-384', oid: Buffer.from('06052b81040022', 'hex'), size: 48 },
  { crv: 'P-521', oid: Buffer.from('06052b81040023', 'hex'), size: 66 },
];

const b64url = (b: Buffer): string => b.toString('base64url');
const stripZeros = (bytes: Buffer): Buffer => {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return bytes.subarray(i);
};
const unsigned = (b64: string): Buffer => stripZeros(Buffer.from(b64, 'base64url'));
/** DER INTEGER of a non-negative big-endian magnitude without leading zeros. */
const integer = (magnitude: Buffer): Buffer => tlv(0x02, [magnitude[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), magnitude]) : magnitude]);
const bits = (content: Buffer): Buffer => tlv(0x03, [Buffer.from([0]), content]);

function encodeJwk(jwk: JsonWebKey): Buffer | undefined {
  if (jwk.kty === 'RSA' && jwk.n && jwk.e) {
    return derSequence([RSA_ALGORITHM, bits(derSequence([integer(unsigned(jwk.n)), integer(unsigned(jwk.e))]))]);
  }
  const curve = jwk.kty === 'EC' ? CURVES.find((c) => c.crv === jwk.crv) : undefined;
  if (curve && jwk.x && jwk.y) {
    const x = Buffer.from(jwk.x, 'base64url');
    const y = Buffer.from(jwk.y, 'base64url');
    if (x.length !== curve.size || y.length !== curve.size) return undefined;
    return derSequence([derSequence([EC_PUBLIC_KEY, curve.oid]), bits(Buffer.concat([Buffer.from([4]), x, y]))]);
  }
  return undefined;
}

const spkis = new WeakMap<KeyObject, Buffer>();

/** The key's SubjectPublicKeyInfo DER (the same bytes as OpenSSL's export). */
export function spkiOf(key: KeyObject): Buffer {
  let der = spkis.get(key);
  if (!der) {
    const publicKey = key.type === 'private' ? createPublicKey(key) : key;
    der = encodeJwk(publicKey.export({ format: 'jwk' })) ?? publicKey.export({ type: 'spki', format: 'der' });
    spkis.set(key, der);
  }
  return der;
}

/** What a canonical RSA or named-curve EC SubjectPublicKeyInfo holds, as a JWK; undefined for anything else. */
function readJwk(der: Buffer): JsonWebKey | undefined {
  const span = (s: Span | undefined, tag: number): Span | undefined => (s && der[s.start] === tag ? s : undefined);
  const bytes = (s: Span): Buffer => der.subarray(s.contentStart, s.end);
  const top = tlvAt(der, 0, der.length);
  if (top.end !== der.length || der[0] !== 0x30) return undefined;
  const [algorithm, key] = childSpans(der, top);
  const keyBits = span(key, 0x03);
  if (!algorithm || !keyBits || der[keyBits.contentStart] !== 0) return undefined;
  const content = der.subarray(keyBits.contentStart + 1, keyBits.end);
  const algorithmDer = der.subarray(algorithm.start, algorithm.end);
  if (algorithmDer.equals(RSA_ALGORITHM)) {
    const rsaKey = tlvAt(content, 0, content.length);
    const [n, e] = childSpans(content, rsaKey);
    if (content[0] !== 0x30 || !n || !e || content[n.start] !== 2 || content[e.start] !== 2) return undefined;
    const magnitude = (s: Span) => b64url(stripZeros(content.subarray(s.contentStart, s.end)));
    return { kty: 'RSA', n: magnitude(n), e: magnitude(e) };
  }
  const [algorithmOid, parameters] = childSpans(der, algorithm);
  if (!algorithmOid || !parameters || !bytes(algorithmOid).equals(EC_PUBLIC_KEY.subarray(2))) return undefined;
  const curve = CURVES.find((c) => c.oid.equals(der.subarray(parameters.start, parameters.end)));
  if (!curve || content.length !== 1 + 2 * curve.size || content[0] !== 4) return undefined;
  return { kty: 'EC', crv: curve.crv, x: b64url(content.subarray(1, 1 + curve.size)), y: b64url(content.subarray(1 + curve.size)) };
}

/** A public key from SubjectPublicKeyInfo DER; throws as createPublicKey does for what is not one. */
export function publicKeyFromSpki(der: Buffer): KeyObject {
  let jwk: JsonWebKey | undefined;
  try {
    jwk = readJwk(der);
  } catch {
    jwk = undefined; // not even DER: OpenSSL below says why
  }
  // Canonical DER only: re-encoding what was read must give the input back.
  if (jwk && encodeJwk(jwk)?.equals(der)) {
    try {
      const key = createPublicKey({ key: jwk, format: 'jwk' });
      spkis.set(key, der);
      return key;
    } catch {
      // e.g. an EC point off its curve: OpenSSL's own decoder gives the error below
    }
  }
  return createPublicKey({ key: der, format: 'der', type: 'spki' });
}
