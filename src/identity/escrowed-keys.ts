/**
 * A person's escrowed keys, whichever path their certificates came by: MDM
 * connectors, mobile IDs and iOS OTA record them under one holder, look
 * them up there, and issue under one lock per holder and template, so a
 * person has one current escrowed encryption key that every path reuses
 * (or, where a credential profile says issue-new, replaces with a newer
 * one that the others then reuse).
 *
 * The holder of a user named by a connector or an OTA enrollment is the
 * directory person (/api/v1/users) who has the user's UPN, else the one
 * who has its email address, compared without case, when exactly one
 * person does; otherwise the user's own id. A person with an address that
 * a console names therefore shares their key with that console's user: the
 * console already decides whose address its certificates carry.
 */
import type { HISTORIC_OPTIONS } from '../config/schema.js';
import type { CertificateRecord, CertificateRepository } from '../store/certificates.js';
import type { Db } from '../store/db.js';
import { NamedLocks } from '../store/named-lock.js';
import type { PersonRepository } from '../store/people.js';

/** A user as a connector or an OTA enrollment names them. */
export interface NamedUser {
  id?: string | null | undefined;
  email?: string | null | undefined;
  upn?: string | null | undefined;
}

/** A credential profile's certificate, as far as escrowed keys go. */
export interface ProfileCertificate {
  template: string;
  historic?: (typeof HISTORIC_OPTIONS)[number] | undefined;
  includeHistoric?: boolean | undefined;
}

/** What one certificate of a credential profile delivers, decided before anything is issued. */
export interface CertificatePlan {
  /** The holder's current escrowed certificate (use-existing), delivered with its key instead of a new one. */
  existing?: CertificateRecord;
  /** Whether a new certificate is issued. */
  issue: boolean;
  /** Earlier escrowed certificates, newest first (includeHistoric, historic-only). */
  historic: CertificateRecord[];
}

export class EscrowedKeys {
  // Two paths issuing for one person at once, on this instance or another one on the same database, must not both find
  // no current key and both issue one: every reuse-or-issue runs under this lock.
  private readonly locks: NamedLocks;

  constructor(private readonly deps: { db: Db; people: PersonRepository; certificates: CertificateRepository }) {
    this.locks = new NamedLocks(deps.db, { prefix: 'credgate:user-credential' });
  }

  /** The id a user's certificates are recorded under; null when nothing names them. */
  async holderOf(user: NamedUser): Promise<string | null> {
    for (const field of ['upn', 'email'] as const) {
      const value = user[field];
      if (!value) continue;
      const people = await this.deps.people.byDirectoryName(field, value);
      if (people.length === 1) return people[0]!.id;
    }
    return user.id ?? null;
  }

  /** Runs a reuse-or-issue of the holder's certificate of `template` alone. */
  exclusive<T>(holder: string, template: string, task: () => Promise<T>): Promise<T> {
    return this.locks.run(`${template}:${holder}`, task);
  }

  /** The holder's certificates of a template with escrowed keys that are not revoked, newest first. */
  async of(holder: string, template: string): Promise<CertificateRecord[]> {
    const all = await this.deps.certificates.list({ userId: holder, template, limit: 1000 });
    return all.filter((c) => c.keyEscrowed && c.status !== 'revoked').sort((a, b) => b.notAfter - a.notAfter);
  }

  /** The current one of `escrowed` (newest first): the newest valid one that is still valid at `until`. */
  static current(escrowed: CertificateRecord[], until = Date.now()): CertificateRecord | undefined {
    return escrowed.find((c) => c.status === 'valid' && c.notAfter > until);
  }

  /** What a credential profile's certificate gives the holder, by its `historic` and `includeHistoric` options. */
  async delivery(holder: string, c: ProfileCertificate): Promise<CertificatePlan> {
    const withHistoric = c.includeHistoric === true || c.historic === 'historic-only';
    const mine = c.historic === 'use-existing' || withHistoric ? await this.of(holder, c.template) : [];
    const existing = c.historic === 'use-existing' ? EscrowedKeys.current(mine) : undefined;
    return {
      ...(existing && { existing }),
      issue: !existing && c.historic !== 'historic-only',
      historic: withHistoric ? mine.filter((r) => r.serial !== existing?.serial) : [],
    };
  }
}
