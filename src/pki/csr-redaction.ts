/**
 * A PKCS#10 request without its challengePassword, for keeping: a SCEP
 * request that waits for an operator was authenticated by its challenge on
 * arrival and needs only its key and names afterwards, and a challenge is a
 * secret that must not rest in the database in clear.
 *
 * The result keeps the original signature, which no longer covers it: it is
 * a record of a request whose signature was verified when it arrived, not a
 * request to verify again.
 */
import { tlv } from './asn1.js';
import { childSpans, tlvAt, type Span } from './der-reader.js';
import { CsrError } from './csr.js';

const CHALLENGE_PASSWORD = Buffer.from('06092a864886f70d010907', 'hex'); // OID 1.2.840.113549.1.9.7

const bytes = (der: Buffer, s: Span): Buffer => der.subarray(s.start, s.end);

export function withoutChallengePassword(der: Buffer): Buffer {
  const outer = tlvAt(der, 0, der.length);
  const [cri, ...signature] = childSpans(der, outer);
  if (!cri || signature.length !== 2) throw new CsrError('not a certificate request');
  const fields = childSpans(der, cri);
  const attributes = fields[3];
  if (!attributes || der[attributes.start] !== 0xa0) return der; // no [0] attributes: nothing to remove
  const kept = childSpans(der, attributes).filter((a) => {
    const type = childSpans(der, a)[0];
    return !type || !bytes(der, type).equals(CHALLENGE_PASSWORD);
  });
  const info = tlv(0x30, [
    ...fields.slice(0, 3).map((f) => bytes(der, f)),
    tlv(
      0xa0,
      kept.map((a) => bytes(der, a)),
    ),
    ...fields.slice(4).map((f) => bytes(der, f)),
  ]);
  return tlv(0x30, [info, ...signature.map((s) => bytes(der, s))]);
}
