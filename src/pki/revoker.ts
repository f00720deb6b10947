/**
 * Status changes: revoke (RFC 5280 reason), hold (certificateHold) and
 * release. Each is one transaction with its audit row and the CRL's stale
 * flag; the CRL is then re-signed at once so relying parties see it.
 */
import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import type { Db } from '../store/db.js';
import type { AuditRepository } from '../store/audit.js';
import { type CertificateRecord, type CertificateRepository, type CertificateStatus, UNMANAGED_CA } from '../store/certificates.js';
import type { CrlStateRepository } from '../store/crl-state.js';
import { Refusal } from '../util/refusal.js';
import type { CrlPublisher } from './crl-publisher.js';
import { REVOCATION_REASONS, type RevocationReason } from './revocation.js';

/** A status change refused: no such certificate, one not in a state to change so, or a reason that is none. */
export class StatusChangeError extends Refusal {
  constructor(kind: 'not_found' | 'conflict' | 'bad_request', message: string) {
    super(kind, message);
  }
}

type Action = 'revoke' | 'hold' | 'release';

const RULES: Record<Action, { from: CertificateStatus[]; to: CertificateStatus }> = {
  revoke: { from: ['valid', 'hold'], to: 'revoked' },
  hold: { from: ['valid'], to: 'hold' },
  release: { from: ['hold'], to: 'valid' },
};

/** The refusal for a certificate uploaded with its key (src/identity/unmanaged-certificates.ts). */
function notIssuedHere(cert: CertificateRecord, action: Action): string {
  const issuer = new X509Certificate(cert.pem).issuer.split('\n').join(', ');
  return (
    `credgate cannot ${action} certificate ${cert.serial}: it did not issue it (issuer: ${issuer}), and only the issuing CA's CRL and OCSP can. ` +
    'Ask that CA to revoke it; to stop delivering it, delete the upload (DELETE /api/v1/users/{user}/certificates/{serial}).'
  );
}

export class Revoker {
  constructor(
    private readonly deps: {
      db: Db;
      certificates: CertificateRepository;
      crlState: CrlStateRepository;
      crls: CrlPublisher;
      audit: AuditRepository;
      log: Logger;
    },
  ) {}

  revoke(serial: string, reason: RevocationReason, actor: string, note?: string): Promise<CertificateRecord> {
    if (!REVOCATION_REASONS.includes(reason) || reason === 'removeFromCRL') {
      throw new StatusChangeError('bad_request', `reason must be one of ${REVOCATION_REASONS.filter((r) => r !== 'removeFromCRL').join(', ')}`);
    }
    if (reason === 'certificateHold') return this.change('hold', serial, actor, note);
    return this.change('revoke', serial, actor, note, reason);
  }

  hold(serial: string, actor: string, note?: string): Promise<CertificateRecord> {
    return this.change('hold', serial, actor, note);
  }

  release(serial: string, actor: string, note?: string): Promise<CertificateRecord> {
    return this.change('release', serial, actor, note);
  }

  private async change(action: Action, serialInput: string, actor: string, note?: string, reason?: RevocationReason): Promise<CertificateRecord> {
    const serial = serialInput.toLowerCase();
    const rule = RULES[action];
    const now = Date.now();
    const revokedAt = action === 'release' ? null : now;
    const recorded = action === 'release' ? null : action === 'hold' ? 'certificateHold' : reason!;
    const cert = await this.deps.db.transaction(async (trx) => {
      const current = await this.deps.certificates.get(serial, trx);
      if (!current) throw new StatusChangeError('not_found', `no certificate with serial ${serial}`);
      // No CRL or OCSP answer of ours speaks for another CA's certificate, so nothing here could make a relying party see it revoked.
      if (current.ca === UNMANAGED_CA) throw new StatusChangeError('conflict', notIssuedHere(current, action));
      if (!(await this.deps.certificates.transition(trx, serial, rule.from, rule.to, revokedAt, recorded))) {
        throw new StatusChangeError('conflict', `certificate ${serial} is ${current.status}; cannot ${action} it`);
      }
      await this.deps.crlState.markStale(trx, current.ca);
      await this.deps.audit.append(
        trx,
        {
          actor,
          action: `certificate.${action}`,
          subjectType: 'certificate',
          subjectId: serial,
          reason: note ?? null,
          detail: { from: current.status, to: rule.to, ...(recorded && { reason: recorded }) },
        },
        now,
      );
      return { ...current, status: rule.to, revokedAt, revocationReason: recorded };
    });
    await this.deps.crls
      .regenerate(cert.ca)
      .catch((err: unknown) => this.deps.log.error({ err, ca: cert.ca }, 'CRL re-sign after status change failed; it is retried on the next fetch'));
    return cert;
  }
}
