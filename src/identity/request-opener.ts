/**
 * Finds the request a one-time code opens when an Identity Agent session
 * starts. By request id, the random UUID the notification's link and QR code
 * carry with the code: a wrong code counts towards the request's lock, and
 * the refusal says how many attempts are left or why the request is closed.
 * By user name, which anyone may know: every refusal is the same answer after
 * the same queries and HMACs, whether or not the user exists or has a
 * request, and wrong codes never lock; after mobile.maxCodeAttempts of them
 * the request opens only by its id.
 */
import type { MobileConfig } from '../config/schema.js';
import type { MobileId, UsableCode } from '../store/mobile-ids.js';
import type { Person } from '../store/people.js';
import { IdentityError } from './errors.js';
import { type CodeMac, codeLength, normalizeCode } from './otp.js';
import type { MobileProfile, MobileStores } from './profiles.js';
import { CODE_PURPOSE } from './requests.js';

/** A refusal of the request or code given; the HTTP layer counts these per source address. */
export class CodeRefused extends IdentityError {}

export interface Opened {
  m: MobileId;
  profile: MobileProfile;
  person: Person;
}

export interface CodeClaim {
  code: string;
  /** The device's serial, for the audit trail. */
  serial: string;
}

/** Person ids are random (v4) UUIDs, so no one has this one: an unknown user name is looked up under it, at the same cost. */
const NOBODY = '00000000-0000-0000-0000-000000000000';

const NO_MATCH_BY_NAME =
  'no mobile ID waiting to be collected matches this user name and code; check the code, or open the link or scan the QR code that came with it';

export class RequestOpener {
  /** Compared with the code when a user name has no usable request, so that answer costs the same HMAC. */
  private readonly decoy: UsableCode;

  constructor(
    private readonly deps: Pick<MobileStores, 'db' | 'people' | 'mobileIds' | 'audit' | 'profiles' | 'log'> & {
      mac: CodeMac;
      config: Pick<MobileConfig, 'maxCodeAttempts'>;
    },
  ) {
    this.decoy = { id: NOBODY, credentialProfile: '', codeDigest: deps.mac.digest(CODE_PURPOSE, NOBODY, ''), failedNameAttempts: 0 };
  }

  /** The request `id` if `code` is its code; a wrong code counts towards its lock. */
  async byRequest(id: string, claim: CodeClaim): Promise<Opened> {
    const max = this.deps.config.maxCodeAttempts;
    const m = await this.deps.mobileIds.get(id);
    if (!m) throw new CodeRefused('not_found', 'unknown request; check the request id, or ask for a new mobile ID');
    const now = Date.now();
    if (m.status !== 'ready' || m.expiresAt <= now) throw this.closed(m, now);
    const profile = this.deps.profiles[m.credentialProfile];
    if (!profile) throw new CodeRefused('conflict', `credential profile "${m.credentialProfile}" is no longer configured; ask for a new mobile ID`);

    const digest = await this.deps.mobileIds.codeDigest(m.id, now);
    if (digest && normalizeCode(claim.code, codeLength(profile.otpComplexity)) && this.deps.mac.matches(CODE_PURPOSE, m.id, claim.code, digest)) {
      return { m, profile, person: (await this.deps.people.get(m.userId))! };
    }
    const r = await this.deps.mobileIds.recordWrongCode(m.id, max);
    if (r?.locked) {
      await this.deps.audit.append(this.deps.db, {
        actor: `mobile-device:${claim.serial}`,
        action: 'mobile-id.lock',
        subjectType: 'mobile-id',
        subjectId: m.id,
        detail: { attempts: r.attempts },
      });
      this.deps.log.warn({ mobileId: m.id, attempts: r.attempts }, 'mobile ID request locked after wrong codes');
      throw new CodeRefused('locked', `wrong code; the request is now locked after ${max} wrong codes; ask for a new mobile ID`);
    }
    // Not counted: a concurrent guess locked it or it changed meanwhile; the next attempt says which.
    const left = r && max - r.attempts;
    throw new CodeRefused(
      'unauthorized',
      `wrong code; ${left === undefined ? 'try again' : `${left} attempt${left === 1 ? '' : 's'} left before the request locks`}`,
    );
  }

  /**
   * The person's usable request whose code `code` is. Every way this fails
   * answers alike and does the same lookups, the same count of HMACs at
   * least, and the same counting statement.
   */
  async byUserName(userName: string, claim: CodeClaim): Promise<Opened> {
    const max = this.deps.config.maxCodeAttempts;
    const now = Date.now();
    const person = await this.deps.people.byUserName(userName);
    const personId = person?.id ?? NOBODY;
    const usable = await this.deps.mobileIds.usableCodes(personId, now);
    let found: { c: UsableCode; profile: MobileProfile } | undefined;
    for (const c of usable.length > 0 ? usable : [this.decoy]) {
      const matches = this.deps.mac.matches(CODE_PURPOSE, c.id, claim.code, c.codeDigest);
      const profile = this.deps.profiles[c.credentialProfile];
      if (matches && !found && c !== this.decoy && c.failedNameAttempts < max && profile && normalizeCode(claim.code, codeLength(profile.otpComplexity)))
        found = { c, profile };
    }
    const m = found && (await this.deps.mobileIds.get(found.c.id));
    if (found && m && person) return { m, profile: found.profile, person };

    await this.deps.mobileIds.recordWrongNameCode(personId, max, now);
    for (const c of usable.filter((u) => u.failedNameAttempts === max - 1)) {
      this.deps.log.warn({ mobileId: c.id, attempts: max }, 'mobile ID request no longer opens by user name after wrong codes; its request id still does');
    }
    throw new CodeRefused('unauthorized', NO_MATCH_BY_NAME);
  }

  /** Why a request named by its id cannot be opened now. */
  private closed(m: MobileId, now: number): CodeRefused {
    switch (m.status) {
      case 'locked':
        return new CodeRefused('locked', `this request is locked after ${this.deps.config.maxCodeAttempts} wrong codes; ask for a new mobile ID`);
      case 'awaiting-validation':
        return m.expiresAt <= now
          ? new CodeRefused('gone', 'this request has expired; ask for a new mobile ID')
          : new CodeRefused('conflict', 'this request is waiting to be validated; try again once it is');
      case 'ready':
        return new CodeRefused('gone', 'this request has expired; ask for a new mobile ID');
      case 'cancelled':
        return new CodeRefused('gone', 'this request was cancelled');
      default:
        return new CodeRefused('gone', 'this one-time code has already been used');
    }
  }
}
