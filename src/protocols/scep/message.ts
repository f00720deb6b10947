/**
 * SCEP messages (RFC 8894 §3): reading a client's pkiMessage and building
 * the CertRep answer. A pkiMessage is CMS SignedData whose signed attributes
 * carry the SCEP fields and whose content is EnvelopedData for the RA.
 */
import { randomBytes, type X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { octets, printable, type Asn1 } from '../../pki/asn1.js';
import { buildEnvelopedData, parseEnvelopedData, type ContentCipher, type EnvelopedData, type RecipientCertificate } from '../../pki/cms/enveloped-data.js';
import { buildSignedData, certsOnly, CmsError, parseSignedData, signerCertificate, verifySigner, type CarriedCertificate } from '../../pki/cms/signed-data.js';
import { CmsFormatError } from '../../pki/cms/enveloped-data.js';
import type { Signer } from '../../pki/native-signer.js';

/** OIDs of the SCEP signed attributes (RFC 8894 §3.2.1). */
export const SCEP_ATTRIBUTES = {
  messageType: '2.16.840.1.113733.1.9.2',
  pkiStatus: '2.16.840.1.113733.1.9.3',
  failInfo: '2.16.840.1.113733.1.9.4',
  senderNonce: '2.16.840.1.113733.1.9.5',
  recipientNonce: '2.16.840.1.113733.1.9.6',
  transactionId: '2.16.840.1.113733.1.9.7',
};

export const MESSAGE_TYPES = { CertRep: 3, RenewalReq: 17, PKCSReq: 19, CertPoll: 20, GetCert: 21, GetCRL: 22 } as const;
export type MessageType = keyof typeof MESSAGE_TYPES;
const TYPE_NAMES = Object.fromEntries(Object.entries(MESSAGE_TYPES).map(([k, v]) => [v, k])) as Record<number, MessageType>;

export type FailInfo = 'badAlg' | 'badMessageCheck' | 'badRequest' | 'badTime' | 'badCertId';
export const FAIL_CODES: Record<FailInfo, number> = { badAlg: 0, badMessageCheck: 1, badRequest: 2, badTime: 3, badCertId: 4 };

/** A pkiMessage that cannot be read or authenticated; answered with FAILURE badMessageCheck (or badAlg). */
export class ScepMessageError extends Error {
  constructor(
    message: string,
    readonly failInfo: FailInfo = 'badMessageCheck',
  ) {
    super(message);
  }

  /** Fields of the request that could be read, so the FAILURE still reaches its transaction. */
  replyTo?: ReplyTo;
}

export interface PkiMessage {
  type: MessageType;
  transactionId: string;
  senderNonce: Buffer;
  /** The certificate that signed the request: where the answer is encrypted to. */
  signerCert: CarriedCertificate;
  /** Content encryption the client used; the answer uses the same. */
  envelope: EnvelopedData;
}

const text = (node: Asn1 | undefined): string | undefined =>
  node && node.tagClass === forge.asn1.Class.UNIVERSAL && !node.constructed && typeof node.value === 'string' ? node.value : undefined;

/**
 * Reads and authenticates a pkiMessage: the signature must verify with the
 * certificate it names (self-signed for a first enrollment; which
 * certificates are acceptable is the caller's decision).
 */
export function readPkiMessage(der: Buffer): PkiMessage {
  let sd;
  try {
    sd = parseSignedData(der);
  } catch (err) {
    if (err instanceof CmsError) throw new ScepMessageError(`not a SCEP pkiMessage: ${err.message}`);
    throw err;
  }
  const signer = sd.signers[0];
  if (!signer || sd.signers.length !== 1) throw new ScepMessageError('a pkiMessage has exactly one signer');
  const signerCert = signerCertificate(signer, sd.certificates);
  if (!signerCert) throw new ScepMessageError('the signer certificate is not in the message');
  // A renewal is judged by its signer certificate (issuer, validity, revocation): it must be one OpenSSL reads.
  if (Number(text(signer.attributes.get(SCEP_ATTRIBUTES.messageType)?.[0])) === MESSAGE_TYPES.RenewalReq && !signerCert.x509()) {
    throw new ScepMessageError('the renewal signer certificate is not a readable certificate');
  }
  if (!verifySigner(sd, signer, signerCert)) throw new ScepMessageError('the message signature does not verify');

  const transactionId = text(signer.attributes.get(SCEP_ATTRIBUTES.transactionId)?.[0]);
  const typeText = text(signer.attributes.get(SCEP_ATTRIBUTES.messageType)?.[0]);
  const nonceNode = signer.attributes.get(SCEP_ATTRIBUTES.senderNonce)?.[0];
  if (!transactionId) throw new ScepMessageError('transactionID is missing');
  const type = TYPE_NAMES[Number(typeText)];
  if (!type || type === 'CertRep' || !/^\d+$/.test(typeText ?? '')) throw new ScepMessageError(`unsupported messageType ${typeText ?? '(none)'}`);
  const senderNonce = text(nonceNode);
  if (senderNonce === undefined || nonceNode?.type !== forge.asn1.Type.OCTETSTRING || senderNonce.length !== 16)
    throw new ScepMessageError('senderNonce must be 16 octets');
  if (!sd.content) throw new ScepMessageError('the pkiMessage carries no pkcsPKIEnvelope');
  let envelope: EnvelopedData;
  try {
    envelope = parseEnvelopedData(sd.content);
  } catch (err) {
    if (!(err instanceof CmsFormatError)) throw err;
    const failure = new ScepMessageError(`pkcsPKIEnvelope: ${err.message}`, /unsupported/.test(err.message) ? 'badAlg' : 'badMessageCheck');
    failure.replyTo = { transactionId, senderNonce: Buffer.from(senderNonce, 'binary') };
    throw failure;
  }
  return { type, transactionId, senderNonce: Buffer.from(senderNonce, 'binary'), signerCert, envelope };
}

export type CertRepStatus = { status: 'SUCCESS'; certificates: Buffer[]; crls?: Buffer[] } | { status: 'FAILURE'; failInfo: FailInfo } | { status: 'PENDING' };

export interface Responder {
  cert: X509Certificate;
  signer: Signer;
}

/** CertRep for `request`, signed by the RA; on SUCCESS the certificates are encrypted to the request's signer. */
export interface ReplyTo {
  transactionId: string;
  /** Echoed as recipientNonce; absent only when the request was unreadable. */
  senderNonce?: Buffer;
  signerCert?: RecipientCertificate;
  cipher?: ContentCipher;
}

export async function buildCertRep(request: ReplyTo, answer: CertRepStatus, ra: Responder): Promise<Buffer> {
  const attributes: [string, Asn1[]][] = [
    [SCEP_ATTRIBUTES.messageType, [printable(String(MESSAGE_TYPES.CertRep))]],
    [SCEP_ATTRIBUTES.pkiStatus, [printable(String({ SUCCESS: 0, FAILURE: 2, PENDING: 3 }[answer.status]))]],
    [SCEP_ATTRIBUTES.transactionId, [printable(request.transactionId)]],
    [SCEP_ATTRIBUTES.senderNonce, [octets(randomBytes(16))]],
  ];
  if (request.senderNonce) attributes.push([SCEP_ATTRIBUTES.recipientNonce, [octets(request.senderNonce)]]);
  if (answer.status === 'FAILURE') attributes.push([SCEP_ATTRIBUTES.failInfo, [printable(String(FAIL_CODES[answer.failInfo]))]]);
  if (answer.status === 'SUCCESS' && !request.signerCert) throw new Error('a SUCCESS CertRep needs the request signer to encrypt to');
  // FAILURE and PENDING carry an empty eContent rather than none: OpenSSL-based clients (certmonger, sscep) cannot verify a SignedData without content.
  const content =
    answer.status === 'SUCCESS' ? buildEnvelopedData(certsOnly(answer.certificates, answer.crls), request.signerCert!, request.cipher) : Buffer.alloc(0);
  return buildSignedData({ content, signer: ra.signer, signerCert: ra.cert.raw, attributes });
}
