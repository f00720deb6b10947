/**
 * X.509 v2 CRLs (RFC 5280 §5): forge assembles the structure, the Signer
 * (OpenSSL) signs it. Full CRLs only; delta CRLs are not produced.
 */
import { algorithmIdentifier, explicit, implicitOctets, int, seq, toDer, type Asn1 } from './asn1.js';
import type { Signer } from './native-signer.js';
import { reasonCode, type RevocationReason } from './revocation.js';
import {
  assertSignerMatches,
  bigintInteger,
  certificateParts,
  enumerated,
  extension,
  normalizeSerialHex,
  serialInteger,
  sha1,
  signTbs,
  x509Time,
} from './x509-der.js';

export interface CrlEntry {
  /** Positive serial, hex. */
  serialNumber: string;
  revokedAt: Date;
  reason: RevocationReason;
}

export interface CrlInput {
  /** DER of the CA certificate whose key signs the CRL. */
  issuerCert: Buffer;
  signer: Signer;
  thisUpdate: Date;
  nextUpdate: Date;
  /** Monotonically increasing per issuer (RFC 5280 §5.2.3). */
  crlNumber: bigint;
  entries: CrlEntry[];
}

const OID = {
  authorityKeyIdentifier: '2.5.29.35',
  cRLNumber: '2.5.29.20',
  reasonCode: '2.5.29.21',
};

/** RFC 5280 §5.2.3: CRL numbers are at most 20 octets. */
const MAX_CRL_NUMBER = (1n << 159n) - 1n;

function revokedEntry(entry: CrlEntry): Asn1 {
  const fields = [serialInteger(entry.serialNumber), x509Time(entry.revokedAt)];
  // RFC 5280 §5.3.1: "unspecified" SHOULD be expressed by leaving the extension out.
  if (entry.reason !== 'unspecified') fields.push(seq([extension(OID.reasonCode, enumerated(reasonCode(entry.reason)))]));
  return seq(fields);
}

export async function buildCrl(input: CrlInput): Promise<Buffer> {
  if (input.nextUpdate.getTime() <= input.thisUpdate.getTime()) throw new Error('CRL nextUpdate must be after thisUpdate');
  if (input.crlNumber < 0n || input.crlNumber > MAX_CRL_NUMBER) throw new RangeError('CRL number must fit in 20 octets');

  const issuer = certificateParts(input.issuerCert);
  assertSignerMatches(input.signer, issuer, 'CRL issuer');

  const seen = new Set<string>();
  for (const entry of input.entries) {
    const serial = normalizeSerialHex(entry.serialNumber);
    // A serial listed twice leaves its reason and date ambiguous to relying parties.
    if (seen.has(serial)) throw new Error(`serial ${serial} appears twice in the CRL`);
    seen.add(serial);
    // removeFromCRL only has meaning in delta CRLs (RFC 5280 §5.3.1): in a full CRL an un-held cert is simply absent.
    if (entry.reason === 'removeFromCRL') throw new Error(`serial ${serial}: removeFromCRL is only valid in delta CRLs`);
  }

  // Same key identifier the issued certificates carry in their AKI, so clients pick the right CRL for a chain.
  const keyId = issuer.subjectKeyId ?? sha1(issuer.publicKeyBits);
  const crlExtensions = seq([extension(OID.authorityKeyIdentifier, seq([implicitOctets(0, keyId)])), extension(OID.cRLNumber, bigintInteger(input.crlNumber))]);

  const tbs: Asn1[] = [
    int(1), // v2: required because the CRL carries extensions
    algorithmIdentifier(input.signer.algorithm), // must equal the outer signatureAlgorithm that signTbs() emits
    issuer.subject,
    x509Time(input.thisUpdate),
    x509Time(input.nextUpdate),
  ];
  // RFC 5280 §5.1.2.6: with no revoked certificates the list must be absent, not empty.
  if (input.entries.length) tbs.push(seq(input.entries.map(revokedEntry)));
  tbs.push(explicit(0, crlExtensions));

  const tbsCertList = seq(tbs);
  return toDer(seq([tbsCertList, ...(await signTbs(tbsCertList, input.signer))]));
}
