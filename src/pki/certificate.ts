/**
 * Builds X.509 certificates with forge and signs them through a Signer
 * (native RSA). Returns DER and PEM; callers never see forge objects.
 */
import { randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { extendedKeyUsage, subjectAltName, type AltName, type RawExtension } from './extensions.js';
import { toForgePublicKey } from './keys.js';
import type { Signer } from './native-signer.js';

export interface NameAttribute {
  /** Short name: CN, O, OU, C, L, ST, E (emailAddress), serialNumber, UID, DC. */
  type: string;
  value: string;
}

export type SubjectAltName = AltName;

export interface CertificateSpec {
  subject: NameAttribute[];
  publicKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  /** Omit for self-signed. */
  issuer?: { cert: Buffer };
  signer: Signer;
  ca?: { pathLength?: number };
  keyUsage?: Partial<Record<'digitalSignature' | 'nonRepudiation' | 'keyEncipherment' | 'dataEncipherment' | 'keyAgreement' | 'keyCertSign' | 'cRLSign', boolean>>;
  /** Extended key usage names (serverAuth, clientAuth, emailProtection, smartcardLogon, ...) or OIDs. */
  extendedKeyUsage?: string[];
  subjectAltNames?: SubjectAltName[];
  /** Pre-encoded extensions (CRL distribution points, AIA, ...). */
  extraExtensions?: RawExtension[];
  serialNumber?: string;
}

export interface IssuedCertificate {
  der: Buffer;
  pem: string;
  serialNumber: string;
  x509: X509Certificate;
}

const SHORT_NAMES: Record<string, string> = { E: 'emailAddress', UID: 'UID' };

/** 16 random bytes, first byte 0x01-0x7f: positive and minimally DER-encoded. */
export function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) || 0x01;
  return bytes.toString('hex');
}

const toForgeAttrs = (name: NameAttribute[]) =>
  name.map((a) => (SHORT_NAMES[a.type] ? { name: SHORT_NAMES[a.type], value: a.value } : { shortName: a.type, value: a.value }));

export function buildCertificate(spec: CertificateSpec): IssuedCertificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = toForgePublicKey(spec.publicKey);
  cert.serialNumber = spec.serialNumber ?? randomSerial();
  cert.validity.notBefore = spec.notBefore;
  cert.validity.notAfter = spec.notAfter;
  cert.setSubject(toForgeAttrs(spec.subject));

  const extensions: object[] = [];
  const subjectKeyId = cert.generateSubjectKeyIdentifier().getBytes();
  extensions.push({ name: 'subjectKeyIdentifier', subjectKeyIdentifier: forge.util.bytesToHex(subjectKeyId) });

  if (spec.issuer) {
    const issuer = forge.pki.certificateFromAsn1(forge.asn1.fromDer(spec.issuer.cert.toString('binary')));
    cert.setIssuer(issuer.subject.attributes);
    extensions.push({ name: 'authorityKeyIdentifier', keyIdentifier: issuer.generateSubjectKeyIdentifier().getBytes() });
  } else {
    cert.setIssuer(toForgeAttrs(spec.subject));
    extensions.push({ name: 'authorityKeyIdentifier', keyIdentifier: subjectKeyId });
  }

  extensions.push(
    spec.ca
      ? { name: 'basicConstraints', cA: true, critical: true, ...(spec.ca.pathLength !== undefined && { pathLenConstraint: spec.ca.pathLength }) }
      : { name: 'basicConstraints', cA: false, critical: true },
  );
  if (spec.keyUsage) extensions.push({ name: 'keyUsage', critical: true, ...spec.keyUsage });
  // RFC 5280: with an empty subject the SAN must be critical.
  const raw = [
    ...(spec.extendedKeyUsage?.length ? [extendedKeyUsage(spec.extendedKeyUsage)] : []),
    ...(spec.subjectAltNames?.length ? [subjectAltName(spec.subjectAltNames, spec.subject.length === 0)] : []),
    ...(spec.extraExtensions ?? []),
  ];
  for (const e of raw) extensions.push({ id: e.oid, critical: e.critical, value: e.value.toString('binary') });
  cert.setExtensions(extensions);
  cert.sign(spec.signer as unknown as forge.pki.rsa.PrivateKey, forge.md.sha256.create());

  const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');
  const x509 = new X509Certificate(der);
  return { der, pem: x509.toString(), serialNumber: cert.serialNumber, x509 };
}
