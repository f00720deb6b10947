/**
 * Certificates not issued here ("unmanaged"): an administrator uploads a
 * person's PKCS#12 from another CA, for one purpose (authentication,
 * signing or encryption), and credential profiles deliver it to the
 * person's devices like a certificate of ours (a profile slot
 * `{ unmanaged: <purpose> }`).
 *
 * The file is opened and checked before anything is written
 * (src/pki/pkcs12-reader.ts, src/pki/foreign-certificate.ts). The key is
 * sealed under the master key in escrowed_keys, like every escrowed key;
 * the password is used once and kept nowhere. The certificate joins the
 * inventory under the CA name "(unmanaged)", so the Revoker refuses to
 * revoke, hold or release it and no CRL or OCSP answer ever names it. A
 * newer upload for the same person and purpose supersedes the current one
 * (whose key stays sealed, for old mail, until deleted); deleting destroys
 * the key and removes the certificate from the inventory.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { CaRegistry } from '../pki/ca.js';
import { altNamesOf, foreignCredential, nameLine } from '../pki/foreign-certificate.js';
import type { KeyRecovery } from '../pki/key-recovery.js';
import { wrapKey, type MasterKey } from '../pki/key-wrap.js';
import type { Pkcs12Format } from '../pki/pkcs12.js';
import { readPkcs12 } from '../pki/pkcs12-reader.js';
import type { CertificatePurpose } from '../pki/presets.js';
import type { AuditRepository } from '../store/audit.js';
import { type CertificateRecord, type CertificateRepository, UNMANAGED_CA } from '../store/certificates.js';
import type { Db } from '../store/db.js';
import type { EscrowRepository } from '../store/key-store.js';
import { NamedLocks } from '../store/named-lock.js';
import type { Person, PersonRepository } from '../store/people.js';
import type { UnmanagedCertificate, UnmanagedCertificateRepository } from '../store/unmanaged-certificates.js';
import { IdentityError } from './errors.js';

export const UNMANAGED_PURPOSES: readonly CertificatePurpose[] = ['authentication', 'signing', 'encryption'];

export interface Upload {
  /** The PKCS#12 file as uploaded. */
  pkcs12: Buffer;
  password: string;
  purpose: CertificatePurpose;
  /** Why, for the audit trail. */
  note?: string | undefined;
}

/** An upload as the admin API and the CLI show it: never the key or the password. */
export interface UnmanagedView {
  serial: string;
  userId: string;
  userName: string | null;
  purpose: string;
  state: UnmanagedCertificate['state'];
  subject: string;
  issuer: string;
  notBefore: string;
  notAfter: string;
  sha256: string;
  uploadedBy: string;
  uploadedAt: string;
  supersededAt: string | null;
  /** Always true: credgate did not issue it and cannot revoke it. */
  unmanaged: true;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * A certificate that names email addresses, none of them the person's, may
 * have been uploaded for the wrong person: kept (a person may have a second
 * address the directory does not know), but the uploader is told.
 */
function addressWarning(person: Person, sans: CertificateRecord['sans']): string | undefined {
  const addresses = sans.filter((n) => n.type === 'email').map((n) => n.value.toLowerCase());
  if (!person.email || addresses.length === 0 || addresses.includes(person.email.toLowerCase())) return undefined;
  return `the certificate names ${addresses.join(', ')}, not ${person.userName}'s address ${person.email}: check that it is ${person.userName}'s`;
}

export class UnmanagedCertificates {
  // One current certificate per person and purpose, on this instance or another on the same database.
  private readonly locks: NamedLocks;

  constructor(
    private readonly deps: {
      db: Db;
      people: PersonRepository;
      certificates: CertificateRepository;
      escrow: EscrowRepository;
      unmanaged: UnmanagedCertificateRepository;
      recovery: KeyRecovery;
      audit: AuditRepository;
      master: MasterKey;
      cas: CaRegistry;
      log: Logger;
    },
  ) {
    this.locks = new NamedLocks(deps.db, { prefix: 'credgate:unmanaged' });
  }

  private async person(ref: string): Promise<Person> {
    const person = await this.deps.people.find(ref);
    if (!person) throw new IdentityError('not_found', `no user ${ref}`);
    return person;
  }

  /** Checks the file and keeps its certificate and sealed key for the person; the person's current one for the purpose is superseded. */
  async upload(actor: string, personRef: string, upload: Upload): Promise<UnmanagedView & { warnings?: string[] }> {
    if (!UNMANAGED_PURPOSES.includes(upload.purpose)) throw new IdentityError('bad_request', `purpose must be one of ${UNMANAGED_PURPOSES.join(', ')}`);
    const person = await this.person(personRef);
    const { key, cert, chain, serial } = foreignCredential(readPkcs12(upload.pkcs12, upload.password), upload.purpose);
    const ours = this.deps.cas.list().find((ca) => cert.checkIssued(ca.cert) && cert.verify(ca.cert.publicKey));
    if (ours)
      throw new IdentityError(
        'bad_request',
        `the certificate was issued by credgate's CA "${ours.name}"; a credential profile delivers certificates of ours by their template, not as uploads`,
      );
    const sha256 = createHash('sha256').update(cert.raw).digest('hex');
    if (await this.deps.certificates.serialOfSha256(sha256))
      throw new IdentityError('conflict', `this certificate (serial ${serial}) is already in the inventory`);
    if (await this.deps.certificates.get(serial))
      throw new IdentityError('conflict', `a different certificate with serial ${serial} is already in the inventory; the upload was not kept`);

    const now = Date.now();
    const issuer = nameLine(cert.issuer);
    const record: Omit<CertificateRecord, 'status' | 'revokedAt' | 'revocationReason'> = {
      serial,
      ca: UNMANAGED_CA,
      subject: nameLine(cert.subject),
      sans: altNamesOf(cert),
      template: null,
      userId: person.id,
      deviceId: null,
      notBefore: Date.parse(cert.validFrom),
      notAfter: Date.parse(cert.validTo),
      sha1: createHash('sha1').update(cert.raw).digest('hex'),
      sha256,
      pem: cert.toString(),
      keyEscrowed: true,
      createdAt: now,
    };
    if (record.subject.length > 1024 || issuer.length > 1024) throw new IdentityError('bad_request', 'the certificate names are longer than 1024 characters');
    const sealed = { kekId: this.deps.master.id, wrapped: wrapKey(this.deps.master, key, serial) };
    const superseded = await this.locks.run(`${person.id}:${upload.purpose}`, () =>
      this.deps.db.transaction(async (trx) => {
        const older = await this.deps.unmanaged.supersede(trx, person.id, upload.purpose, now);
        await this.deps.certificates.insert(trx, record);
        await this.deps.escrow.put(trx, serial, sealed, now);
        await this.deps.unmanaged.insert(trx, {
          serial,
          userId: person.id,
          purpose: upload.purpose,
          issuer,
          chain: chain.map((c) => c.raw),
          uploadedBy: actor,
          uploadedAt: now,
        });
        await this.deps.audit.append(
          trx,
          {
            actor,
            action: 'certificate.upload',
            subjectType: 'certificate',
            subjectId: serial,
            reason: upload.note ?? null,
            detail: {
              userId: person.id,
              purpose: upload.purpose,
              subject: record.subject,
              issuer,
              sha256,
              notAfter: iso(record.notAfter),
              ...(older.length && { supersedes: older }),
            },
          },
          now,
        );
        return older;
      }),
    );
    this.deps.log.info({ serial, userId: person.id, purpose: upload.purpose, issuer, superseded }, 'certificate issued elsewhere uploaded');
    const warning = addressWarning(person, record.sans);
    if (warning) this.deps.log.warn({ serial, userId: person.id }, warning);
    return { ...this.view((await this.deps.unmanaged.get(serial))!, record, person), ...(warning && { warnings: [warning] }) };
  }

  /** The person's uploads, newest first. */
  async list(personRef: string): Promise<UnmanagedView[]> {
    const person = await this.person(personRef);
    const uploads = await this.deps.unmanaged.ofUser(person.id);
    const out: UnmanagedView[] = [];
    for (const u of uploads) {
      const cert = await this.deps.certificates.get(u.serial);
      if (cert) out.push(this.view(u, cert, person));
    }
    return out;
  }

  /** Destroys the sealed key and takes the certificate out of the inventory; copies already on devices stay there. */
  async remove(actor: string, personRef: string, serialInput: string, note?: string): Promise<UnmanagedView> {
    const person = await this.person(personRef);
    const serial = serialInput.toLowerCase();
    const upload = await this.deps.unmanaged.get(serial);
    const cert = upload && (await this.deps.certificates.get(serial));
    if (!upload || !cert || upload.userId !== person.id) throw new IdentityError('not_found', `${person.userName} has no uploaded certificate ${serial}`);
    await this.deps.db.transaction(async (trx) => {
      await this.deps.escrow.remove(trx, serial);
      await this.deps.unmanaged.remove(trx, serial);
      if (!(await this.deps.certificates.removeUnmanaged(trx, serial))) throw new IdentityError('conflict', `certificate ${serial} was changed meanwhile`);
      await this.deps.audit.append(trx, {
        actor,
        action: 'certificate.upload-delete',
        subjectType: 'certificate',
        subjectId: serial,
        reason: note ?? null,
        detail: { userId: person.id, purpose: upload.purpose, issuer: upload.issuer, sha256: cert.sha256, state: upload.state },
      });
    });
    this.deps.log.info({ serial, userId: person.id }, 'uploaded certificate deleted with its key');
    return this.view(upload, cert, person);
  }

  /** The person's current upload for `purpose`, or undefined. */
  async current(personId: string, purpose: string): Promise<{ upload: UnmanagedCertificate; record: CertificateRecord } | undefined> {
    const upload = await this.deps.unmanaged.current(personId, purpose);
    const record = upload && (await this.deps.certificates.get(upload.serial));
    return upload && record ? { upload, record } : undefined;
  }

  /** Whether the person has a current upload for `purpose` that is still valid at `at`. */
  async has(personId: string, purpose: string, at = Date.now()): Promise<boolean> {
    const c = await this.current(personId, purpose);
    return c !== undefined && c.record.notAfter > at;
  }

  /**
   * The upload re-exported for a device, as PKCS#12 under `password` with the
   * issuers that came with it; audited (key.deliver) before the key leaves.
   */
  async export(upload: UnmanagedCertificate, opts: { password: string; format: Pkcs12Format; actor: string; reason: string }): Promise<Buffer> {
    const pkcs12 = await this.deps.recovery.export(upload.serial, { ...opts, action: 'key.deliver', chain: upload.chain });
    if (!pkcs12) throw new IdentityError('conflict', `the uploaded certificate ${upload.serial} was deleted meanwhile`);
    return pkcs12;
  }

  private view(u: UnmanagedCertificate, cert: Pick<CertificateRecord, 'subject' | 'notBefore' | 'notAfter' | 'sha256'>, person: Person): UnmanagedView {
    return {
      serial: u.serial,
      userId: u.userId,
      userName: person.userName,
      purpose: u.purpose,
      state: u.state,
      subject: cert.subject,
      issuer: u.issuer,
      notBefore: iso(cert.notBefore),
      notAfter: iso(cert.notAfter),
      sha256: cert.sha256,
      uploadedBy: u.uploadedBy,
      uploadedAt: iso(u.uploadedAt),
      supersededAt: u.supersededAt === null ? null : iso(u.supersededAt),
      unmanaged: true,
    };
  }
}
