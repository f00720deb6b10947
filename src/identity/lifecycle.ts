/**
 * Working with issued mobile IDs: cancel (revoke every certificate of the
 * credential, cancel the device), replace (cancel, then a new request),
 * disable and enable (certificateHold and its release), unlock (the app's
 * challenge → the operator's response code), and renewal notices before the
 * certificates expire. Each change is audited in the transaction that makes
 * it; each certificate's status change is audited by the revoker.
 */
import { createHmac } from 'node:crypto';
import type { MobileConfig } from '../config/schema.js';
import { durationMs } from '../config/duration.js';
import { REVOCATION_REASONS, type RevocationReason } from '../pki/revocation.js';
import { StatusChangeError } from '../pki/revoker.js';

import type { MobileId, MobileIdStatus } from '../store/mobile-ids.js';
import { IdentityError } from './errors.js';
import { noticeRound, type Notifications, type NotifyChoice } from './notifications.js';
import { isDerived, mayAct, type MobileStores } from './profiles.js';
import type { Caller, IssuedCode, MobileIdView, RequestService } from './requests.js';

const CHALLENGE = /^[A-Za-z0-9]{8,64}$/;

/** The response to an unlock challenge: 8 digits from the mobile ID's unlock key, which the app also holds. */
export function unlockResponse(unlockKey: Buffer, challenge: string): string {
  const mac = createHmac('sha256', unlockKey).update(`unlock challenge\n${challenge.toUpperCase()}`).digest();
  return String(mac.readUInt32BE(0) % 100_000_000).padStart(8, '0');
}

export class LifecycleService {
  constructor(
    private readonly deps: MobileStores & {
      requests: RequestService;
      notifications: Notifications;
      unlockKey: (mobileId: string) => Buffer;
      renewal: MobileConfig['renewal'];
    },
  ) {}

  /** The mobile ID, if the caller's scope reaches its holder; one out of scope is answered as one that does not exist. */
  private async load(caller: Caller, id: string): Promise<MobileId> {
    const m = await this.deps.mobileIds.get(id, this.deps.db, (await this.deps.requests.rolesOf(caller)).filter);
    if (!m) throw new IdentityError('not_found', `no mobile ID ${id}`);
    return m;
  }

  /** Revokes every certificate the mobile ID received and cancels it and its device; also ends a request that was never collected. */
  async cancel(caller: Caller, id: string, opts: { reason?: string; note?: string } = {}): Promise<MobileIdView> {
    const reason = (opts.reason ?? 'cessationOfOperation') as RevocationReason;
    if (!REVOCATION_REASONS.includes(reason) || reason === 'removeFromCRL' || reason === 'certificateHold') {
      throw new IdentityError(
        'bad_request',
        `reason must be one of ${REVOCATION_REASONS.filter((r) => r !== 'removeFromCRL' && r !== 'certificateHold').join(', ')}`,
      );
    }
    const m = await this.load(caller, id);
    if (m.status === 'cancelled') throw new IdentityError('conflict', `mobile ID ${id} is already cancelled`);
    // Certificates first: a cancel cut short leaves the mobile ID as it was, to be cancelled again.
    const revoked = await this.changeCertificates(m.serials, (serial) =>
      this.deps.revoker.revoke(serial, reason, caller.actor, opts.note ?? `mobile ID ${id} cancelled`),
    );
    const cancelDevice =
      m.deviceId !== null &&
      (m.status === 'issued' || m.status === 'disabled' || m.status === 'collecting') &&
      !(await this.deviceHoldsAnother(m.deviceId, id));
    await this.deps.db.transaction(async (trx) => {
      const from = ['awaiting-validation', 'ready', 'collecting', 'issued', 'disabled', 'locked'] as MobileIdStatus[];
      if (!(await this.deps.mobileIds.transition(trx, id, from, 'cancelled'))) throw new IdentityError('conflict', `mobile ID ${id} was cancelled meanwhile`);
      await this.deps.sessions.endFor(trx, id);
      if (cancelDevice) await this.deps.devices.setStatus(trx, m.deviceId!, 'cancelled');
      await this.deps.audit.append(trx, {
        actor: caller.actor,
        action: 'mobile-id.cancel',
        subjectType: 'mobile-id',
        subjectId: id,
        reason: opts.note ?? null,
        detail: { from: m.status, revocationReason: reason, revoked },
      });
    });
    this.deps.log.info({ mobileId: id, revoked }, 'mobile ID cancelled');
    return (await this.deps.requests.get(id, caller))!;
  }

  /** A device stays issued while another mobile ID is on it (a derived credential re-derived on the same phone). */
  private async deviceHoldsAnother(deviceId: string, id: string): Promise<boolean> {
    const on = await this.deps.mobileIds.list({ deviceId, limit: 100 });
    return on.some((o) => o.id !== id && (o.status === 'issued' || o.status === 'disabled' || o.status === 'collecting'));
  }

  /** Cancels the mobile ID and requests a new one for the same person and profile. */
  async replace(
    caller: Caller,
    id: string,
    opts: { reason?: string; note?: string; notify?: NotifyChoice; qr?: boolean } = {},
  ): Promise<{ cancelled: MobileIdView; replacement: IssuedCode }> {
    const m = await this.load(caller, id);
    const profile = this.deps.profiles[m.credentialProfile];
    if (profile && isDerived(profile))
      throw new IdentityError(
        'bad_request',
        `mobile ID ${id} is a derived credential: it is not replaced or renewed; its holder derives a new one with their PIV card at /derived/, which supersedes it`,
      );
    const cancelled =
      m.status === 'cancelled' ? (await this.deps.requests.get(id, caller))! : await this.cancel(caller, id, { ...opts, note: opts.note ?? `replaced` });
    const replacement = await this.deps.requests.request(caller, {
      user: m.userId,
      credentialProfile: m.credentialProfile,
      replaces: id,
      ...(opts.notify && { notify: opts.notify }),
      ...(opts.qr !== undefined && { qr: opts.qr }),
    });
    return { cancelled, replacement };
  }

  /** Suspends the certificates (certificateHold); enable releases them. */
  async disable(caller: Caller, id: string, note?: string): Promise<MobileIdView> {
    return this.holdOrRelease(caller, id, 'disable', note);
  }

  async enable(caller: Caller, id: string, note?: string): Promise<MobileIdView> {
    return this.holdOrRelease(caller, id, 'enable', note);
  }

  private async holdOrRelease(caller: Caller, id: string, action: 'disable' | 'enable', note?: string): Promise<MobileIdView> {
    const m = await this.load(caller, id);
    const [from, to]: [MobileIdStatus, MobileIdStatus] = action === 'disable' ? ['issued', 'disabled'] : ['disabled', 'issued'];
    if (m.status !== from) throw new IdentityError('conflict', `mobile ID ${id} is ${m.status}; only ${from} mobile IDs can be ${action}d`);
    const changed = await this.changeCertificates(m.serials, (serial) =>
      action === 'disable' ? this.deps.revoker.hold(serial, caller.actor, note) : this.deps.revoker.release(serial, caller.actor, note),
    );
    await this.deps.db.transaction(async (trx) => {
      if (!(await this.deps.mobileIds.transition(trx, id, [from], to))) throw new IdentityError('conflict', `mobile ID ${id} was changed meanwhile`);
      await this.deps.audit.append(trx, {
        actor: caller.actor,
        action: `mobile-id.${action}`,
        subjectType: 'mobile-id',
        subjectId: id,
        reason: note ?? null,
        detail: { certificates: changed },
      });
    });
    return (await this.deps.requests.get(id, caller))!;
  }

  /** Applies a status change to each certificate; one already in the target state is skipped (a repeated call). */
  private async changeCertificates(serials: string[], change: (serial: string) => Promise<unknown>): Promise<string[]> {
    const done: string[] = [];
    for (const serial of serials) {
      try {
        await change(serial);
        done.push(serial);
      } catch (err) {
        if (!(err instanceof StatusChangeError && err.kind === 'conflict')) throw err;
      }
    }
    return done;
  }

  /** The operator's half of an unlock: the response to the challenge the app shows. */
  async unlock(caller: Caller, id: string, challenge: unknown): Promise<{ response: string }> {
    if (typeof challenge !== 'string' || !CHALLENGE.test(challenge))
      throw new IdentityError('bad_request', 'challenge is required: the 8 to 64 letters and digits the Identity Agent shows');
    const { roles, filter } = await this.deps.requests.rolesOf(caller);
    const m = await this.deps.mobileIds.get(id, this.deps.db, filter);
    if (!m) throw new IdentityError('not_found', `no mobile ID ${id}`);
    const profile = this.deps.profiles[m.credentialProfile];
    if (!profile || !mayAct(profile, 'unlock', roles))
      throw new IdentityError(
        'forbidden',
        `${caller.name} may not unlock "${m.credentialProfile}" mobile IDs${profile ? ` (roles: ${profile.roles.unlock.join(', ')})` : ''}`,
      );
    if (m.status !== 'issued') throw new IdentityError('conflict', `mobile ID ${id} is ${m.status}; only issued mobile IDs can be unlocked`);
    const response = unlockResponse(this.deps.unlockKey(id), challenge);
    await this.deps.audit.append(this.deps.db, { actor: caller.actor, action: 'mobile-id.unlock', subjectType: 'mobile-id', subjectId: id });
    return { response };
  }

  /** Tells each person whose mobile ID expires within renewal.noticeBefore, once per mobile ID; derived credentials get re-derive notices instead. */
  async sendRenewalNotices(now = Date.now()): Promise<{ notified: number; failed: number }> {
    const derived = Object.values(this.deps.profiles)
      .filter(isDerived)
      .map((p) => p.name);
    const due = await this.deps.mobileIds.dueForRenewalNotice(now + durationMs(this.deps.renewal.noticeBefore), derived);
    return noticeRound(
      due,
      async (m) => {
        const person = await this.deps.people.get(m.userId);
        if (!person || m.notAfter === null) return undefined;
        return this.deps.notifications.renewalNotice(person, this.deps.renewal.channels, {
          profile: m.credentialProfile,
          notAfter: new Date(m.notAfter).toUTCString(),
          days: String(Math.max(0, Math.ceil((m.notAfter - now) / 86_400_000))),
          requestId: m.id,
        });
      },
      (m, deliveries) =>
        this.deps.db.transaction(async (trx) => {
          if (await this.deps.mobileIds.markRenewalNotice(trx, m.id, now)) {
            await this.deps.audit.append(trx, {
              actor: 'renewal',
              action: 'mobile-id.renewal-notice',
              subjectType: 'mobile-id',
              subjectId: m.id,
              detail: { notAfter: m.notAfter, deliveries },
            });
          }
        }),
    );
  }
}
