/**
 * Checks a person's certificate issued by another CA before credgate keeps
 * its key and hands it to their devices: it must be the certificate of the
 * key that came with it, an end-entity certificate, valid now, with a key
 * credgate can deliver, and usable for the purpose the credential profile's
 * slot names (RFC 5280 keyUsage and extendedKeyUsage; an absent extension
 * restricts nothing).
 */
import type { X509Certificate, KeyObject } from 'node:crypto';
import forge from 'node-forge';
import type { AltName } from './extensions.js';
import type { CertificatePurpose } from './presets.js';
import { fromBer, Pkcs12ReadError, type Pkcs12Contents } from './pkcs12-reader.js';
import { normalizeSerialHex } from './x509-der.js';

export interface ForeignCredential {
  key: KeyObject;
  cert: X509Certificate;
  /** Issuers found in the same file, nearest first, as far as they chain. */
  chain: X509Certificate[];
  /** normalizeSerialHex form, as the inventory keeps serials. */
  serial: string;
}

const EKU = {
  clientAuth: '1.3.6.1.5.5.7.3.2',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  smartcardLogon: '1.3.6.1.4.1.311.20.2.2',
  any: '2.5.29.37.0',
};

/** Per purpose: the keyUsage bits of which one suffices, and the extended key usages of which one suffices. */
const NEEDS: Record<CertificatePurpose, { keyUsage: KeyUsageBit[]; eku: string[]; ekuNames: string }> = {
  authentication: { keyUsage: ['digitalSignature'], eku: [EKU.clientAuth, EKU.smartcardLogon, EKU.any], ekuNames: 'clientAuth or smartcardLogon' },
  signing: { keyUsage: ['digitalSignature', 'nonRepudiation'], eku: [EKU.emailProtection, EKU.any], ekuNames: 'emailProtection' },
  encryption: { keyUsage: ['keyEncipherment', 'keyAgreement'], eku: [EKU.emailProtection, EKU.any], ekuNames: 'emailProtection' },
};

const KEY_USAGE_BITS = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign'] as const;
type KeyUsageBit = (typeof KEY_USAGE_BITS)[number];

const EC_CURVES = ['prime256v1', 'secp384r1', 'secp521r1'];
const RSA_MIN_BITS = 2048;

const fail = (message: string): never => {
  throw new Pkcs12ReadError(message);
};

/** The keyUsage bits the certificate sets, or undefined when it has no keyUsage extension. */
export function keyUsageOf(cert: X509Certificate): Set<KeyUsageBit> | undefined {
  const { asn1 } = forge;
  const root = fromBer(cert.raw.toString('binary'), { strict: false, decodeBitStrings: false });
  const tbs = (root.value as forge.asn1.Asn1[])[0]!.value as forge.asn1.Asn1[];
  const extensions = tbs.find((n) => n.tagClass === asn1.Class.CONTEXT_SPECIFIC && n.type === 3);
  if (!extensions) return undefined;
  for (const ext of ((extensions.value as forge.asn1.Asn1[])[0]?.value ?? []) as forge.asn1.Asn1[]) {
    const parts = ext.value as forge.asn1.Asn1[];
    if (asn1.derToOid(parts[0]!.value as string) !== '2.5.29.15') continue;
    const bitString = fromBer(parts[parts.length - 1]!.value as string, { strict: false, decodeBitStrings: false });
    const bytes = Buffer.from((bitString.value as string).slice(1), 'binary');
    return new Set(KEY_USAGE_BITS.filter((_, i) => i < bytes.length * 8 && (bytes[i >> 3]! >> (7 - (i & 7))) & 1));
  }
  return undefined;
}

/** A certificate's subject or issuer as one line, most significant part first, as node prints it. */
export const nameLine = (name: string): string => name.split('\n').join(', ');

/** subjectAltNames the inventory lists (email, DNS, URI, IP); other forms are left out of the listing only. */
export function altNamesOf(cert: X509Certificate): AltName[] {
  const types: Record<string, AltName['type']> = { email: 'email', DNS: 'dns', URI: 'uri', 'IP Address': 'ip' };
  return (cert.subjectAltName ?? '')
    .split(/, (?=[A-Za-z ]+:)/)
    .map((part) => {
      const at = part.indexOf(':');
      const type = types[part.slice(0, at)];
      return type ? { type, value: part.slice(at + 1) } : undefined;
    })
    .filter((n): n is AltName => n !== undefined);
}

/** Issuers of `cert` among `others`, nearest first; stops where none is found or a loop starts. */
function chainOf(cert: X509Certificate, others: X509Certificate[]): X509Certificate[] {
  const chain: X509Certificate[] = [];
  let at = cert;
  while (chain.length < 8) {
    if (at.checkIssued(at) && at !== cert) break; // a self-signed root ends the chain
    const next = others.find((o) => o.ca && !chain.includes(o) && at.checkIssued(o) && at.verify(o.publicKey));
    if (!next) break;
    chain.push(next);
    at = next;
  }
  return chain;
}

function checkKey(key: KeyObject): void {
  const d = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') {
    if ((d.modulusLength ?? 0) < RSA_MIN_BITS) fail(`the key is RSA ${d.modulusLength} bits; at least ${RSA_MIN_BITS} are accepted`);
    return;
  }
  if (key.asymmetricKeyType === 'ec') {
    if (!EC_CURVES.includes(d.namedCurve ?? '')) fail(`the key is on curve ${d.namedCurve}; P-256, P-384 and P-521 are accepted`);
    return;
  }
  fail(`the key is ${key.asymmetricKeyType}; mobile key stores take RSA and EC (P-256, P-384, P-521) keys`);
}

/**
 * The person's certificate in a PKCS#12's contents, checked for `purpose` at
 * `now`: the certificate whose public key is the file's key, never a CA's.
 */
export function foreignCredential(contents: Pkcs12Contents, purpose: CertificatePurpose, now = Date.now()): ForeignCredential {
  const { key, certificates } = contents;
  if (certificates.length === 0) fail('the file holds a key but no certificate: export the certificate together with its key');
  const mine = certificates.filter((c) => c.checkPrivateKey(key));
  if (mine.length === 0) fail("the private key in the file is not the key of its certificate: export the person's certificate with its own key");
  const cert =
    mine.find((c) => !c.ca) ?? fail("the certificate of the key is a CA certificate (basicConstraints cA is set): upload the person's own certificate");
  checkKey(key);

  const notBefore = Date.parse(cert.validFrom);
  const notAfter = Date.parse(cert.validTo);
  if (notAfter <= now) fail(`the certificate expired on ${new Date(notAfter).toISOString()}`);
  if (notBefore > now) fail(`the certificate is not valid before ${new Date(notBefore).toISOString()}`);

  const needs = NEEDS[purpose];
  let usage: Set<KeyUsageBit> | undefined;
  try {
    usage = keyUsageOf(cert);
  } catch {
    fail("the certificate's keyUsage extension cannot be read");
  }
  if (usage && !needs.keyUsage.some((u) => usage.has(u)))
    fail(`the certificate cannot be used for ${purpose}: its keyUsage (${[...usage].join(', ') || 'none'}) has none of ${needs.keyUsage.join(', ')}`);
  const eku = cert.keyUsage; // node names the extendedKeyUsage OIDs so
  if (eku && eku.length > 0 && !needs.eku.some((e) => eku.includes(e)))
    fail(`the certificate cannot be used for ${purpose}: its extendedKeyUsage (${eku.join(', ')}) does not include ${needs.ekuNames}`);

  const serial = normalizeSerialHex(cert.serialNumber);
  if (serial.length > 40) fail('the certificate serial number is longer than 20 octets (RFC 5280, section 4.1.2.2)');
  const chain = chainOf(
    cert,
    certificates.filter((c) => c !== cert),
  );
  const issuer = chain[0];
  if (!issuer && certificates.some((c) => c.ca && cert.checkIssued(c)))
    fail("the certificate's signature does not verify under the issuer certificate in the file");
  return { key, cert, chain, serial };
}
