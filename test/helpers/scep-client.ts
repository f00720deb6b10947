/**
 * A SCEP client for tests that need what scepclient cannot do: choose the
 * cipher, digest and recipients, poll, ask for certificates and CRLs, or send
 * messages that are wrong on purpose. It builds requests with the project's
 * CMS code; answers are checked with `openssl cms` where it matters.
 */
import { createPublicKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { octets, oid, parseDer, printable, seq, set, toDer, type Asn1 } from '../../src/pki/asn1.js';
import { bigintInteger } from '../../src/pki/x509-der.js';
import { buildCertificate } from '../../src/pki/certificate.js';
import { buildEnvelopedData, decryptEnvelopedData, parseEnvelopedData, type ContentCipher } from '../../src/pki/cms/enveloped-data.js';
import { buildSignedData, certificateIdentity, parseSignedData, verifySigner } from '../../src/pki/cms/signed-data.js';
import type { Signer } from '../../src/pki/native-signer.js';
import { FAIL_CODES, MESSAGE_TYPES, SCEP_ATTRIBUTES, type MessageType } from '../../src/protocols/scep/message.js';
import { buildCsr } from './csr.js';

const ATTR = SCEP_ATTRIBUTES;
const CHALLENGE_PASSWORD = '1.2.840.113549.1.9.7';

const RSA_SIGNATURES = {
  sha1: '1.2.840.113549.1.1.5',
  sha256: '1.2.840.113549.1.1.11',
  sha512: '1.2.840.113549.1.1.13',
} as const;
export type Digest = keyof typeof RSA_SIGNATURES;

export interface Identity {
  key: KeyObject;
  cert: X509Certificate;
}

/** A device: an RSA key and the self-signed certificate that signs its first request. */
export async function newDevice(cn: string, modulusLength = 2048): Promise<Identity> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength });
  const now = Date.now();
  const cert = await buildCertificate({
    subject: [{ type: 'CN', value: cn }],
    publicKey,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 86_400_000),
    signer: rsaSigner(privateKey, 'sha256'),
  });
  return { key: privateKey, cert: cert.x509 };
}

/** An RSA signer with a chosen digest (SCEP clients still use SHA-1). */
export function rsaSigner(key: KeyObject, digest: Digest): Signer {
  return {
    publicKey: createPublicKey(key),
    algorithm: { oid: RSA_SIGNATURES[digest], nullParams: true },
    digest,
    sign: async (data) => sign(digest, data, key),
  };
}

/** PKCS#10 for the device's key, with an optional challengePassword. */
export function deviceCsr(device: Identity, subject: { type: string; value: string }[], challenge?: string): Buffer {
  const attrs: Asn1[] = challenge === undefined ? [] : [seq([oid(CHALLENGE_PASSWORD), set([printable(challenge)])])];
  return buildCsr(device.key, subject, attrs);
}

export interface RequestOptions {
  type: MessageType;
  /** What the envelope carries: a CSR, IssuerAndSerialNumber, or (for CertPoll) IssuerAndSubject. */
  inner: Buffer;
  /** An EnvelopedData made elsewhere (e.g. taken from another message), sent instead of one made from `inner`. */
  envelope?: Buffer;
  signer: Identity;
  recipients: X509Certificate[];
  transactionId?: string;
  senderNonce?: Buffer;
  cipher?: ContentCipher;
  digest?: Digest;
}

export interface Request {
  der: Buffer;
  transactionId: string;
  senderNonce: Buffer;
}

/** A signed pkiMessage (ContentInfo DER). */
export async function pkiMessage(o: RequestOptions): Promise<Request> {
  const transactionId = o.transactionId ?? randomBytes(16).toString('hex');
  const senderNonce = o.senderNonce ?? randomBytes(16);
  const envelope = o.envelope ?? buildEnvelopedData(o.inner, o.recipients, o.cipher ?? 'aes-128-cbc');
  const der = await buildSignedData({
    content: envelope,
    signer: rsaSigner(o.signer.key, o.digest ?? 'sha256'),
    signerCert: o.signer.cert.raw,
    attributes: [
      [ATTR.messageType, [printable(String(MESSAGE_TYPES[o.type]))]],
      [ATTR.transactionId, [printable(transactionId)]],
      [ATTR.senderNonce, [octets(senderNonce)]],
    ],
  });
  return { der, transactionId, senderNonce };
}

/** IssuerAndSerialNumber of a certificate (GetCert, GetCRL). */
export function issuerAndSerial(cert: X509Certificate): Buffer {
  const id = certificateIdentity(cert.raw)!;
  return toDer(seq([parseDer(id.issuer), bigintInteger(BigInt(`0x${id.serial}`))]));
}

/** IssuerAndSubject (CertPoll): the CA's name and the subject the request asked for. */
export function issuerAndSubject(ca: X509Certificate, requested: X509Certificate): Buffer {
  return toDer(seq([subjectName(ca), subjectName(requested)]));
}

/** The subject Name node of a certificate, as encoded. */
function subjectName(cert: X509Certificate): Asn1 {
  const tbs = (parseDer(cert.raw).value as Asn1[])[0]!.value as Asn1[];
  const at = tbs[0]!.tagClass === 0x80 ? 1 : 0; // [0] version present
  return tbs[at + 4]!;
}

export interface CertRep {
  status: 'SUCCESS' | 'FAILURE' | 'PENDING';
  failInfo?: string;
  transactionId: string;
  recipientNonce?: Buffer;
  senderNonce?: Buffer;
  certificates: X509Certificate[];
  crls: Buffer[];
}

/** Reads a CertRep: its signature must verify with `ra`; SUCCESS content is decrypted with the device key. */
export function readCertRep(der: Buffer, ra: X509Certificate, device: Identity): CertRep {
  const sd = parseSignedData(der);
  const signer = sd.signers[0]!;
  // Other servers send FAILURE and PENDING without content; the messageDigest then covers the empty string.
  if (!verifySigner({ ...sd, content: sd.content ?? Buffer.alloc(0) }, signer, ra))
    throw new Error('the CertRep signature does not verify with the RA certificate');
  const text = (oid: string) => {
    const v = signer.attributes.get(oid)?.[0]?.value;
    return typeof v === 'string' ? v : undefined;
  };
  const bytes = (oid: string) => (text(oid) === undefined ? undefined : Buffer.from(text(oid)!, 'binary'));
  const status = ({ '0': 'SUCCESS', '2': 'FAILURE', '3': 'PENDING' } as const)[text(ATTR.pkiStatus) as '0' | '2' | '3'];
  if (!status) throw new Error(`unknown pkiStatus ${text(ATTR.pkiStatus)}`);
  const rep: CertRep = { status, transactionId: text(ATTR.transactionId) ?? '', certificates: [], crls: [] };
  if (bytes(ATTR.recipientNonce)) rep.recipientNonce = bytes(ATTR.recipientNonce)!;
  if (bytes(ATTR.senderNonce)) rep.senderNonce = bytes(ATTR.senderNonce)!;
  if (status === 'FAILURE')
    rep.failInfo = Object.entries(FAIL_CODES).find(([, code]) => String(code) === text(ATTR.failInfo))?.[0] ?? `?${text(ATTR.failInfo)}`;
  if (status === 'SUCCESS') {
    const inner = decryptEnvelopedData(parseEnvelopedData(sd.content!), device.cert.raw, device.key);
    const certsOnly = parseSignedData(inner);
    rep.certificates = certsOnly.certificates.map((c) => new X509Certificate(c));
    rep.crls = readCrls(inner);
  }
  return rep;
}

/** CRLs ([1] IMPLICIT) of a certs-only SignedData. */
function readCrls(der: Buffer): Buffer[] {
  const signedData = ((parseDer(der).value as Asn1[])[1]!.value as Asn1[])[0]!.value as Asn1[];
  const crls = signedData.find((n) => n.tagClass === 0x80 && n.type === 1);
  return crls ? (crls.value as Asn1[]).map((c) => toDer(c)) : [];
}
