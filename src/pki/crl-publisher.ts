/**
 * Serves each CA's CRL, re-signing it when a revocation made it stale or
 * when nextUpdate is near. Re-signing is serialised per CA in this process;
 * the CRL number is taken under a row lock so instances sharing a database
 * never publish two CRLs with one number.
 */
import type { Logger } from 'pino';
import type { Db } from '../store/db.js';
import type { CertificateRepository } from '../store/certificates.js';
import type { CrlStateRepository } from '../store/crl-state.js';
import type { CaRegistry } from './ca.js';
import { buildCrl } from './crl.js';
import type { RevocationReason } from './revocation.js';

export interface CrlTiming {
  validityMs: number;
  refreshBeforeMs: number;
}

export class CrlPublisher {
  private readonly inFlight = new Map<string, Promise<Buffer>>();

  constructor(
    private readonly deps: {
      db: Db;
      cas: CaRegistry;
      certificates: CertificateRepository;
      state: CrlStateRepository;
      timing: (ca: string) => CrlTiming;
      log: Logger;
    },
  ) {}

  /** The current CRL (DER), re-signed first if it is missing, stale or due. */
  async current(ca: string, now = Date.now()): Promise<Buffer> {
    const published = await this.deps.state.get(ca);
    const { refreshBeforeMs } = this.deps.timing(ca);
    if (published && !published.stale && published.nextUpdate - refreshBeforeMs > now) return published.der;
    return this.regenerate(ca);
  }

  /** Re-signs now; concurrent callers for the same CA share one signature. */
  regenerate(ca: string): Promise<Buffer> {
    const running = this.inFlight.get(ca);
    if (running) return running;
    const run = this.sign(ca).finally(() => this.inFlight.delete(ca));
    this.inFlight.set(ca, run);
    return run;
  }

  /** Re-signs every CA whose CRL is due (run periodically). */
  async refreshDue(now = Date.now()): Promise<void> {
    for (const ca of this.deps.cas.list()) {
      await this.current(ca.name, now).catch((err: unknown) => this.deps.log.error({ err, ca: ca.name }, 'CRL refresh failed'));
    }
  }

  private async sign(name: string): Promise<Buffer> {
    const ca = this.deps.cas.get(name);
    if (!ca) throw new Error(`no CA named ${name}`);
    const { validityMs } = this.deps.timing(name);
    const thisUpdate = new Date();
    const nextUpdate = new Date(thisUpdate.getTime() + validityMs);
    return this.deps.db.transaction(async (trx) => {
      // Entries are read after the row lock: a revocation that commits while
      // we sign marks the CRL stale after our save, so it is never lost.
      const crlNumber = await this.deps.state.nextNumber(trx, name);
      const entries = (await this.deps.certificates.revokedFor(name, thisUpdate.getTime(), trx)).map((e) => ({
        serialNumber: e.serial,
        revokedAt: new Date(e.revokedAt),
        reason: e.reason as RevocationReason,
      }));
      const der = await buildCrl({ issuerCert: ca.cert.raw, signer: ca.signer, thisUpdate, nextUpdate, crlNumber, entries });
      await this.deps.state.save(trx, { ca: name, crlNumber, thisUpdate: thisUpdate.getTime(), nextUpdate: nextUpdate.getTime(), der });
      this.deps.log.info({ ca: name, crlNumber: crlNumber.toString(), entries: entries.length }, 'CRL signed');
      return der;
    });
  }
}
