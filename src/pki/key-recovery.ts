/** Recovery of escrowed keys by a key-recovery officer: always audited, returned as PKCS#12 once. */
import { randomBytes, X509Certificate } from 'node:crypto';
import type { Db } from '../store/db.js';
import type { AuditRepository } from '../store/audit.js';
import type { CertificateRepository } from '../store/certificates.js';
import type { EscrowRepository } from '../store/key-store.js';
import type { UnmanagedCertificateRepository } from '../store/unmanaged-certificates.js';
import type { CaRegistry } from './ca.js';
import { unwrapKey, type MasterKey } from './key-wrap.js';
import { buildPkcs12, type Pkcs12Format } from './pkcs12.js';

export class KeyRecovery {
  constructor(
    private readonly deps: {
      db: Db;
      cas: CaRegistry;
      certificates: CertificateRepository;
      escrow: EscrowRepository;
      audit: AuditRepository;
      master: MasterKey;
      /** Uploaded certificates issued elsewhere: their PKCS#12 carries the issuers that came with the upload. */
      unmanaged?: UnmanagedCertificateRepository;
    },
  ) {}

  /** The escrowed key and its certificate as PKCS#12 with a new password, or undefined when nothing is escrowed. */
  async recover(serial: string, actor: string, reason: string, format: Pkcs12Format): Promise<{ pkcs12: Buffer; password: string } | undefined> {
    const password = randomBytes(18).toString('base64url');
    const pkcs12 = await this.export(serial, { password, format, actor, action: 'key.recover', reason });
    return pkcs12 && { pkcs12, password };
  }

  /**
   * PKCS#12 of an escrowed key under a given password. Used for recovery and
   * for delivering a user's encryption key to another of their devices;
   * either way an audit row is written before the key leaves.
   */
  async export(
    serial: string,
    opts: {
      password: string;
      format: Pkcs12Format;
      actor: string;
      action: 'key.recover' | 'key.deliver';
      reason?: string;
      /** The issuers to include, nearest first; default: the issuing CA of ours and its chain (a certificate issued elsewhere brings its own). */
      chain?: Buffer[];
    },
  ): Promise<Buffer | undefined> {
    const [cert, wrapped] = await Promise.all([this.deps.certificates.get(serial), this.deps.escrow.get(serial)]);
    if (!cert || !wrapped) return undefined;
    const key = unwrapKey(this.deps.master, wrapped.kekId, wrapped.wrapped, serial);
    const ca = this.deps.cas.get(cert.ca);
    const uploadedChain = !opts.chain && cert.unmanaged ? (await this.deps.unmanaged?.get(serial))?.chain : undefined;
    const pkcs12 = buildPkcs12({
      key,
      cert: new X509Certificate(cert.pem).raw,
      chain: opts.chain ?? uploadedChain ?? (ca ? [ca.cert.raw, ...ca.chain] : []),
      password: opts.password,
      friendlyName: cert.subject,
      format: opts.format,
    });
    await this.deps.audit.append(this.deps.db, {
      actor: opts.actor,
      action: opts.action,
      subjectType: 'certificate',
      subjectId: serial,
      reason: opts.reason ?? null,
    });
    return pkcs12;
  }
}
