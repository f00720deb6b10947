/**
 * Derived credentials (NIST SP 800-157): a person proves who they are with
 * a PIV card over mTLS and receives a mobile ID of the derived-credential
 * profile, whose code they are shown as a QR code for the Company Portal or
 * AppConnect app to scan. Every derived credential stays bound to its card:
 * when the card management system reports the card cancelled, what was
 * derived from it is revoked. A derived credential is never renewed: a new
 * derivation from the same card supersedes the previous one once it is
 * issued, and its holder is told to derive anew before `rederiveBy` percent
 * of its lifetime.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { DerivedCredentialsConfig, MobileConfig } from '../config/schema.js';
import { durationMs } from '../config/duration.js';
import { dnKey, PivCardError, readPivCard, type PivCard, type PivTrust } from '../pki/piv.js';
import { REVOCATION_REASONS, type RevocationReason } from '../pki/revocation.js';
import { normalizeSerialHex } from '../pki/x509-der.js';
import type { AuditRepository } from '../store/audit.js';
import type { CertificateRepository } from '../store/certificates.js';
import type { Db } from '../store/db.js';
import type { DerivedCredential, DerivedCredentialRepository, PivCardRecord } from '../store/derived-credentials.js';
import type { MobileIdRepository } from '../store/mobile-ids.js';
import type { Person, PersonRepository } from '../store/people.js';
import { KeyedLock } from '../util/keyed-lock.js';
import { IdentityError } from './errors.js';
import type { LifecycleService } from './lifecycle.js';
import { noticeRound, type Notifications } from './notifications.js';
import type { MobileProfile } from './profiles.js';
import type { Caller, IssuedCode, RequestService } from './requests.js';

const DAY = 86_400_000;
/** The gateway acting on its own: superseding, on behalf of the new credential's holder. */
const SYSTEM: Caller = { actor: 'system:derived-credentials', name: 'derived-credentials', roles: [], system: true };
/** What a card management system may give as the reason; a hold is not a cancellation. */
export const CARD_CANCEL_REASONS = REVOCATION_REASONS.filter((r) => r !== 'removeFromCRL' && r !== 'certificateHold');

/** A verified card and the person it belongs to. */
export interface CardHolder {
  card: PivCard;
  person: Person;
  /** The card as recorded, once it was used or reported. */
  record: PivCardRecord | undefined;
}

export interface DerivedRequest extends IssuedCode {
  /** The derived credential the new one supersedes once it is issued. */
  supersedes: string | null;
}

export interface CardCancellation {
  card: { issuer: string; serial: string; fingerprint: string | null; status: 'cancelled'; cancelledAt: number | null };
  /** The card was already reported cancelled: nothing new was recorded. */
  alreadyCancelled: boolean;
  /** Derived credentials cancelled now, and the certificates revoked with them. */
  cancelled: string[];
  revoked: string[];
}

export interface CardReport {
  certificate?: string;
  issuer?: string;
  serial?: string;
  reason?: string;
  note?: string;
}

export class DerivedCredentialService {
  private readonly lock = new KeyedLock();

  constructor(
    private readonly deps: {
      db: Db;
      derived: DerivedCredentialRepository;
      people: PersonRepository;
      mobileIds: MobileIdRepository;
      certificates: CertificateRepository;
      audit: AuditRepository;
      requests: RequestService;
      lifecycle: LifecycleService;
      notifications: Notifications;
      trust: PivTrust;
      /** The derived-credential profile the page requests; undefined when none is configured. */
      profile: MobileProfile | undefined;
      config: DerivedCredentialsConfig;
      mobile: Pick<MobileConfig, 'renewal' | 'sessionTtl'>;
      /** The request page, for notices. */
      pageUrl: string;
      log: Logger;
    },
  ) {}

  /** Who the card presented belongs to; refuses cards that are untrusted, expired, reported cancelled, or of no known user. */
  async holder(leaf: Buffer | undefined, presented: Buffer[]): Promise<CardHolder> {
    if (!leaf)
      throw new IdentityError('unauthorized', 'no card certificate was presented: insert your PIV card, and choose its certificate when the browser asks');
    let card: PivCard;
    try {
      card = this.deps.trust.verify(leaf, presented);
    } catch (err) {
      if (err instanceof PivCardError) throw new IdentityError('forbidden', `this card cannot be used: ${err.message}`);
      throw err;
    }
    const record = await this.cardRecord(card);
    if (record?.status === 'cancelled') {
      throw new IdentityError(
        'forbidden',
        `this PIV card was reported cancelled on ${new Date(record.cancelledAt!).toISOString()}; derived credentials cannot be requested with it`,
      );
    }
    const person = await this.match(card);
    if (record?.userId && record.userId !== person.id) {
      throw new IdentityError('forbidden', `this card was first used by another user than ${person.userName}; ask your administrator to check the directory`);
    }
    return { card, person, record };
  }

  /** The holder's derived credentials from this card, newest first, and when each should be derived anew. */
  async overview(h: CardHolder): Promise<{ profile: string | undefined; credentials: DerivedCredential[] }> {
    return { profile: this.deps.profile?.name, credentials: h.record ? await this.deps.derived.list({ cardId: h.record.id, limit: 20 }) : [] };
  }

  /**
   * A new derived credential for the card's holder. One open request per
   * card: an earlier one not yet collected is cancelled; one being collected
   * right now is waited for. At most maxRequestsPerDay per card.
   */
  async request(h: CardHolder): Promise<DerivedRequest> {
    const profile = this.deps.profile;
    if (!profile)
      throw new IdentityError('unavailable', 'no credential profile with encoding derived-credential is configured (derivedCredentials.credentialProfile)');
    return this.lock.run(h.card.fingerprint, async () => {
      const record = await this.cardRecord(h.card);
      if (record?.status === 'cancelled') throw new IdentityError('forbidden', 'this PIV card was reported cancelled');
      const now = Date.now();
      if (record) {
        const made = await this.deps.derived.countSince(record.id, now - DAY);
        if (made >= this.deps.config.maxRequestsPerDay) {
          const oldest = (await this.deps.derived.list({ cardId: record.id, limit: this.deps.config.maxRequestsPerDay })).at(-1)!;
          const wait = Math.max(1, Math.ceil((oldest.createdAt + DAY - now) / 1000));
          throw new IdentityError(
            'rate_limited',
            `this card made ${made} requests in the last 24 hours, the most allowed (derivedCredentials.maxRequestsPerDay); try again later`,
            wait,
          );
        }
      }
      const earlier = record ? await this.deps.derived.list({ cardId: record.id, limit: 100 }) : [];
      // The card proved who the holder is; no operator's scope is involved.
      const caller: Caller = { actor: `piv-card:${h.card.fingerprint}`, name: h.person.userName, roles: [], system: true };
      await this.closeOpenRequests(earlier, caller, now);
      const previous = earlier.find((d) => d.credentialProfile === profile.name && (d.status === 'issued' || d.status === 'disabled'));
      const cardId = record?.id ?? randomUUID();
      const issued = await this.deps.requests.request(caller, {
        user: h.person.id,
        credentialProfile: profile.name,
        qr: true,
        ...(previous && { replaces: previous.mobileId }),
        derived: {
          bind: async (trx, mobileId) => {
            const known = { fingerprint: h.card.fingerprint, subject: h.card.subject, notAfter: h.card.notAfter, userId: h.person.id };
            if (!record) await this.deps.derived.insertCard(trx, { id: cardId, issuer: h.card.issuer, serial: h.card.serial, status: 'active', ...known });
            else if (record.fingerprint === null || record.userId === null) await this.deps.derived.completeCard(trx, cardId, known);
            await this.deps.derived.insert(trx, { mobileId, cardId, userId: h.person.id });
            await this.deps.audit.append(trx, {
              actor: caller.actor,
              action: 'derived-credential.request',
              subjectType: 'mobile-id',
              subjectId: mobileId,
              detail: {
                card: { issuer: h.card.issuer, serial: h.card.serial, fingerprint: h.card.fingerprint },
                userId: h.person.id,
                ...(previous && { supersedes: previous.mobileId }),
              },
            });
          },
        },
      });
      this.deps.log.info(
        { mobileId: issued.mobileId.id, userId: h.person.id, cardSerial: h.card.serial, supersedes: previous?.mobileId },
        'derived credential requested',
      );
      return { ...issued, supersedes: previous?.mobileId ?? null };
    });
  }

  /** Requests from this card not yet collected are cancelled; a collection in progress is waited for (a stalled one, past the session lifetime, is cancelled). */
  private async closeOpenRequests(earlier: DerivedCredential[], caller: Caller, now: number): Promise<void> {
    const stalledBefore = now - durationMs(this.deps.mobile.sessionTtl);
    for (const d of earlier) {
      if (d.status === 'collecting' && d.updatedAt > stalledBefore) {
        throw new IdentityError(
          'conflict',
          `a phone is collecting the derived credential requested at ${new Date(d.createdAt).toISOString()}; let it finish, or try again after ${new Date(d.updatedAt + durationMs(this.deps.mobile.sessionTtl)).toISOString()}`,
        );
      }
      if (d.status === 'ready' || d.status === 'awaiting-validation' || d.status === 'locked' || d.status === 'collecting') {
        await this.ignoringRace(() => this.deps.lifecycle.cancel(caller, d.mobileId, { reason: 'superseded', note: 'a newer request from the same PIV card' }));
      }
    }
  }

  /**
   * Work due once a derived credential is issued: the one it supersedes is
   * revoked (superseded), and its re-derive date set. Runs right after the
   * acknowledgement and again on a timer, which finishes what a crash left.
   */
  async settle(mobileId?: string): Promise<number> {
    const due = mobileId
      ? [await this.deps.derived.get(mobileId)].filter((d): d is DerivedCredential => d?.status === 'issued')
      : await this.deps.derived.unsettled();
    for (const d of due) {
      if (d.replaces) {
        const old = await this.deps.mobileIds.get(d.replaces);
        if (old && (old.status === 'issued' || old.status === 'disabled')) {
          await this.ignoringRace(() =>
            this.deps.lifecycle.cancel(SYSTEM, old.id, { reason: 'superseded', note: `superseded by derived credential ${d.mobileId}` }),
          );
          this.deps.log.info({ mobileId: old.id, by: d.mobileId }, 'derived credential superseded');
        }
      }
      if (d.rederiveAt === null) await this.deps.derived.setRederiveAt(this.deps.db, d.mobileId, await this.rederiveDeadline(d));
    }
    return due.length;
  }

  /** `rederiveBy` percent into the lifetime of the credential's first certificate to expire. */
  private async rederiveDeadline(d: DerivedCredential): Promise<number> {
    const m = (await this.deps.mobileIds.get(d.mobileId))!;
    const certs = await Promise.all(m.serials.map((s) => this.deps.certificates.get(s)));
    const share = this.deps.config.rederiveBy / 100;
    const points = certs.filter((c) => c !== undefined).map((c) => c.notBefore + Math.floor((c.notAfter - c.notBefore) * share));
    // Nothing newly issued (only existing certificates delivered): nothing to derive anew.
    return points.length > 0 ? Math.min(...points) : Number.MAX_SAFE_INTEGER;
  }

  /** Re-derive notices, mobile.renewal.noticeBefore ahead of each deadline, once per derived credential. */
  async sendRederiveNotices(now = Date.now()): Promise<{ notified: number; failed: number }> {
    const due = await this.deps.derived.dueForRederiveNotice(now + durationMs(this.deps.mobile.renewal.noticeBefore));
    return noticeRound(
      due,
      async (d) => {
        const person = await this.deps.people.get(d.userId);
        if (!person) return undefined;
        const values = {
          profile: d.credentialProfile,
          rederiveBy: new Date(d.rederiveAt!).toUTCString(),
          notAfter: d.notAfter === null ? '' : new Date(d.notAfter).toUTCString(),
          link: this.deps.pageUrl,
          requestId: d.mobileId,
        };
        return this.deps.notifications.renewalNotice(person, this.deps.mobile.renewal.channels, values, 'rederive');
      },
      (d, deliveries) =>
        this.deps.db.transaction(async (trx) => {
          if (await this.deps.derived.markRederiveNotice(trx, d.mobileId, now)) {
            await this.deps.audit.append(trx, {
              actor: 'renewal',
              action: 'derived-credential.rederive-notice',
              subjectType: 'mobile-id',
              subjectId: d.mobileId,
              detail: { rederiveAt: d.rederiveAt, deliveries },
            });
          }
        }),
    );
  }

  /**
   * The card management system reports a card cancelled: the card
   * can no longer derive, and every derived credential made from it is
   * cancelled and its certificates revoked. Repeating the report changes
   * nothing more; one cut short is finished by the repeat.
   */
  async cardCancelled(caller: Caller, report: CardReport): Promise<CardCancellation> {
    const reason = (report.reason ?? 'cessationOfOperation') as RevocationReason;
    if (!(CARD_CANCEL_REASONS as readonly string[]).includes(reason))
      throw new IdentityError('bad_request', `reason must be one of ${CARD_CANCEL_REASONS.join(', ')}`);
    const card = this.reportedCard(report);
    return this.lock.run(card.fingerprint ?? `${card.issuer}\n${card.serial}`, async () => {
      const found = card.fingerprint ? await this.deps.derived.cardByFingerprint(card.fingerprint) : undefined;
      let record = found ?? (await this.bySerial(card.issuer, card.serial));
      let alreadyCancelled = record?.status === 'cancelled';
      await this.deps.db.transaction(async (trx) => {
        if (!record) {
          // Never seen here: recorded, so the card cannot derive from now on.
          const id = randomUUID();
          await this.deps.derived.insertCard(trx, {
            id,
            issuer: card.issuer,
            serial: card.serial,
            fingerprint: card.fingerprint,
            subject: card.subject,
            notAfter: card.notAfter,
            userId: null,
            status: 'active',
          });
          record = (await this.deps.derived.card(id, trx))!;
        }
        if (await this.deps.derived.cancelCard(trx, record.id, reason, caller.actor)) {
          await this.deps.audit.append(trx, {
            actor: caller.actor,
            action: 'piv-card.cancel',
            subjectType: 'piv-card',
            subjectId: record.id,
            reason: report.note ?? null,
            detail: { issuer: record.issuer, serial: record.serial, fingerprint: record.fingerprint, revocationReason: reason },
          });
        } else {
          alreadyCancelled = true;
        }
      });
      // The card is refused from here on; now what was derived from it.
      const cancelled: string[] = [];
      const revoked: string[] = [];
      for (const d of await this.deps.derived.list({ cardId: record!.id, limit: 1000 })) {
        if (d.status === 'cancelled') continue;
        const view = await this.ignoringRace(() =>
          this.deps.lifecycle.cancel(caller, d.mobileId, { reason, note: report.note ?? 'the PIV card it was derived from was cancelled' }),
        );
        if (!view) continue;
        cancelled.push(d.mobileId);
        revoked.push(...view.serials);
      }
      const after = (await this.deps.derived.card(record!.id))!;
      this.deps.log.info({ cardSerial: after.serial, cancelled: cancelled.length, revoked: revoked.length, alreadyCancelled }, 'PIV card reported cancelled');
      return {
        card: { issuer: after.issuer, serial: after.serial, fingerprint: after.fingerprint, status: 'cancelled', cancelledAt: after.cancelledAt },
        alreadyCancelled,
        cancelled,
        revoked,
      };
    });
  }

  /** Derived credentials of a user (admin view), newest first. */
  async listFor(userId: string): Promise<(DerivedCredential & { card: Pick<PivCardRecord, 'issuer' | 'serial' | 'fingerprint' | 'status'> })[]> {
    const list = await this.deps.derived.list({ userId, limit: 200 });
    const cards = new Map<string, PivCardRecord | undefined>();
    for (const d of list) if (!cards.has(d.cardId)) cards.set(d.cardId, await this.deps.derived.card(d.cardId));
    return list.map((d) => {
      const c = cards.get(d.cardId)!;
      return { ...d, card: { issuer: c.issuer, serial: c.serial, fingerprint: c.fingerprint, status: c.status } };
    });
  }

  private async cardRecord(card: PivCard): Promise<PivCardRecord | undefined> {
    return (await this.deps.derived.cardByFingerprint(card.fingerprint)) ?? this.bySerial(card.issuer, card.serial);
  }

  private async bySerial(issuer: string, serial: string): Promise<PivCardRecord | undefined> {
    const key = dnKey(issuer);
    return (await this.deps.derived.cardsBySerial(serial)).find((c) => dnKey(c.issuer) === key);
  }

  /** The card a report names: its certificate (PEM), or issuer and serial. */
  private reportedCard(report: CardReport): { issuer: string; serial: string; fingerprint: string | null; subject: string | null; notAfter: number | null } {
    try {
      if (report.certificate !== undefined) {
        if (report.issuer !== undefined || report.serial !== undefined)
          throw new IdentityError('bad_request', "give the card's certificate, or its issuer and serial, not both");
        const der = /-----BEGIN CERTIFICATE-----/.test(report.certificate)
          ? Buffer.from(report.certificate.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, ''), 'base64')
          : Buffer.alloc(0);
        const c = readPivCard(der);
        return { issuer: c.issuer, serial: c.serial, fingerprint: c.fingerprint, subject: c.subject, notAfter: c.notAfter };
      }
      if (report.issuer === undefined || report.serial === undefined)
        throw new IdentityError('bad_request', "give the card's certificate (PEM), or its issuer (DN) and serial (hex)");
      const serial = report.serial.replace(/[\s:]/g, '');
      if (!/^[0-9a-fA-F]{1,64}$/.test(serial))
        throw new IdentityError('bad_request', 'serial must be the certificate serial number in hex (colons allowed), at most 64 digits');
      dnKey(report.issuer);
      return { issuer: report.issuer.trim(), serial: normalizeSerialHex(serial), fingerprint: null, subject: null, notAfter: null };
    } catch (err) {
      if (err instanceof PivCardError) throw new IdentityError('bad_request', err.message);
      throw err;
    }
  }

  /** The person the card names, by the first of derivedCredentials.match that finds exactly one. */
  private async match(card: PivCard): Promise<Person> {
    const tried: string[] = [];
    for (const field of this.deps.config.match) {
      for (const value of field === 'upn' ? card.upns : card.emails) {
        const people = await this.deps.people.byDirectoryName(field, value);
        if (people.length === 1) return people[0]!;
        if (people.length > 1)
          throw new IdentityError(
            'forbidden',
            `${people.length} users have the ${field === 'upn' ? 'UPN' : 'email address'} ${value} on this card; ask your administrator to make it unique`,
          );
        tried.push(`${field === 'upn' ? 'UPN' : 'email'} ${value}`);
      }
    }
    if (tried.length === 0)
      throw new IdentityError(
        'forbidden',
        `this card names no ${this.deps.config.match.map((f) => (f === 'upn' ? 'UPN' : 'email address')).join(' or ')} in its subjectAltName to find you by`,
      );
    throw new IdentityError('forbidden', `no user has the ${tried.join(' or ')} on this card; ask your administrator to add you`);
  }

  /** Runs a lifecycle change that someone else may have made first (a conflict then means it is done). */
  private async ignoringRace<T>(change: () => Promise<T>): Promise<T | undefined> {
    try {
      return await change();
    } catch (err) {
      if (err instanceof IdentityError && err.kind === 'conflict') return undefined;
      throw err;
    }
  }
}
