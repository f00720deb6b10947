/**
 * PIV card certificates as the derived-credential page receives them over
 * mTLS. The chain is checked here against the configured PIV CAs only (not
 * against everything the listener trusts): each link's issuer name and
 * signature (node:crypto), each certificate's validity dates, and the card
 * certificate's policy (PIV Authentication, not Card Authentication). The names a
 * person is found by come from the subjectAltName: the UPN otherName and
 * rfc822Name.
 */
import { X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { parseDer } from './asn1.js';
import { pemCertificates } from './ca.js';
import { parseSubjectAltNames } from './csr.js';
import { parseDnTemplate } from './template.js';
import { normalizeSerialHex } from './x509-der.js';

const { asn1 } = forge;
const SUBJECT_ALT_NAME = '2.5.29.17';
const CERTIFICATE_POLICIES = '2.5.29.32';

/**
 * Common Policy OIDs (X.509 Certificate Policy for the U.S. Federal PKI
 * Common Policy Framework, and its PIV-I counterpart). Derivation starts
 * from the PIV Authentication certificate, whose key needs the PIN (SP
 * 800-157); the Card Authentication key answers without one, so a card
 * certificate under those policies proves possession of the card only.
 */
export const PIV_AUTHENTICATION_POLICIES = ['2.16.840.1.101.3.2.1.3.13', '2.16.840.1.101.3.2.1.3.18'] as const;
const CARD_AUTHENTICATION_POLICIES = new Set(['2.16.840.1.101.3.2.1.3.17', '2.16.840.1.101.3.2.1.3.19']);
/** Leaf, at most three intermediates, anchor: deeper chains are not what PIV issuers build. */
const MAX_DEPTH = 5;

export type PivRefusal = 'untrusted' | 'expired' | 'not-yet-valid' | 'malformed' | 'wrong-certificate';

export class PivCardError extends Error {
  constructor(
    readonly kind: PivRefusal,
    message: string,
  ) {
    super(message);
    this.name = 'PivCardError';
  }
}

export interface PivCard {
  der: Buffer;
  /** One-line DNs (RDNs joined by ", "), as OpenSSL prints them. */
  subject: string;
  issuer: string;
  /** Normalized lower-case hex (normalizeSerialHex). */
  serial: string;
  /** SHA-256 of the DER, lower-case hex without colons. */
  fingerprint: string;
  notBefore: number;
  notAfter: number;
  upns: string[];
  emails: string[];
  /** certificatePolicies OIDs. */
  policies: string[];
}

export const oneLine = (dn: string): string => dn.split('\n').filter(Boolean).join(', ');
const hexFingerprint = (c: X509Certificate): string => c.fingerprint256.replace(/:/g, '').toLowerCase();

/** A certificate's extension values by OID, from one parse of its DER. */
function extensionValues(der: Buffer): Map<string, Buffer> {
  const cert = parseDer(der);
  const tbs = (cert.value as forge.asn1.Asn1[])[0]!.value as forge.asn1.Asn1[];
  const extensions = tbs.find((n) => n.tagClass === asn1.Class.CONTEXT_SPECIFIC && n.type === 3);
  const values = new Map<string, Buffer>();
  for (const ext of extensions ? ((extensions.value as forge.asn1.Asn1[])[0]!.value as forge.asn1.Asn1[]) : []) {
    const parts = ext.value as forge.asn1.Asn1[];
    values.set(asn1.derToOid(parts[0]!.value as string), Buffer.from(parts[parts.length - 1]!.value as string, 'binary'));
  }
  return values;
}

/** The policy OIDs of a certificatePolicies value (SEQUENCE OF PolicyInformation). */
function policyOids(value: Buffer): string[] {
  return (parseDer(value).value as forge.asn1.Asn1[]).map((info) => asn1.derToOid((info.value as forge.asn1.Asn1[])[0]!.value as string));
}

/** Reads a card certificate's identity and names; malformed input is a PivCardError. */
export function readPivCard(der: Buffer): PivCard {
  let x509: X509Certificate;
  let names: { type: string; value: string }[];
  let policies: string[];
  try {
    x509 = new X509Certificate(der);
    const extensions = extensionValues(der);
    const san = extensions.get(SUBJECT_ALT_NAME);
    names = san ? parseSubjectAltNames(san) : [];
    const cp = extensions.get(CERTIFICATE_POLICIES);
    policies = cp ? policyOids(cp) : [];
  } catch (err) {
    throw new PivCardError('malformed', `the card certificate cannot be read: ${(err as Error).message}`);
  }
  return {
    der: x509.raw,
    subject: oneLine(x509.subject),
    issuer: oneLine(x509.issuer),
    serial: normalizeSerialHex(x509.serialNumber),
    fingerprint: hexFingerprint(x509),
    notBefore: Date.parse(x509.validFrom),
    notAfter: Date.parse(x509.validTo),
    upns: names.filter((n) => n.type === 'upn').map((n) => n.value),
    emails: names.filter((n) => n.type === 'email').map((n) => n.value),
    policies,
  };
}

/** Certificate policies a card certificate must assert one of, or 'any' for cards whose issuer sets none (enterprise smart cards). */
export type PivPolicies = readonly string[] | 'any';

/** The PIV CAs a card must chain to, and the policies its certificate must be under. */
export class PivTrust {
  constructor(
    private readonly anchors: X509Certificate[],
    private readonly policies: PivPolicies = PIV_AUTHENTICATION_POLICIES,
  ) {}

  /** From PEM bundles (roots and/or intermediates: any of them ends a chain). */
  static fromPem(bundles: string[], policies?: PivPolicies): PivTrust {
    return new PivTrust(
      bundles.flatMap((pem) => pemCertificates(pem)).map((der) => new X509Certificate(der)),
      policies,
    );
  }

  get size(): number {
    return this.anchors.length;
  }

  /**
   * Verifies the card certificate with the intermediates the client sent and
   * returns what the card says; throws PivCardError saying what is wrong.
   */
  verify(leafDer: Buffer, presented: Buffer[] = [], now = Date.now()): PivCard {
    const card = readPivCard(leafDer);
    const leaf = new X509Certificate(card.der);
    if (leaf.ca) throw new PivCardError('untrusted', 'the certificate presented is a CA certificate, not a card certificate');
    const intermediates = presented.flatMap((der) => {
      try {
        const c = new X509Certificate(der);
        return c.ca ? [c] : [];
      } catch {
        return [];
      }
    });
    let cert = leaf;
    for (let depth = 0; depth < MAX_DEPTH; depth++) {
      checkDates(cert, now, depth === 0 ? 'the card certificate' : `the card's issuing CA ${oneLine(cert.subject)}`);
      const issuedBy = (c: X509Certificate) => c.ca && cert.checkIssued(c) && cert.verify(c.publicKey);
      const anchor = this.anchors.find(issuedBy);
      if (anchor) {
        checkDates(anchor, now, `the trusted PIV CA ${oneLine(anchor.subject)}`);
        this.checkPolicies(card);
        return card;
      }
      const next = intermediates.find((c) => issuedBy(c) && c.fingerprint256 !== cert.fingerprint256);
      if (!next) break;
      cert = next;
    }
    throw new PivCardError('untrusted', `the card certificate (issuer ${card.issuer}) does not chain to a trusted PIV CA`);
  }

  private checkPolicies(card: PivCard): void {
    const accepted = this.policies;
    if (accepted === 'any' || card.policies.some((p) => accepted.includes(p))) return;
    if (card.policies.some((p) => CARD_AUTHENTICATION_POLICIES.has(p))) {
      throw new PivCardError(
        'wrong-certificate',
        "this is the card's Card Authentication certificate, which works without the PIN; choose the PIV Authentication certificate when the browser asks",
      );
    }
    const under = card.policies.length > 0 ? `under certificate policies ${card.policies.join(', ')}` : 'under no certificate policy';
    throw new PivCardError(
      'wrong-certificate',
      `the card certificate is ${under}; a PIV Authentication certificate (policy ${accepted.join(' or ')}) is needed`,
    );
  }
}

function checkDates(c: X509Certificate, now: number, what: string): void {
  if (Date.parse(c.validFrom) > now) throw new PivCardError('not-yet-valid', `${what} is not valid before ${new Date(c.validFrom).toISOString()}`);
  if (Date.parse(c.validTo) < now) throw new PivCardError('expired', `${what} expired on ${new Date(c.validTo).toISOString()}`);
}

const DN_ALIASES: Record<string, string> = { EMAILADDRESS: 'E', EMAIL: 'E', COMMONNAME: 'CN' };

/**
 * A DN as an operator means it, for comparing issuers a card management
 * system names: RDNs in any order, "," or "/" separated (as OpenSSL prints
 * them either way), types and values without case.
 */
export function dnKey(dn: string): string {
  const text = dn.trim();
  const bad = () => new PivCardError('malformed', `"${dn}" is not a distinguished name such as "CN=PIV CA, O=Example"`);
  let pairs: [string, string][];
  try {
    pairs = text.startsWith('/')
      ? text
          .slice(1)
          .split('/')
          .map((p): [string, string] => [
            p
              .slice(0, Math.max(p.indexOf('='), 0))
              .trim()
              .toUpperCase(),
            p.slice(p.indexOf('=') + 1).trim(),
          ])
      : parseDnTemplate(text.replace(/\n/g, ','));
  } catch {
    throw bad();
  }
  if (pairs.length === 0 || pairs.some(([t]) => t === '')) throw bad();
  return pairs
    .map(([t, v]) => `${DN_ALIASES[t] ?? t}=${v.toLowerCase()}`)
    .sort()
    .join(',');
}
