/**
 * OCSP (RFC 6960): parse requests from untrusted clients, build signed
 * BasicOCSPResponses. Parsing is defensive: every failure surfaces as an
 * OcspRequestError so the HTTP layer can answer malformedRequest, never 500.
 */
import { createHash } from 'node:crypto';
import forge from 'node-forge';
import { explicit, octets, oid, parseDer, seq, toDer, type Asn1 } from './asn1.js';
import type { Signer } from './native-signer.js';
import { reasonCode, type RevocationReason } from './revocation.js';
import { assertSignerMatches, certificateParts, enumerated, extension, generalizedTime, normalizeSerialHex, sha1, signTbs } from './x509-der.js';

const { asn1 } = forge;
const U = asn1.Class.UNIVERSAL;
const CTX = asn1.Class.CONTEXT_SPECIFIC;

export type CertIdHash = 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';

const HASH_OIDS: Record<string, CertIdHash> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.4': 'sha224',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};
const HASH_LENGTHS: Record<CertIdHash, number> = { sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64 };

const OID = {
  nonce: '1.3.6.1.5.5.7.48.1.2',
  basicResponse: '1.3.6.1.5.5.7.48.1.1',
};

export interface CertId {
  hashAlgorithm: CertIdHash;
  hashAlgorithmOid: string;
  issuerNameHash: Buffer;
  issuerKeyHash: Buffer;
  /** Canonical hex (see normalizeSerialHex): lower-case, whole bytes, no sign/leading zero bytes. */
  serialNumber: string;
  /** The CertID exactly as the client encoded it; responses echo it so clients can match them up. */
  raw: Buffer;
}

export interface OcspRequest {
  certIds: CertId[];
  /** RFC 8954 nonce value (the inner OCTET STRING's content), when the client sent one. */
  nonce?: Buffer;
}

/** The request could not be understood; answer with ocspErrorResponse('malformedRequest'). */
export class OcspRequestError extends Error {
  override readonly name = 'OcspRequestError';
}

// ---------------------------------------------------------------------------
// Request parsing

function fail(why: string): never {
  throw new OcspRequestError(`malformed OCSP request: ${why}`);
}

const isUniversal = (n: Asn1 | undefined, type: forge.asn1.Type, constructed: boolean): n is Asn1 =>
  n !== undefined && n.tagClass === U && n.type === type && n.constructed === constructed;
const isContext = (n: Asn1 | undefined, tag: number): n is Asn1 => n !== undefined && n.tagClass === CTX && n.type === tag && n.constructed;

function children(n: Asn1 | undefined, what: string): Asn1[] {
  if (!isUniversal(n, asn1.Type.SEQUENCE, true) || !Array.isArray(n.value)) fail(`${what} is not a SEQUENCE`);
  return n.value;
}

function primitive(n: Asn1 | undefined, type: forge.asn1.Type, what: string): Buffer {
  if (!isUniversal(n, type, false) || typeof n.value !== 'string') fail(`${what} has the wrong type`);
  return Buffer.from(n.value, 'binary');
}

/** [n] EXPLICIT wrapper holding exactly one value. */
function unwrap(n: Asn1, what: string): Asn1 {
  if (!Array.isArray(n.value) || n.value.length !== 1) fail(`${what} must wrap exactly one value`);
  return n.value[0]!;
}

/** CertificateSerialNumber as canonical hex; only positive serials can name certificates we issued. */
function serialFrom(n: Asn1 | undefined): string {
  const content = primitive(n, asn1.Type.INTEGER, 'serialNumber');
  if (content.length === 0) fail('empty serialNumber');
  if (content[0]! & 0x80) fail('negative serialNumber');
  if (content.length > 1 && content[0] === 0 && !(content[1]! & 0x80)) fail('serialNumber is not minimally encoded');
  return normalizeSerialHex(content.toString('hex'));
}

function parseCertId(n: Asn1 | undefined): CertId {
  const [alg, nameHash, keyHash, serial, ...extra] = children(n, 'CertID');
  if (extra.length) fail('CertID has extra fields');
  const [algOid, params, ...algExtra] = children(alg, 'hashAlgorithm');
  // Parameters are absent or NULL for every digest we accept (RFC 5754 allows both).
  if (algExtra.length || (params && !(isUniversal(params, asn1.Type.NULL, false) && params.value === ''))) {
    fail('unexpected hashAlgorithm parameters');
  }
  const hashAlgorithmOid = asn1.derToOid(primitive(algOid, asn1.Type.OID, 'hashAlgorithm').toString('binary'));
  const hashAlgorithm = HASH_OIDS[hashAlgorithmOid];
  if (!hashAlgorithm) fail(`unsupported CertID hash algorithm ${hashAlgorithmOid}`);
  const issuerNameHash = primitive(nameHash, asn1.Type.OCTETSTRING, 'issuerNameHash');
  const issuerKeyHash = primitive(keyHash, asn1.Type.OCTETSTRING, 'issuerKeyHash');
  const size = HASH_LENGTHS[hashAlgorithm];
  if (issuerNameHash.length !== size || issuerKeyHash.length !== size) fail(`issuer hashes are not ${hashAlgorithm} sized`);
  return { hashAlgorithm, hashAlgorithmOid, issuerNameHash, issuerKeyHash, serialNumber: serialFrom(serial), raw: toDer(n!) };
}

/** Returns the nonce, if any; rejects what RFC 6960 §4.4 says must not be ignored. */
function parseRequestExtensions(n: Asn1): Buffer | undefined {
  let nonce: Buffer | undefined;
  for (const ext of children(unwrap(n, 'requestExtensions'), 'Extensions')) {
    const fields = children(ext, 'Extension');
    if (fields.length !== 2 && fields.length !== 3) fail('Extension has the wrong number of fields');
    const extnId = asn1.derToOid(primitive(fields[0], asn1.Type.OID, 'extnID').toString('binary'));
    const critical = fields.length === 3 && primitive(fields[1], asn1.Type.BOOLEAN, 'critical').some((b) => b !== 0);
    const value = primitive(fields[fields.length - 1], asn1.Type.OCTETSTRING, 'extnValue');
    if (extnId === OID.nonce) {
      if (nonce) fail('duplicate nonce extension');
      // RFC 8954: Nonce ::= OCTET STRING (SIZE(1..32)), and responders must reject other sizes.
      const inner = primitive(parseDer(value), asn1.Type.OCTETSTRING, 'nonce');
      if (inner.length < 1 || inner.length > 32) fail('nonce must be 1 to 32 octets');
      if (!toDer(octets(inner)).equals(value)) fail('nonce is not DER encoded');
      nonce = inner;
    } else if (critical) {
      fail(`unsupported critical extension ${extnId}`);
    }
  }
  return nonce;
}

/**
 * Parses a DER OCSPRequest. Requires DER (re-encoding must reproduce the
 * input), which makes CertID.raw byte-identical to what the client sent.
 * optionalSignature is accepted but not verified: signed requests are not
 * required by this responder.
 */
export function parseOcspRequest(der: Buffer): OcspRequest {
  try {
    if (der.length === 0) fail('empty');
    let top: Asn1;
    try {
      top = parseDer(der);
    } catch (err) {
      fail(`not DER (${(err as Error).message})`);
    }
    if (!toDer(top).equals(der)) fail('not DER encoded (BER lengths or trailing data)');

    const [tbsNode, signature, ...extra] = children(top, 'OCSPRequest');
    if (extra.length || (signature && !isContext(signature, 0))) fail('unexpected fields after tbsRequest');

    const tbs = children(tbsNode, 'TBSRequest');
    let i = 0;
    if (isContext(tbs[i], 0)) {
      const version = primitive(unwrap(tbs[i]!, 'version'), asn1.Type.INTEGER, 'version');
      if (!version.equals(Buffer.from([0]))) fail('unsupported version');
      i++;
    }
    if (isContext(tbs[i], 1)) i++; // requestorName: informational only
    const requestList = children(tbs[i++], 'requestList');
    if (requestList.length === 0) fail('no requests');
    let nonce: Buffer | undefined;
    if (isContext(tbs[i], 2)) nonce = parseRequestExtensions(tbs[i++]!);
    if (i !== tbs.length) fail('unexpected fields in TBSRequest');

    const certIds = requestList.map((request) => {
      const [reqCert, singleExtensions, ...more] = children(request, 'Request');
      // Per-certificate extensions carry nothing this responder acts on.
      if (more.length || (singleExtensions && !isContext(singleExtensions, 0))) fail('unexpected fields in Request');
      return parseCertId(reqCert);
    });
    return { certIds, ...(nonce && { nonce }) };
  } catch (err) {
    // Contract: untrusted input never escapes as anything but OcspRequestError.
    if (err instanceof OcspRequestError) throw err;
    throw new OcspRequestError(`malformed OCSP request: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
}

/**
 * Whether the CertID names `issuerCert` as the issuer (RFC 6960 §4.1.1): hash
 * of its DER subject and of its public key bits, with the client's algorithm.
 */
export function matchesIssuer(certId: CertId, issuerCert: Buffer): boolean {
  const issuer = certificateParts(issuerCert);
  const hash = (data: Buffer) => createHash(certId.hashAlgorithm).update(data).digest();
  return hash(issuer.subjectDer).equals(certId.issuerNameHash) && hash(issuer.publicKeyBits).equals(certId.issuerKeyHash);
}

// ---------------------------------------------------------------------------
// Responses

export type OcspCertStatus = { kind: 'good' } | { kind: 'revoked'; revokedAt: Date; reason: RevocationReason } | { kind: 'unknown' };

export interface OcspSingleResponse {
  certId: CertId;
  status: OcspCertStatus;
  thisUpdate: Date;
  nextUpdate?: Date;
}

export interface OcspResponseInput {
  /** DER of the certificate whose key signs: the issuing CA or a delegated OCSP signer. */
  responderCert: Buffer;
  signer: Signer;
  producedAt: Date;
  responses: OcspSingleResponse[];
  /** Echoed from the request (parseOcspRequest().nonce). */
  nonce?: Buffer;
  /** Extra certificates for the client (e.g. the CA above a delegated responder). */
  includeCerts?: Buffer[];
}

export type OcspErrorStatus = 'malformedRequest' | 'internalError' | 'tryLater' | 'sigRequired' | 'unauthorized';

/** OCSPResponseStatus; 4 is unused in RFC 6960. */
const RESPONSE_STATUS: Record<'successful' | OcspErrorStatus, number> = {
  successful: 0,
  malformedRequest: 1,
  internalError: 2,
  tryLater: 3,
  sigRequired: 5,
  unauthorized: 6,
};

const implicitNull = (tag: number): Asn1 => asn1.create(CTX, tag, false, '');

function certStatus(status: OcspCertStatus): Asn1 {
  switch (status.kind) {
    case 'good':
      return implicitNull(0); // good [0] IMPLICIT NULL
    case 'unknown':
      return implicitNull(2); // unknown [2] IMPLICIT UnknownInfo (NULL)
    case 'revoked':
      // A certificate taken off hold is good again; there is no "revoked: removeFromCRL" in OCSP.
      if (status.reason === 'removeFromCRL') throw new Error('removeFromCRL is not a revocation status; report the certificate as good');
      // revoked [1] IMPLICIT RevokedInfo. Reason always included (even unspecified/hold) so clients can show it.
      return asn1.create(CTX, 1, true, [generalizedTime(status.revokedAt), explicit(0, enumerated(reasonCode(status.reason)))]);
  }
}

function singleResponse(r: OcspSingleResponse): Asn1 {
  if (r.nextUpdate && r.nextUpdate.getTime() <= r.thisUpdate.getTime()) throw new Error('OCSP nextUpdate must be after thisUpdate');
  const fields = [parseDer(r.certId.raw), certStatus(r.status), generalizedTime(r.thisUpdate)];
  if (r.nextUpdate) fields.push(explicit(0, generalizedTime(r.nextUpdate)));
  return seq(fields);
}

/** A successful response carrying a BasicOCSPResponse signed by the Signer. */
export async function buildOcspResponse(input: OcspResponseInput): Promise<Buffer> {
  if (input.responses.length === 0) throw new Error('an OCSP response needs at least one SingleResponse');
  const responder = certificateParts(input.responderCert);
  assertSignerMatches(input.signer, responder, 'OCSP responder');

  const data: Asn1[] = [
    // version omitted: v1 is the DEFAULT, which DER leaves out.
    explicit(2, octets(sha1(responder.publicKeyBits))), // responderID byKey: immune to name re-encoding
    generalizedTime(input.producedAt),
    seq(input.responses.map(singleResponse)),
  ];
  if (input.nonce) data.push(explicit(1, seq([extension(OID.nonce, octets(input.nonce))])));
  const tbsResponseData = seq(data);

  // The responder certificate always travels with the response: required for a
  // delegated signer, harmless (and lets clients skip a lookup) for the CA itself.
  const certs = [input.responderCert];
  for (const c of input.includeCerts ?? []) if (!certs.some((have) => have.equals(c))) certs.push(c);

  const basic = seq([tbsResponseData, ...(await signTbs(tbsResponseData, input.signer)), explicit(0, seq(certs.map((c) => certificateParts(c).node)))]);
  return toDer(seq([enumerated(RESPONSE_STATUS.successful), explicit(0, seq([oid(OID.basicResponse), octets(toDer(basic))]))]));
}

/** Unsigned error response (RFC 6960 §2.3): status only, no responseBytes. */
export function ocspErrorResponse(status: OcspErrorStatus): Buffer {
  const code = RESPONSE_STATUS[status];
  // Also rejects 'successful' (0) smuggled in by an untyped caller: success needs responseBytes.
  if (!code) throw new RangeError(`not an OCSP error status: ${String(status)}`);
  return toDer(seq([enumerated(code)]));
}
