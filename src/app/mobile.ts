/**
 * The mobile identities feature, built from configuration: the directory of
 * people and devices, requests and their notifications (SMTP, SMS gateway),
 * Identity Agent collection at /mobile/v1 (when mobile.enabled), the
 * lifecycle, their admin API, and the renewal-notice timer.
 */
import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { durationMs } from '../config/duration.js';
import { AddressThrottle } from '../http/address-throttle.js';
import { badgesRouter } from '../http/routes/badges.js';
import { directoryRouter } from '../http/routes/directory.js';
import { mobileAgentRouter } from '../http/routes/mobile-agent.js';
import { mobileIdsRouter } from '../http/routes/mobile-ids.js';
import { signingRouter } from '../http/routes/signing.js';
import type { PreparedLayout } from '../identity/badge-render.js';
import { Badges } from '../identity/badges.js';
import { CollectionService } from '../identity/collection.js';
import { Directory } from '../identity/directory.js';
import { HolderAssertions } from '../identity/holder-assertions.js';
import { HolderAuthenticator } from '../identity/holder-auth.js';
import { LifecycleService } from '../identity/lifecycle.js';
import { Photos } from '../identity/photos.js';
import { Messages } from '../identity/messages.js';
import { Notifications, type Senders } from '../identity/notifications.js';
import { CodeMac } from '../identity/otp.js';
import type { MobileProfile, ProfileSlot } from '../identity/profiles.js';
import { presetPurpose } from '../pki/presets.js';
import { RequestService } from '../identity/requests.js';
import { EmailSender } from '../notify/email.js';
import { SmsSender } from '../notify/sms.js';
import type { ContentSigning } from '../pki/content-signing.js';
import { DeviceRepository } from '../store/devices.js';
import { HolderProofRepository } from '../store/holder-proofs.js';
import { MessageTemplateRepository } from '../store/message-templates.js';
import { MobileIdRepository } from '../store/mobile-ids.js';
import { MobileSessionRepository } from '../store/mobile-sessions.js';
import { PersonRepository } from '../store/people.js';
import { loadContentSigning } from './content-signing.js';
import { PersonPhotoRepository } from '../store/person-photos.js';
import { sizeBytes } from '../config/duration.js';
import { refuse, StartupError, type SettingProblem } from './errors.js';
import { every, feature, type CoreServices, type Feature } from './feature.js';

export interface Mobile extends Feature {
  directory: Directory;
  requests: RequestService;
  collection: CollectionService;
  /** Failed Identity Agent session starts per source address. */
  sessionThrottle: AddressThrottle;
  lifecycle: LifecycleService;
  messages: Messages;
  notifications: Notifications;
  profiles: Record<string, MobileProfile>;
  /** The content-signing certificates and badge assertions; undefined when mobile.enabled is false. */
  signing: ContentSigning | undefined;
  assertions: HolderAssertions | undefined;
  photos: Photos;
  badges: Badges;
}

/** Settings that cannot work together are refused before anything serves: codes sent through a channel that is not configured. */
export function mobileProblems(config: Config): SettingProblem[] {
  const { otpDelivery } = config.mobile;
  const path = ['mobile', 'otpDelivery'];
  return [
    ...(otpDelivery === 'sms' && !config.notify.sms
      ? [{ path, message: 'mobile.otpDelivery is "sms", but notify.sms (the SMS gateway) is not configured' }]
      : []),
    ...(otpDelivery === 'email' && !config.notify.email ? [{ path, message: 'mobile.otpDelivery is "email", but notify.email (SMTP) is not configured' }] : []),
  ];
}

/**
 * Every credential profile must name templates that exist, and an
 * AppConnect certificate with older keys must be an encryption one: they are
 * delivered as extra encryption entries.
 */
export function credentialProfileProblems(config: Config): SettingProblem[] {
  return Object.entries(config.credentialProfiles).flatMap(([name, p]) =>
    p.certificates.flatMap((c, i): SettingProblem[] => {
      if (c.template === undefined) return [];
      const template = config.templates[c.template];
      if (!template) {
        return [
          {
            path: ['credentialProfiles', name, 'certificates', i, 'template'],
            message: `credentialProfiles.${name}.certificates[${i}].template: no template named "${c.template}" (configured: ${Object.keys(config.templates).join(', ')})`,
          },
        ];
      }
      const purpose = c.purpose ?? presetPurpose(template.preset);
      if (c.container !== 'mobileiron-appconnect' || c.includeHistoric !== true || purpose === 'encryption') return [];
      return [
        {
          path: ['credentialProfiles', name, 'certificates', i],
          message: `credentialProfiles.${name}.certificates[${i}]: includeHistoric on a mobileiron-appconnect certificate delivers older decryption keys, so it must be an encryption certificate; "${c.template}" is for ${purpose}`,
        },
      ];
    }),
  );
}

function checkMobileConfig(config: Config, log: Logger): void {
  refuse(mobileProblems(config));
  const { renewal } = config.mobile;
  // A deployment that sends nothing at all is not warned about each channel.
  const sendsAnything = config.notify.email !== undefined || config.notify.sms !== undefined;
  for (const channel of renewal.channels) {
    if (sendsAnything && !config.notify[channel])
      log.warn({ channel }, `mobile.renewal.channels names ${channel}, but notify.${channel} is not configured: no renewal notices go by ${channel}`);
  }
}

/** Credential profiles with each certificate's purpose settled. */
export function mobileProfiles(config: Config): Record<string, MobileProfile> {
  refuse(credentialProfileProblems(config));
  return Object.fromEntries(
    Object.entries(config.credentialProfiles).map(([name, p]) => {
      const certificates = p.certificates.map(
        (c): ProfileSlot =>
          c.unmanaged !== undefined
            ? { unmanaged: c.unmanaged, container: c.container, purpose: c.unmanaged }
            : { ...c, unmanaged: undefined, template: c.template!, purpose: c.purpose ?? presetPurpose(config.templates[c.template!]!.preset) },
      );
      return [name, { ...p, name, certificates }];
    }),
  );
}

/** The SMTP sender; its CA file (notify.email.ca) is read now. */
function emailSender(settings: NonNullable<Config['notify']['email']>): EmailSender {
  try {
    return new EmailSender(settings);
  } catch (err) {
    throw new StartupError((err as Error).message);
  }
}

/** `badgeLayouts`: badges.layouts with their image files read (badges.ts, loaded before the database opens). */
export function buildMobile(core: CoreServices, badgeLayouts: Record<string, PreparedLayout>): Mobile {
  const { config, db, issuance, masterKey, baseUrl, log } = core;
  checkMobileConfig(config, log);
  const mobileLog = log.child({ component: 'mobile' });
  const people = new PersonRepository(db);
  const devices = new DeviceRepository(db);
  const mobileIds = new MobileIdRepository(db);
  const sessions = new MobileSessionRepository(db);
  const profiles = mobileProfiles(config);
  const mac = new CodeMac(createHmac('sha256', masterKey).update('credgate mobile codes').digest());
  const unlockSecret = createHmac('sha256', masterKey).update('credgate mobile unlock').digest();

  const email = config.notify.email && emailSender(config.notify.email);
  const senders: Senders = { ...(email && { email }), ...(config.notify.sms && { sms: new SmsSender(config.notify.sms) }) };
  const messages = new Messages({ db, templates: new MessageTemplateRepository(db), audit: issuance.audit });
  const notifications = new Notifications({
    messages,
    senders,
    otpDelivery: config.mobile.otpDelivery,
    appLink: config.mobile.appLink,
    baseUrl,
    log: mobileLog,
  });
  const requests = new RequestService({
    db,
    people,
    mobileIds,
    certificates: issuance.certificates,
    audit: issuance.audit,
    profiles,
    scope: core.auth.scope,
    templates: config.templates,
    notifications,
    unmanaged: issuance.unmanaged,
    mac,
    log: mobileLog,
  });
  const stores = {
    db,
    people,
    devices,
    mobileIds,
    sessions,
    certificates: issuance.certificates,
    audit: issuance.audit,
    revoker: issuance.revoker,
    profiles,
    log: mobileLog,
  };
  const photos = new Photos({
    db,
    people,
    photos: new PersonPhotoRepository(db),
    audit: issuance.audit,
    limits: { ...config.badges.photos, maxBytes: sizeBytes(config.badges.photos.maxBytes) },
  });
  const badges = new Badges({ layouts: badgeLayouts, photoOf: (userId) => photos.ofPerson(userId) });
  const collection = new CollectionService({
    ...stores,
    issuer: issuance.issuer,
    recovery: issuance.recovery,
    keys: issuance.escrowedKeys,
    unmanaged: issuance.unmanaged,
    mac,
    unlockSecret,
    config: config.mobile,
    badges,
  });
  const lifecycle = new LifecycleService({ ...stores, requests, notifications, unlockKey: (id) => collection.unlockKey(id), renewal: config.mobile.renewal });

  // Content signing and holder assertions serve /mobile/v1, so they are built only with it.
  const signing = config.mobile.enabled ? loadContentSigning(config, masterKey) : undefined;
  const proofs = new HolderProofRepository(db);
  const assertions =
    signing &&
    new HolderAssertions({
      db,
      auth: new HolderAuthenticator({ mobileIds, certificates: issuance.certificates, people, proofs, profiles }),
      signing,
      mobileIds,
      people,
      audit: issuance.audit,
      scope: core.auth.scope,
      ttlMs: durationMs(config.mobile.assertions.ttl),
      baseUrl: () => core.consoleUrl().replace(/\/$/, ''),
      log: mobileLog,
    });

  const directory = new Directory({ db, people, devices, audit: issuance.audit, scope: core.auth.scope });
  const sessionThrottle = new AddressThrottle(config.mobile.maxFailuresPerAddress, 60_000);
  const guard = core.auth.admin;
  const { bodyLimit } = core;
  return {
    ...feature({
      mounts: [
        { path: '/api/v1', router: directoryRouter({ guard, directory, scope: core.auth.scope, bodyLimit }) },
        { path: '/api/v1', router: badgesRouter({ guard, photos, badges, directory, scope: core.auth.scope, profiles }) },
        { path: '/api/v1', router: mobileIdsRouter({ guard, requests, lifecycle, messages, scope: core.auth.scope, bodyLimit }) },
        ...(signing && assertions
          ? [
              { path: '/api/v1', router: signingRouter({ guard, signing, assertions, bodyLimit }) },
              { path: '/mobile/v1', router: mobileAgentRouter({ collection, sessionThrottle, signing, assertions }) },
            ]
          : []),
      ],
      start(signal) {
        const sweep = () =>
          lifecycle.sendRenewalNotices().then(
            (r) => r.notified + r.failed > 0 && mobileLog.info(r, 'renewal notices'),
            (err: unknown) => mobileLog.error({ err }, 'renewal notices failed; retried on the next round'),
          );
        every(Math.max(durationMs(config.mobile.renewal.checkEvery), 1000), signal, () => void sweep());
        // Spent holder proofs are kept only while they could still be replayed.
        every(10 * 60_000, signal, () => void proofs.sweep().catch((err: unknown) => mobileLog.warn({ err }, 'could not forget expired holder proofs')));
        if (signing) warnAboutSigners(signing, mobileLog);
      },
      stop: async () => email?.close(),
    }),
    directory,
    requests,
    collection,
    sessionThrottle,
    lifecycle,
    messages,
    notifications,
    profiles,
    signing,
    assertions,
    photos,
    badges,
  };
}

/** A content-signing certificate near its end is an operator's to replace before apps stop trusting what they receive. */
function warnAboutSigners(signing: ContentSigning, log: Logger): void {
  const soon = Date.now() + 30 * 86_400_000;
  for (const e of signing.all()) {
    if (e.status === 'previous' && e.acceptUntil <= Date.now())
      log.warn({ kid: e.kid }, 'mobile.contentSigning.previous is past its end and signs nothing more; remove it from the configuration');
    else if (e.status === 'current' && e.notAfter <= soon)
      log.warn(
        { kid: e.kid, notAfter: new Date(e.notAfter).toISOString() },
        'the content-signing certificate expires within 30 days; roll it over (README, "Signed content")',
      );
  }
}
