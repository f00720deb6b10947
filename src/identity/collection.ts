/**
 * Collection by the Identity Agent (/mobile/v1): a session starts with the
 * request id (or user name), the one-time code and the device's facts; the
 * session then fetches one PKCS#12 per certificate for the key stores the
 * device has, and acknowledges, which makes the mobile ID and the device
 * issued. Which request a code opens, and what a wrong one counts towards,
 * is request-opener.ts's; a code works once; past the session limit every
 * new session gets 503 with Retry-After.
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { CERTIFICATE_CONTAINERS, type MobileConfig } from '../config/schema.js';
import { durationMs } from '../config/duration.js';
import { IssuanceError, type IssuedCertificate, type Issuer } from '../pki/issuer.js';
import type { KeyRecovery } from '../pki/key-recovery.js';
import { buildPkcs12, type Pkcs12Format } from '../pki/pkcs12.js';
import type { CertificatePurpose } from '../pki/presets.js';

import type { CertificateRecord } from '../store/certificates.js';
import { PLATFORMS } from '../store/devices.js';
import type { MobileId } from '../store/mobile-ids.js';
import type { MobileSession } from '../store/mobile-sessions.js';
import type { Person } from '../store/people.js';
import { KeyedLock } from '../util/keyed-lock.js';
import type { Badge, Badges } from './badges.js';
import { CITRIX_CONTAINER, citrixEmailWarning, forCitrix } from './citrix-email.js';
import { describeIssues, SERIAL } from './directory.js';
import { IdentityError } from './errors.js';
import type { EscrowedKeys } from './escrowed-keys.js';
import type { CodeMac } from './otp.js';
import { slotName, templateData, type MobileProfile, type MobileStores, type UnmanagedSlot } from './profiles.js';
import { RequestOpener } from './request-opener.js';
import { MYID_REFUSALS } from './requests.js';
import type { UnmanagedCertificates } from './unmanaged-certificates.js';

const SESSION_PURPOSE = 'mobile session';
/** A PIV card holds up to 20 retired key management keys (SP 800-73); AppConnect receives as many older decryption keys. */
const MAX_RETIRED_KEYS = 20;
/** Keys revoked for these reasons are not handed out again, even to read old mail. */
const COMPROMISED = ['keyCompromise', 'cACompromise', 'aACompromise'];
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
const CONTROL = /[\u0000-\u001f\u007f]/;
const fact = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .refine((s) => !CONTROL.test(s), { message: 'must not contain control characters' });

/** Key stores a device may report; the Identity Agent's own store (container "none") is always there. */
const KEY_STORES = CERTIFICATE_CONTAINERS.filter((c) => c !== 'none');

const sessionStart = z
  .strictObject({
    request: z.uuid({ message: 'expected the request id (a UUID)' }).optional(),
    userName: fact(191).optional(),
    code: z.string().max(64),
    device: z.strictObject({
      serial: z
        .string()
        .trim()
        .regex(SERIAL, { message: 'expected 3 to 64 letters, digits or dashes' })
        .transform((s) => s.toUpperCase()),
      platform: z.preprocess((v) => (typeof v === 'string' ? v.toLowerCase() : v), z.enum(PLATFORMS)),
      model: fact(128).optional(),
      osVersion: fact(64).optional(),
      keyStores: z.array(z.enum(KEY_STORES)).max(KEY_STORES.length).default([]),
    }),
  })
  .refine((s) => (s.request === undefined) !== (s.userName === undefined), { message: 'give either request (the request id) or userName' });

export type SessionStart = z.infer<typeof sessionStart>;

export interface StartedSession {
  token: string;
  expiresAt: number;
  mobileId: string;
  credentialProfile: string;
  authentication: string[];
}

export interface CollectedCredential {
  serial: string;
  template: string;
  container: string;
  /**
   * new: issued now; existing: the user's current escrowed certificate;
   * historic: an earlier one, to read old mail; unmanaged: the user's
   * uploaded certificate issued elsewhere (`template` is "unmanaged:<purpose>").
   */
  kind: 'new' | 'existing' | 'historic' | 'unmanaged';
  /** What the credential is for: the tag MobileIron AppConnect files it under (historic ones are older decryption keys). */
  tag: CertificatePurpose;
  subject: string;
  notAfter: string;
  format: Pkcs12Format;
  pkcs12: string;
  password: string;
}

export interface Collected {
  credentials: CollectedCredential[];
  /** Certificates of the profile this device has no key store for: left out, the rest still delivered. */
  skipped: { template: string; container: string }[];
  /** Lets the app check the operator's unlock response to its own challenge. */
  unlockKey: string;
  authentication: string[];
  /** The badges the profile names, default first: structured data the app draws, and a rendered PNG (badges.ts). */
  badges: Badge[];
}

export class CollectionService {
  // Count-then-insert of sessions, serialised in this process so the limit holds here exactly.
  private readonly sessionLock = new KeyedLock();
  private readonly issuedListeners: ((mobileId: string) => Promise<unknown>)[] = [];
  private readonly opener: RequestOpener;

  constructor(
    private readonly deps: MobileStores & {
      issuer: Issuer;
      recovery: KeyRecovery;
      keys: EscrowedKeys;
      /** Uploaded certificates issued elsewhere, for `unmanaged` slots. */
      unmanaged: UnmanagedCertificates;
      mac: CodeMac;
      /** Secret behind unlock keys (derived from the master key). */
      unlockSecret: Buffer;
      config: MobileConfig;
      /** Fills and renders the profile's badges; without it mobile IDs carry none. */
      badges?: Badges;
    },
  ) {
    this.opener = new RequestOpener(deps);
  }

  policy() {
    const p = this.deps.config.policy;
    return {
      logLevel: p.logLevel,
      maxLogFiles: p.maxLogFiles,
      maxLogStorageMb: p.maxLogStorageMb,
      ...(p.adminEmail && { adminEmail: p.adminEmail }),
      maxRetries: p.maxRetries,
      minRetryDelaySeconds: Math.ceil(durationMs(p.minRetryDelay) / 1000),
    };
  }

  /** The key an issued mobile ID's app checks unlock responses with. */
  unlockKey(mobileId: string): Buffer {
    return createHmac('sha256', this.deps.unlockSecret).update(`unlock\n${mobileId}`).digest();
  }

  async start(input: unknown): Promise<StartedSession> {
    await this.checkCapacity();
    const parsed = sessionStart.safeParse(input);
    if (!parsed.success) throw new IdentityError('bad_request', describeIssues(parsed.error).join('; '));
    const s = parsed.data;
    const claim = { code: s.code, serial: s.device.serial };
    const { m, profile, person } = s.request ? await this.opener.byRequest(s.request, claim) : await this.opener.byUserName(s.userName!, claim);

    // Restrictions are checked after the code, so they tell nothing to someone guessing codes, and before the claim, so a refused device does not use up the code.
    const known = await this.deps.devices.bySerial(s.device.serial);
    if (profile.deviceRestriction === 'known' && !known)
      throw new IdentityError(
        'forbidden',
        `this mobile ID can only be collected on a registered device, and device ${s.device.serial} is not registered; ask your administrator to register it`,
      );
    if (profile.deviceRestriction === 'mine' && known?.ownerId !== person.id)
      throw new IdentityError(
        'forbidden',
        `this mobile ID can only be collected on a device registered to ${person.userName}, and device ${s.device.serial} is not`,
      );

    return this.sessionLock.run('sessions', async () => {
      await this.checkCapacity();
      const token = randomBytes(32).toString('hex');
      const expiresAt = Date.now() + durationMs(this.deps.config.sessionTtl);
      const deviceId = known?.id ?? randomUUID();
      await this.deps.db.transaction(async (trx) => {
        if (!(await this.deps.mobileIds.claim(trx, m.id, deviceId))) throw new IdentityError('gone', 'this one-time code has already been used');
        const facts = {
          serial: s.device.serial,
          platform: s.device.platform,
          model: s.device.model ?? known?.model ?? null,
          osVersion: s.device.osVersion ?? known?.osVersion ?? null,
        };
        if (known) await this.deps.devices.update(trx, known.id, { ...facts, ownerId: known.ownerId });
        else await this.deps.devices.insert(trx, deviceId, { ...facts, ownerId: null });
        await this.deps.sessions.insert(trx, {
          id: randomUUID(),
          tokenDigest: this.deps.mac.digest(SESSION_PURPOSE, '', token),
          mobileId: m.id,
          deviceId,
          keyStores: s.device.keyStores,
          expiresAt,
        });
        await this.deps.audit.append(trx, {
          actor: `mobile-device:${s.device.serial}`,
          action: 'mobile-id.session',
          subjectType: 'mobile-id',
          subjectId: m.id,
          detail: { deviceId, ...facts, keyStores: s.device.keyStores },
        });
      });
      this.deps.log.info({ mobileId: m.id, serial: s.device.serial }, 'Identity Agent session started');
      return { token, expiresAt, mobileId: m.id, credentialProfile: profile.name, authentication: profile.authentication };
    });
  }

  /** 503 when mobile issuance is off or the maximum session count is reached; sessions are counted only when there is a limit. */
  private async checkCapacity(): Promise<void> {
    const max = this.deps.config.maxSessions;
    const retryAfter = Math.ceil(durationMs(this.deps.config.retryAfter) / 1000);
    if (!this.deps.config.enabled || max === 0) throw new IdentityError('unavailable', 'mobile issuance is turned off on this server', retryAfter);
    if (max < 0) return;
    const active = await this.deps.sessions.countActive();
    if (active >= max) {
      this.deps.log.warn({ active, max }, 'Identity Agent session refused: maximum session count reached');
      throw new IdentityError('unavailable', 'the server is busy; try again later', retryAfter);
    }
  }

  private async session(token: string): Promise<{ session: MobileSession; m: MobileId; profile: MobileProfile }> {
    const session = /^[0-9a-f]{64}$/.test(token) ? await this.deps.sessions.active(this.deps.mac.digest(SESSION_PURPOSE, '', token)) : undefined;
    if (!session) throw new IdentityError('unauthorized', 'the session token is unknown or expired; start a new session');
    const m = (await this.deps.mobileIds.get(session.mobileId))!;
    if (m.status !== 'collecting') throw new IdentityError('gone', `this mobile ID is ${m.status}`);
    const profile = this.deps.profiles[m.credentialProfile];
    if (!profile) throw new IdentityError('conflict', `credential profile "${m.credentialProfile}" is no longer configured`);
    return { session, m, profile };
  }

  /** Issues (or recovers) the profile's certificates for the key stores this device has; once per session. */
  async fetch(token: string): Promise<Collected> {
    const { session, m, profile } = await this.session(token);
    if (!(await this.deps.sessions.markFetched(this.deps.db, session.id)))
      throw new IdentityError('conflict', 'the credentials of this session were already delivered; acknowledge them, or ask for a new mobile ID');
    const person = (await this.deps.people.get(m.userId))!;
    const device = (await this.deps.devices.get(session.deviceId))!;
    const format: Pkcs12Format = device.platform === 'ios' ? 'apple' : 'modern';
    const stores = new Set<string>(['none', ...session.keyStores]);
    const wanted = profile.certificates.filter((c) => stores.has(c.container));
    const skipped = profile.certificates.filter((c) => !stores.has(c.container)).map((c) => ({ template: slotName(c), container: c.container }));
    const citrixWarning = wanted.some((c) => c.container === CITRIX_CONTAINER) ? citrixEmailWarning(person) : undefined;
    if (citrixWarning) this.deps.log.warn({ mobileId: m.id, userId: person.id }, citrixWarning);

    const issued: IssuedCertificate[] = [];
    const credentials: CollectedCredential[] = [];
    let badges: Badge[] = [];
    const actor = `mobile-id:${m.id}`;
    try {
      for (const c of wanted) {
        if (c.unmanaged !== undefined) {
          credentials.push(await this.uploaded(person, c, format, actor));
          continue;
        }
        // AppConnect takes older keys as extra entries of its encryption credential, by default; elsewhere they are historic certificates.
        const retiredKeys = c.container === 'mobileiron-appconnect' && c.purpose === 'encryption' && c.includeHistoric !== false;
        const slot = async () => {
          const plan = await this.deps.keys.delivery(person.id, { ...c, includeHistoric: !retiredKeys && c.includeHistoric });
          if (plan.existing) credentials.push(await this.recovered(plan.existing, 'existing', c, format, actor));
          if (plan.issue) {
            const data = templateData(person, device);
            const i = await this.deps.issuer.issue({
              template: c.template,
              data: c.container === CITRIX_CONTAINER ? forCitrix(data) : data,
              userId: person.id,
              deviceId: device.id,
              actor,
              reason: `mobile ID ${m.id}`,
            });
            issued.push(i);
            const password = randomBytes(18).toString('base64url');
            const pkcs12 = buildPkcs12({ key: i.privateKey!, cert: i.der, chain: i.chain, password, friendlyName: i.record.subject, format });
            credentials.push({
              serial: i.record.serial,
              template: c.template,
              container: c.container,
              kind: 'new',
              tag: c.purpose,
              subject: i.record.subject,
              notAfter: new Date(i.record.notAfter).toISOString(),
              format,
              pkcs12: pkcs12.toString('base64'),
              password,
            });
          }
          return plan;
        };
        // Reuse-or-issue of the person's current certificate runs under their lock, as on every path (escrowed-keys.ts).
        const plan = c.historic === 'use-existing' ? await this.deps.keys.exclusive(person.id, c.template, slot) : await slot();
        const delivered = [plan.existing?.serial, ...issued.map((i) => i.record.serial)];
        const older = retiredKeys ? await this.retiredKeysOf(person.id, c.template, delivered) : plan.historic;
        for (const old of older) credentials.push(await this.recovered(old, 'historic', c, format, actor));
      }
      const serials = issued.map((i) => i.record.serial);
      // Made before the delivery commits, so a badge that cannot be made revokes what was issued, like any other failure here.
      const current = credentials.filter((c) => c.kind !== 'historic').map((c) => Date.parse(c.notAfter));
      badges = this.deps.badges
        ? await this.deps.badges.forProfile(profile, person, { mobileId: m.id, expires: current.length ? Math.min(...current) : null })
        : [];
      // The renewal notice goes before the first certificate expires, an upload issued elsewhere included: the person then needs a newer one.
      const expiries = [...issued.map((i) => i.record.notAfter), ...credentials.filter((c) => c.kind === 'unmanaged').map((c) => Date.parse(c.notAfter))];
      await this.deps.db.transaction(async (trx) => {
        if (!(await this.deps.mobileIds.recordIssued(trx, m.id, serials, expiries.length ? Math.min(...expiries) : null))) {
          throw new IdentityError('gone', 'this mobile ID was cancelled while its certificates were being issued');
        }
        await this.deps.audit.append(trx, {
          actor: `mobile-device:${device.serial}`,
          action: 'mobile-id.deliver',
          subjectType: 'mobile-id',
          subjectId: m.id,
          detail: {
            issued: serials,
            delivered: credentials.map((c) => ({ serial: c.serial, kind: c.kind })),
            skipped,
            badges: badges.map((b) => b.layout),
          },
        });
      });
    } catch (err) {
      // Nothing half-delivered stays valid: certificates issued before the failure are revoked, and the session may fetch again.
      for (const i of issued) await this.deps.revoker.revoke(i.record.serial, 'superseded', actor, 'collection failed').catch(() => undefined);
      await this.deps.sessions.releaseFetch(session.id);
      if (err instanceof IssuanceError) throw new IdentityError('bad_request', `the certificates could not be issued: ${err.message}`);
      throw err;
    }
    if (badges.some((b) => b.elements.some((e) => e.type === 'photo' && !e.image)))
      this.deps.log.warn(
        { mobileId: m.id, userId: person.id },
        "the mobile ID's badge has a place for a photo, but the person has none: set one (PUT /api/v1/users/{ref}/photo) and replace the mobile ID",
      );
    this.deps.log.info({ mobileId: m.id, delivered: credentials.length, skipped: skipped.length }, 'mobile ID credentials delivered');
    return { credentials, skipped, unlockKey: this.unlockKey(m.id).toString('base64url'), authentication: profile.authentication, badges };
  }

  /**
   * Work to do once a mobile ID is issued (a derived credential supersedes the
   * previous one). It runs before the acknowledgement is answered; a failure
   * is logged, not answered, and left to the listener's own sweep.
   */
  onIssued(listener: (mobileId: string) => Promise<unknown>): void {
    this.issuedListeners.push(listener);
  }

  /** The app has stored what it fetched: the mobile ID and the device are issued. */
  async acknowledge(token: string): Promise<{ mobileId: string; status: 'issued' }> {
    const { session, m } = await this.session(token);
    if (session.fetchedAt === null) throw new IdentityError('conflict', 'fetch the credentials before acknowledging them');
    await this.deps.db.transaction(async (trx) => {
      if (!(await this.deps.mobileIds.transition(trx, m.id, ['collecting'], 'issued', { issuedAt: Date.now() })))
        throw new IdentityError('conflict', 'this mobile ID was changed meanwhile');
      const device = (await this.deps.devices.get(session.deviceId, trx))!;
      await this.deps.devices.update(trx, device.id, { ...device, ownerId: device.ownerId ?? m.userId });
      await this.deps.devices.setStatus(trx, device.id, 'issued');
      await this.deps.sessions.end(trx, session.id);
      await this.deps.audit.append(trx, {
        actor: `mobile-device:${device.serial}`,
        action: 'mobile-id.issue',
        subjectType: 'mobile-id',
        subjectId: m.id,
        detail: { deviceId: device.id, serials: m.serials },
      });
    });
    for (const listener of this.issuedListeners) {
      await listener(m.id).catch((err: unknown) =>
        this.deps.log.error({ err, mobileId: m.id }, 'work after issuing a mobile ID failed; it is retried on the next sweep'),
      );
    }
    return { mobileId: m.id, status: 'issued' };
  }

  /**
   * Older decryption keys for AppConnect, newest first: every escrowed key of
   * the template but those delivered now, expired or superseded too (old mail
   * was encrypted to them), unless revoked as compromised.
   */
  private async retiredKeysOf(userId: string, template: string, delivered: (string | undefined)[]): Promise<CertificateRecord[]> {
    const all = await this.deps.certificates.list({ userId, template, limit: 1000 });
    return all
      .filter((c) => c.keyEscrowed && !delivered.includes(c.serial) && !(c.status === 'revoked' && COMPROMISED.includes(c.revocationReason ?? '')))
      .sort((a, b) => b.notAfter - a.notAfter)
      .slice(0, MAX_RETIRED_KEYS);
  }

  /** The person's current upload for an unmanaged slot, re-exported for this device; refused when it was deleted or expired since the request. */
  private async uploaded(person: Person, slot: UnmanagedSlot, format: Pkcs12Format, actor: string): Promise<CollectedCredential> {
    const found = await this.deps.unmanaged.current(person.id, slot.unmanaged);
    if (!found || found.record.notAfter <= Date.now())
      throw new IdentityError(
        'conflict',
        `${MYID_REFUSALS.noCertificates} ${person.userName} no longer has a valid uploaded ${slot.unmanaged} certificate; an administrator must upload one before this mobile ID can be collected`,
      );
    const password = randomBytes(18).toString('base64url');
    const pkcs12 = await this.deps.unmanaged.export(found.upload, { password, format, actor, reason: 'mobile ID unmanaged certificate' });
    return {
      serial: found.record.serial,
      template: slotName(slot),
      container: slot.container,
      kind: 'unmanaged',
      tag: slot.purpose,
      subject: found.record.subject,
      notAfter: new Date(found.record.notAfter).toISOString(),
      format,
      pkcs12: pkcs12.toString('base64'),
      password,
    };
  }

  private async recovered(
    c: CertificateRecord,
    kind: 'existing' | 'historic',
    slot: { container: string; purpose: CertificatePurpose },
    format: Pkcs12Format,
    actor: string,
  ): Promise<CollectedCredential> {
    const password = randomBytes(18).toString('base64url');
    const pkcs12 = await this.deps.recovery.export(c.serial, { password, format, actor, action: 'key.deliver', reason: `mobile ID ${kind} certificate` });
    if (!pkcs12) throw new Error(`escrowed key of ${c.serial} is missing`);
    return {
      serial: c.serial,
      template: c.template ?? '',
      container: slot.container,
      kind,
      tag: slot.purpose,
      subject: c.subject,
      notAfter: new Date(c.notAfter).toISOString(),
      format,
      pkcs12: pkcs12.toString('base64'),
      password,
    };
  }
}
