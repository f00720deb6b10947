/**
 * What the final OTA profile carries for one device: per system-store
 * certificate of the credential profile, a new certificate, the user's
 * current escrowed one (`historic: use-existing`) and earlier escrowed ones
 * (`includeHistoric`, `historic: historic-only`), as mobile IDs deliver
 * them (src/identity/collection.ts). The user is the directory person an
 * escrowed key is shared with on every path (src/identity/escrowed-keys.ts),
 * so a person's second iPhone gets the key their first one has.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { IdentityError } from '../../identity/errors.js';
import type { ProfileCertificate, EscrowedKeys } from '../../identity/escrowed-keys.js';
import { MYID_REFUSALS } from '../../identity/requests.js';
import type { UnmanagedCertificates } from '../../identity/unmanaged-certificates.js';
import type { CaRegistry } from '../../pki/ca.js';
import type { Issuer } from '../../pki/issuer.js';
import type { KeyRecovery } from '../../pki/key-recovery.js';
import type { CertificatePurpose } from '../../pki/presets.js';
import { buildPkcs12 } from '../../pki/pkcs12.js';
import type { CertificateRecord } from '../../store/certificates.js';
import type { OtaEnrollment } from '../../store/ota.js';
import type { PlistDict } from './plist.js';
import { pkcs12Payload, rootPayload } from './profiles.js';

/** A system-store certificate of a credential profile: issued from a template, or the person's upload issued elsewhere for a purpose. */
export type OtaSlot =
  | (ProfileCertificate & { unmanaged?: undefined })
  | { unmanaged: CertificatePurpose; template?: undefined; historic?: undefined; includeHistoric?: undefined };

export interface OtaCredential {
  record: CertificateRecord;
  /**
   * new: issued now; existing: the user's current escrowed certificate;
   * historic: an earlier one, to read old mail; unmanaged: the user's
   * uploaded certificate issued elsewhere.
   */
  kind: 'new' | 'existing' | 'historic' | 'unmanaged';
  /** What the payload is named after, when not the record's template (uploads have none): "unmanaged-<purpose>". */
  label?: string;
  /** PKCS#12 in the format iOS imports (3DES/SHA-1), under `password`. */
  pkcs12: Buffer;
  password: string;
  /** The issuing CA and the issuers above it, DER, nearest first. */
  chain: Buffer[];
}

export class OtaCredentials {
  constructor(private readonly deps: { issuer: Issuer; recovery: KeyRecovery; keys: EscrowedKeys; cas: CaRegistry; unmanaged: UnmanagedCertificates }) {}

  /**
   * The credentials of `certificates` for the enrollment's device. A
   * reuse-or-issue runs under the person's lock, as on every path. What was
   * issued before a failure stays recorded under the person, so a retry
   * with use-existing finds it.
   */
  async forDevice(e: OtaEnrollment, udid: string, certificates: OtaSlot[]): Promise<OtaCredential[]> {
    const d = e.device!;
    const device = {
      id: udid,
      udid,
      serialNumber: d.serialNumber ?? undefined,
      imei: d.imei ?? undefined,
      product: d.product ?? undefined,
      osVersion: d.osVersion ?? undefined,
      name: d.attributes.DEVICE_NAME,
    };
    const holder = await this.deps.keys.holderOf({ id: e.userId, email: e.user.email, upn: e.user.upn });
    const actor = `ota:${e.id}`;
    const reason = `iOS OTA enrollment ${e.id}`;
    const out: OtaCredential[] = [];
    for (const c of certificates) {
      if (c.unmanaged !== undefined) {
        out.push(await this.uploaded(holder, c.unmanaged, actor));
        continue;
      }
      const slot = async () => {
        const plan = holder ? await this.deps.keys.delivery(holder, c) : { issue: c.historic !== 'historic-only', historic: [] };
        if (plan.existing) out.push(await this.recovered(plan.existing, 'existing', actor));
        if (plan.issue) {
          const i = await this.deps.issuer.issue({ template: c.template, data: { user: e.user, device }, userId: holder, deviceId: udid, actor, reason });
          const password = randomBytes(18).toString('base64url');
          const pkcs12 = buildPkcs12({ key: i.privateKey!, cert: i.der, chain: i.chain, password, friendlyName: i.record.subject, format: 'apple' });
          out.push({ record: i.record, kind: 'new', pkcs12, password, chain: i.chain });
        }
        for (const old of plan.historic) out.push(await this.recovered(old, 'historic', actor));
      };
      await (holder && c.historic === 'use-existing' ? this.deps.keys.exclusive(holder, c.template, slot) : slot());
    }
    return out;
  }

  /** The holder's current upload for `purpose`, as the apple PKCS#12 with the issuers that came with it. */
  private async uploaded(holder: string | null, purpose: CertificatePurpose, actor: string): Promise<OtaCredential> {
    const found = holder ? await this.deps.unmanaged.current(holder, purpose) : undefined;
    if (!found || found.record.notAfter <= Date.now())
      throw new IdentityError(
        'conflict',
        `${MYID_REFUSALS.noCertificates} The user no longer has a valid uploaded ${purpose} certificate; an administrator must upload one before this enrollment can complete`,
      );
    const password = randomBytes(18).toString('base64url');
    const pkcs12 = await this.deps.unmanaged.export(found.upload, { password, format: 'apple', actor, reason: 'iOS OTA unmanaged certificate' });
    return { record: found.record, kind: 'unmanaged', label: `unmanaged-${purpose}`, pkcs12, password, chain: found.upload.chain };
  }

  private async recovered(record: CertificateRecord, kind: 'existing' | 'historic', actor: string): Promise<OtaCredential> {
    const password = randomBytes(18).toString('base64url');
    const pkcs12 = await this.deps.recovery.export(record.serial, {
      password,
      format: 'apple',
      actor,
      action: 'key.deliver',
      reason: `iOS OTA ${kind} certificate`,
    });
    if (!pkcs12) throw new Error(`escrowed key of ${record.serial} is missing`);
    const ca = this.deps.cas.get(record.ca);
    return { record, kind, pkcs12, password, chain: ca ? [ca.cert.raw, ...ca.chain] : [] };
  }
}

/** One PKCS#12 payload per credential (earlier ones named apart, so none replaces another) and the roots they chain to. */
export function credentialPayloads(prefix: string, credentials: OtaCredential[]): PlistDict[] {
  const payloads: PlistDict[] = credentials.map(({ record, kind, label, pkcs12, password }) => {
    const template = label ?? record.template ?? 'certificate';
    const name = commonName(new X509Certificate(record.pem)) ?? record.subject;
    return kind === 'historic'
      ? pkcs12Payload(
          `${prefix}.${template}.historic-${record.serial}`,
          `${template} (earlier, to read old mail): ${name}`,
          `${template}-${record.serial}.p12`,
          pkcs12,
          password,
        )
      : pkcs12Payload(`${prefix}.${template}`, `${template}: ${name}`, `${template}.p12`, pkcs12, password);
  });
  const roots = new Map<string, X509Certificate>();
  for (const c of credentials) {
    const der = c.chain[c.chain.length - 1];
    const top = der && new X509Certificate(der);
    if (top?.checkIssued(top)) roots.set(top.fingerprint256, top);
  }
  [...roots.values()].forEach((root, n) => {
    payloads.push(rootPayload(`${prefix}.root${n ? `-${n}` : ''}`, commonName(root) ?? 'Root CA', `root-ca${n ? `-${n}` : ''}.cer`, root.raw));
  });
  return payloads;
}

export function commonName(cert: X509Certificate): string | undefined {
  const line = cert.subject.split('\n').find((l) => l.startsWith('CN='));
  return line?.slice(3);
}
