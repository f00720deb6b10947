/**
 * Issues certificates from templates, from a PKCS#10 request or with a key
 * generated here. The certificate, its escrowed key (for escrow templates)
 * and the audit row are written in one transaction.
 */
import { createHash, type KeyObject, type X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import type { Db } from '../store/db.js';
import type { AuditRepository } from '../store/audit.js';
import { SerialCollisionError, type CertificateRecord, type CertificateRepository } from '../store/certificates.js';
import type { EscrowRepository } from '../store/key-store.js';
import { transaction, type Sql } from '../store/sql.js';
import { Refusal } from '../util/refusal.js';
import type { CaRegistry, CertificateAuthority } from './ca.js';
import { buildCertificate, randomSerial, type CertificateSpec, type NameAttribute } from './certificate.js';
import { checkKeyPolicy, CsrError, parseCsr, verifyCsrSignature, type ParsedCsr } from './csr.js';
import { authorityInfoAccess, crlDistributionPoints, subjectAltName, type AltName } from './extensions.js';
import type { KeyPool } from './key-pool.js';
import type { KeyAlgorithm } from './keys.js';
import { wrapKey, type MasterKey } from './key-wrap.js';
import { encodeName, formatName, NameError } from './names.js';
import { PRESETS, type Preset, type PresetName } from './presets.js';
import { renderNames, TemplateError, type NameTemplate, type TemplateData } from './template.js';

export interface Template extends NameTemplate {
  preset: PresetName;
  ca?: string | undefined;
  validityMs: number;
  key: KeyAlgorithm;
  escrow?: boolean | undefined;
}

export interface KeyPolicy {
  rsaMinBits: number;
  rsaAllowedBits: number[];
  /** EC curves accepted from requests; empty refuses EC keys. */
  ecCurves: string[];
}

/** A request the caller can fix: bad CSR, unknown template, missing attribute. */
export class IssuanceError extends Refusal {
  constructor(message: string) {
    super('bad_request', message);
  }
}

export interface IssueRequest {
  template: string;
  data: TemplateData;
  /** PKCS#10 (PEM, DER or base64), or one the caller already parsed and whose signature it verified; omitted, the key is generated here. */
  csr?: Buffer | string | ParsedCsr;
  /** Subject and SANs to use as they are instead of the template's (SCEP profiles that certify the request's own names). */
  names?: { subject: NameAttribute[]; subjectAltNames: AltName[] };
  userId?: string | null;
  deviceId?: string | null;
  actor: string;
  reason?: string;
  /**
   * More writes that must commit with the certificate (the protocol's own
   * record of the request, the delivery that hands it on): if they fail,
   * the certificate is not issued either.
   */
  within?: (sql: Sql, issued: IssuedCertificate) => Promise<void>;
}

export interface IssuedCertificate {
  record: CertificateRecord;
  /** The certificate as issued; callers that only pass it on use this and skip parsing `cert`. */
  der: Buffer;
  cert: X509Certificate;
  ca: CertificateAuthority;
  /** The issuing CA and the issuers above it, DER, nearest first. */
  chain: Buffer[];
  /** Present when the key was generated here. */
  privateKey?: KeyObject;
}

export interface PublicationUrls {
  crl(ca: string): string;
  ocsp(): string;
  caIssuers(ca: string): string;
}

const BACKDATE_MS = 5 * 60_000;
const MAX_SERIAL_TRIES = 5;

const hex = (algorithm: string, der: Buffer) => createHash(algorithm).update(der).digest('hex');

/**
 * An EC key cannot encipher a key (RSA key transport); its encryption use is
 * key agreement (ECDH, RFC 5480 §3), so presets asking for keyEncipherment
 * get keyAgreement for EC keys.
 */
function keyUsageFor(usage: Preset['keyUsage'], key: KeyObject): CertificateSpec['keyUsage'] {
  if (key.asymmetricKeyType !== 'ec' || !('keyEncipherment' in usage)) return usage;
  const { keyEncipherment, ...rest } = usage;
  return { ...rest, keyAgreement: keyEncipherment };
}

export class Issuer {
  constructor(
    private readonly deps: {
      db: Db;
      cas: CaRegistry;
      defaultCa: string;
      templates: Record<string, Template>;
      keyPolicy: KeyPolicy;
      keyPool: KeyPool;
      master: MasterKey;
      certificates: CertificateRepository;
      escrow: EscrowRepository;
      audit: AuditRepository;
      urls: PublicationUrls;
      log: Logger;
      /** Serial source; replaced only in tests that force a collision. */
      serials?: () => string;
    },
  ) {}

  templateNames(): string[] {
    return Object.keys(this.deps.templates);
  }

  /** The CA a template issues from; undefined for an unknown template. */
  caOf(template: string): CertificateAuthority | undefined {
    const t = this.deps.templates[template];
    return t && this.deps.cas.get(t.ca ?? this.deps.defaultCa);
  }

  /**
   * Renders and encodes the names `issue` would certify from this template
   * and data, without issuing; throws IssuanceError saying what is wrong.
   * A caller that issues several certificates as one set checks them all
   * first, so a set never stops half-issued on a name.
   */
  checkNames(template: string, data: TemplateData): void {
    const t = this.deps.templates[template];
    if (!t) throw new IssuanceError(`unknown template "${template}"; known: ${this.templateNames().join(', ')}`);
    try {
      const names = renderNames(template, t, data);
      encodeName(names.subject);
      if (names.subjectAltNames.length) subjectAltName(names.subjectAltNames);
    } catch (err) {
      // The encoders' errors are about the value (an IP that is none, text a string type cannot hold).
      throw new IssuanceError(err instanceof Error ? err.message : String(err));
    }
  }

  async issue(req: IssueRequest): Promise<IssuedCertificate> {
    const template = this.deps.templates[req.template];
    if (!template) throw new IssuanceError(`unknown template "${req.template}"; known: ${this.templateNames().join(', ')}`);
    const caName = template.ca ?? this.deps.defaultCa;
    const ca = this.deps.cas.get(caName);
    if (!ca) throw new Error(`template ${req.template} names CA "${caName}", which is not configured`);
    const escrow = template.escrow ?? PRESETS[template.preset].escrow;

    let names: { subject: ReturnType<typeof renderNames>['subject']; subjectAltNames: AltName[] };
    try {
      names = req.names ?? renderNames(req.template, template, req.data);
      // A request's own names (SCEP, certsrv) or rendered user data may not fit the string types
      // RFC 5280 requires (C is two letters, DC and emailAddress ASCII): the caller's to fix, found before any key is taken.
      encodeName(names.subject);
    } catch (err) {
      if (err instanceof TemplateError || err instanceof NameError) throw new IssuanceError(err.message);
      throw err;
    }

    let publicKey: KeyObject;
    let privateKey: KeyObject | undefined;
    if (req.csr !== undefined) {
      if (escrow) throw new IssuanceError(`template ${req.template} escrows keys, so it issues only with keys generated by the gateway, not from a CSR`);
      publicKey = this.publicKeyFromCsr(req.csr);
    } else {
      ({ privateKey, publicKey } = await this.deps.keyPool.acquire(template.key));
    }

    const now = Date.now();
    const caNotAfter = new Date(ca.cert.validTo).getTime();
    const notBefore = new Date(now - BACKDATE_MS);
    const notAfter = new Date(Math.min(now + template.validityMs, caNotAfter));
    const preset = PRESETS[template.preset];

    for (let attempt = 1; ; attempt++) {
      const built = await buildCertificate({
        serialNumber: (this.deps.serials ?? randomSerial)(),
        subject: names.subject,
        publicKey,
        notBefore,
        notAfter,
        issuer: { cert: ca.cert.raw },
        signer: ca.signer,
        keyUsage: keyUsageFor(preset.keyUsage, publicKey),
        extendedKeyUsage: [...preset.extendedKeyUsage],
        subjectAltNames: names.subjectAltNames,
        extraExtensions: [
          crlDistributionPoints([this.deps.urls.crl(ca.name)]),
          authorityInfoAccess({ ocsp: [this.deps.urls.ocsp()], caIssuers: [this.deps.urls.caIssuers(ca.name)] }),
        ],
      });
      // The record is made from what went into the certificate, not by parsing it back (see SignedCertificate.x509 in certificate.ts).
      const record: CertificateRecord = {
        serial: built.serialNumber.toLowerCase(),
        ca: ca.name,
        subject: formatName(names.subject) ?? built.x509.subject.split('\n').join(', '),
        sans: names.subjectAltNames,
        template: req.template,
        userId: req.userId ?? null,
        deviceId: req.deviceId ?? null,
        notBefore: notBefore.getTime(),
        // X.509 times have whole seconds.
        notAfter: Math.floor(notAfter.getTime() / 1000) * 1000,
        status: 'valid',
        revokedAt: null,
        revocationReason: null,
        sha1: hex('sha1', built.der),
        sha256: hex('sha256', built.der),
        pem: built.pem,
        keyEscrowed: escrow && privateKey !== undefined,
        createdAt: now,
      };
      const unfit = unstorable(record);
      if (unfit) throw new IssuanceError(unfit);
      const issued: IssuedCertificate = {
        record,
        der: built.der,
        get cert() {
          return built.x509;
        },
        ca,
        chain: [ca.cert.raw, ...ca.chain],
        ...(privateKey && { privateKey }),
      };
      try {
        await transaction(this.deps.db, async (sql) => {
          await this.deps.certificates.insert(sql, record);
          if (record.keyEscrowed) {
            await this.deps.escrow.put(sql, record.serial, { kekId: this.deps.master.id, wrapped: wrapKey(this.deps.master, privateKey!, record.serial) });
          }
          await this.deps.audit.append(sql, {
            actor: req.actor,
            action: 'certificate.issue',
            subjectType: 'certificate',
            subjectId: record.serial,
            reason: req.reason ?? null,
            detail: {
              template: req.template,
              ca: ca.name,
              subject: record.subject,
              keySource: req.csr !== undefined ? 'csr' : 'generated',
              escrowed: record.keyEscrowed,
            },
          });
          await req.within?.(sql, issued);
        });
      } catch (err) {
        // 16 random bytes collide only by astronomical bad luck; re-sign with a new serial.
        if (err instanceof SerialCollisionError && attempt < MAX_SERIAL_TRIES) continue;
        throw err;
      }
      return issued;
    }
  }

  private publicKeyFromCsr(input: Buffer | string | ParsedCsr): KeyObject {
    let csr: ParsedCsr;
    let verified: boolean;
    try {
      if (isParsed(input)) [csr, verified] = [input, true];
      else {
        csr = parseCsr(input);
        verified = verifyCsrSignature(csr);
      }
    } catch (err) {
      if (err instanceof CsrError) throw new IssuanceError(`unreadable certificate request: ${err.message}`);
      throw err;
    }
    if (!verified) throw new IssuanceError('the certificate request signature does not verify');
    const { ecCurves, ...rsa } = this.deps.keyPolicy;
    const refusal = checkKeyPolicy(csr, { ...rsa, allowEc: ecCurves.length > 0, ecCurves });
    if (refusal) throw new IssuanceError(refusal);
    return csr.publicKey;
  }
}

/** The inventory's column widths (src/store/migrations/002_issuance.ts): a record wider is refused, not cut short. */
const MAX_SUBJECT = 1024;
const MAX_REFERENCE = 191;
const MAX_SANS_JSON_BYTES = 65_535;

/** Why the inventory cannot keep the record as it is (names or references a request brought), or undefined. */
function unstorable(record: CertificateRecord): string | undefined {
  if (record.subject.length > MAX_SUBJECT) return `the subject is ${record.subject.length} characters long; at most ${MAX_SUBJECT} are kept`;
  if (record.userId && record.userId.length > MAX_REFERENCE) return `the user id is ${record.userId.length} characters long; at most ${MAX_REFERENCE} are kept`;
  if (record.deviceId && record.deviceId.length > MAX_REFERENCE)
    return `the device id is ${record.deviceId.length} characters long; at most ${MAX_REFERENCE} are kept`;
  const sans = Buffer.byteLength(JSON.stringify(record.sans));
  if (sans > MAX_SANS_JSON_BYTES) return `the subjectAltNames are ${sans} bytes as JSON; at most ${MAX_SANS_JSON_BYTES} are kept`;
  return undefined;
}

const isParsed = (csr: Buffer | string | ParsedCsr): csr is ParsedCsr => typeof csr === 'object' && !Buffer.isBuffer(csr);
