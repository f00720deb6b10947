/** PKCS#10 requests signed natively, as a device or SCEP client would send them. */
import { createPublicKey, sign, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { algorithmIdentifier, bitString, derSequence, int, parseDer, seq, toDer, type Asn1 } from '../../src/pki/asn1.js';
import { encodeName, type NameAttribute } from '../../src/pki/names.js';

const SIGNATURE = {
  rsa: { digest: 'sha256', algorithm: { oid: '1.2.840.113549.1.1.11', nullParams: true } },
  ec: { digest: 'sha256', algorithm: { oid: '1.2.840.10045.4.3.2', nullParams: false } },
} as const;

/** attributes [0] IMPLICIT SET OF Attribute */
const attributesNode = (attributes: Asn1[]): Asn1 => forge.asn1.create(forge.asn1.Class.CONTEXT_SPECIFIC, 0, true, attributes);

/** DER CertificationRequest for a private key, with optional attributes (encoded Attribute nodes). */
export function buildCsr(privateKey: KeyObject, subject: NameAttribute[], attributes: Asn1[] = []): Buffer {
  const spki = parseDer(createPublicKey(privateKey).export({ type: 'spki', format: 'der' }));
  const info = toDer(seq([int(0), encodeName(subject), spki, attributesNode(attributes)]));
  const { digest, algorithm } = SIGNATURE[privateKey.asymmetricKeyType === 'ec' ? 'ec' : 'rsa'];
  return derSequence([info, toDer(algorithmIdentifier(algorithm)), toDer(bitString(sign(digest, info, privateKey)))]);
}

export const csrPem = (der: Buffer): string =>
  `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64').replace(/(.{64})(?=.)/g, '$1\n')}\n-----END CERTIFICATE REQUEST-----\n`;
