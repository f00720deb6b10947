/**
 * What certsrv web enrollment decides, for XenMobile's "Microsoft Certificate
 * Services" PKI entity: a form with a PKCS#10 request and
 * `CertAttrib=CertificateTemplate:<name>` becomes a certificate of the mapped
 * credgate template with the request's own names (XenMobile's credential
 * provider sets them) as far as the connector's name policy allows them
 * (`certsrv.names`, src/pki/name-policy.ts), and a request id to fetch it by. The request row
 * commits with the certificate, so an issued certificate always has its id.
 *
 * Request attributes never add names: a `SAN:` attribute (what ADCS honours
 * with EDITF_ATTRIBUTESUBJECTALTNAME2) is ignored and logged.
 */
import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import type { ConnectorPki } from '../../src/connectors/module.js';
import { CsrError, parseCsr, verifyCsrSignature, type ParsedCsr } from '../../src/pki/csr.js';
import { IssuanceError } from '../../src/pki/issuer.js';
import { decideNames, type RequestedNames } from '../../src/pki/name-policy.js';
import { NameError } from '../../src/pki/names.js';
import type { Db } from '../../src/store/db.js';
import type { CitrixSettings } from './schema.js';
import type { CertsrvRequestRepository } from './store.js';

export type Submission = { issued: true; requestId: number; serial: string } | { issued: false; reason: string };

/** One certificate with its issuing CA and the CAs above it, DER, nearest first. */
export interface CertificateWithChain {
  der: Buffer;
  chain: Buffer[];
}

/** `CertificateTemplate:Name\r\nOther:Value` -> { certificatetemplate: 'Name', other: 'Value' } (names lower-cased). */
export function parseCertAttrib(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r\n|\r|\n/)) {
    const colon = line.indexOf(':');
    if (colon < 1) continue;
    out.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return out;
}

const field = (form: Record<string, unknown>, name: string): string | undefined => {
  const key = Object.keys(form).find((k) => k.toLowerCase() === name.toLowerCase());
  const v = key === undefined ? undefined : form[key];
  return typeof v === 'string' ? v : undefined;
};

const isEmailAttribute = (type: string) => ['E', 'EMAILADDRESS', '1.2.840.113549.1.9.1'].includes(type.toUpperCase());

export class CertsrvService {
  constructor(
    private readonly deps: {
      connectorId: string;
      settings: CitrixSettings['certsrv'];
      pki: ConnectorPki;
      requests: CertsrvRequestRepository;
      db: Db;
      log: Logger;
    },
  ) {}

  /** The CA certificate served as `CACert`: the CA of the first mapped template. */
  caCertificate(): CertificateWithChain {
    const ca = this.deps.pki.caOf(Object.values(this.deps.settings.templates)[0]!);
    return { der: ca.cert.raw, chain: ca.chain };
  }

  /** The certificate of one of this connector's requests; undefined for an unknown id. */
  async certificate(requestId: number): Promise<CertificateWithChain | undefined> {
    const request = await this.deps.requests.get(this.deps.connectorId, requestId);
    const record = request && (await this.deps.pki.certificates.get(request.serial));
    if (!record) return undefined;
    // A template since removed from the configuration leaves the certificate fetchable, without its chain.
    const ca = this.deps.pki.caOf(request.template) as ReturnType<ConnectorPki['caOf']> | undefined;
    return { der: new X509Certificate(record.pem).raw, chain: ca ? [ca.cert.raw, ...ca.chain] : [] };
  }

  /** certfnsh.asp: every refusal is a reason for the denial page, logged as a warning. */
  async submit(form: Record<string, unknown>, requester: string): Promise<Submission> {
    const log = this.deps.log.child({ requester });
    const deny = (reason: string, detail: Record<string, unknown> = {}): Submission => {
      log.warn({ ...detail, reason }, 'certsrv request denied');
      return { issued: false, reason };
    };

    const mode = field(form, 'Mode');
    if (mode === undefined || mode.toLowerCase() !== 'newreq') return deny(`unsupported Mode "${mode ?? ''}": only Mode=newreq (a new request) is served`);
    const text = field(form, 'CertRequest');
    if (!text?.trim()) return deny('the form has no CertRequest (a base64 PKCS#10 request)');
    const attributes = parseCertAttrib(field(form, 'CertAttrib') ?? '');
    const adcsTemplate = attributes.get('certificatetemplate');
    if (!adcsTemplate) return deny('the request names no certificate template: send CertAttrib=CertificateTemplate:<name>');
    const template = this.templateFor(adcsTemplate);
    if (!template) {
      // ADCS's wording (CERTSRV_E_UNSUPPORTED_CERT_TYPE), which certsrv clients and their operators look for; then what is mapped here.
      const known = Object.keys(this.deps.settings.templates).join(', ');
      return deny(
        `Denied by Policy Module 0x80094800, The request was for a certificate template that is not supported by the Active Directory Certificate Services policy: ${adcsTemplate.slice(0, 128)} (mapped: ${known})`,
        { adcsTemplate },
      );
    }
    const ignored = [...attributes.keys()].filter((k) => k !== 'certificatetemplate');
    if (ignored.length) log.info({ ignored }, 'certsrv request attributes ignored: names come from the request itself, never from attributes');

    let csr: ParsedCsr;
    try {
      csr = parseCsr(text);
      if (!verifyCsrSignature(csr)) return deny('the signature of the certificate request does not verify', { adcsTemplate });
    } catch (err) {
      if (err instanceof CsrError) return deny(`Error Parsing Request: ${err.message}`, { adcsTemplate });
      throw err;
    }

    const decision = decideNames(this.deps.settings.names, csr);
    if (!decision.ok) {
      await this.deps.pki.audit.append(this.deps.db, {
        actor: `connector:${this.deps.connectorId}`,
        action: 'certsrv.refuse',
        subjectType: 'certsrv_request',
        subjectId: adcsTemplate,
        reason: decision.reason,
        detail: { requester, adcsTemplate, subject: csr.subjectDn },
      });
      return deny(decision.reason, { adcsTemplate, subject: csr.subjectDn });
    }
    const names = this.lowerEmails(decision.names, log);
    const deviceId = this.deviceOf(names);
    if (!deviceId && this.deps.settings.device.required) {
      const where = this.deps.settings.device.subjectAttribute
        ? `a subject ${this.deps.settings.device.subjectAttribute}`
        : `a subjectAltName URI ${this.deps.settings.device.sanUriPrefix}<device>`;
      return deny(`the request names no device (expected ${where}); its certificate could not be revoked when the device is retired`, {
        adcsTemplate,
        subject: csr.subjectDn,
      });
    }
    const userId =
      names.subjectAltNames.find((n) => n.type === 'email' || n.type === 'upn')?.value ?? names.subject.find((a) => isEmailAttribute(a.type))?.value ?? null;

    let requestId = 0;
    try {
      const issued = await this.deps.pki.issuer.issue({
        template,
        csr, // parsed and its signature verified already
        names,
        data: {},
        userId,
        deviceId,
        actor: `connector:${this.deps.connectorId}`,
        reason: `certsrv request (${adcsTemplate}) from ${requester}`,
        within: async (sql, { record }) => {
          requestId = await this.deps.requests.insert(sql, {
            connectorId: this.deps.connectorId,
            serial: record.serial,
            adcsTemplate,
            template,
            requester,
            deviceId,
          });
        },
      });
      log.info({ requestId, serial: issued.record.serial, template, adcsTemplate, deviceId, subject: issued.record.subject }, 'certsrv certificate issued');
      return { issued: true, requestId, serial: issued.record.serial };
    } catch (err) {
      if (err instanceof IssuanceError || err instanceof NameError) return deny(err.message, { adcsTemplate, subject: csr.subjectDn });
      throw err;
    }
  }

  private templateFor(adcsTemplate: string): string | undefined {
    const map = this.deps.settings.templates;
    const key = Object.keys(map).find((k) => k === adcsTemplate) ?? Object.keys(map).find((k) => k.toLowerCase() === adcsTemplate.toLowerCase());
    return key === undefined ? undefined : map[key];
  }

  /**
   * The names to certify, email addresses lower-cased when configured: the
   * Citrix credential store compares them case-sensitively (the directory's
   * address must be lower case and match everywhere), so the certificate
   * carries the lower-case form and the mismatch is reported.
   */
  private lowerEmails(requested: RequestedNames, log: Logger): RequestedNames {
    const lower = this.deps.settings.emailCase === 'lower';
    const changed: string[] = [];
    const fix = (value: string): string => {
      if (!lower || value === value.toLowerCase()) return value;
      changed.push(value);
      return value.toLowerCase();
    };
    const subject = requested.subject.map((a) => (isEmailAttribute(a.type) ? { ...a, value: fix(a.value) } : a));
    const subjectAltNames = requested.subjectAltNames.map((n) => (n.type === 'email' ? { ...n, value: fix(n.value) } : n));
    if (changed.length) {
      log.warn(
        { requested: [...new Set(changed)], issued: [...new Set(changed.map((e) => e.toLowerCase()))] },
        'email address lower-cased for the Citrix credential store; the directory has it in another case: make it lower case there too (it must match exactly, e.g. on Exchange and in LDAP)',
      );
    }
    return { subject, subjectAltNames };
  }

  private deviceOf(names: RequestedNames): string | null {
    const { subjectAttribute, sanUriPrefix } = this.deps.settings.device;
    if (subjectAttribute) return names.subject.find((a) => a.type.toLowerCase() === subjectAttribute.toLowerCase())?.value.trim() || null;
    const uri = names.subjectAltNames.find((n) => n.type === 'uri' && n.value.startsWith(sanUriPrefix!));
    return uri?.value.slice(sanUriPrefix!.length).trim() || null;
  }
}
