/**
 * Builds derived credentials from configuration: the PIV CAs (which the
 * HTTPS listener also trusts for client certificates), the credential
 * profile the page requests, the service, its routes, and the timer that
 * supersedes, sets re-derive dates and sends re-derive notices.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { durationMs } from '../config/duration.js';
import { DerivedCredentialService } from '../identity/derived.js';
import { isDerived, type MobileProfile } from '../identity/profiles.js';
import type { Guard } from '../http/auth/authenticate.js';
import type { Mount } from '../http/app.js';
import { derivedAdminRouter, derivedPageRouter } from '../http/routes/derived.js';
import { PivTrust } from '../pki/piv.js';
import type { Db } from '../store/db.js';
import { DerivedCredentialRepository } from '../store/derived-credentials.js';
import { MobileIdRepository } from '../store/mobile-ids.js';
import { PersonRepository } from '../store/people.js';
import { StartupError } from './errors.js';
import type { Issuance } from './issuance.js';
import type { Mobile } from './mobile.js';

export interface Derived {
  service: DerivedCredentialService;
  /** PEM of the PIV CAs, for the listener's client-certificate trust. */
  trustPem: string[];
  mounts(guard: Guard, bodyLimit: number): Mount[];
  start(): void;
  stop(): void;
}

/** The profile the page requests: the one named, else the only derived-credential profile. */
function pageProfile(config: Config, profiles: Record<string, MobileProfile>): MobileProfile | undefined {
  const named = config.derivedCredentials.credentialProfile;
  if (named !== undefined) {
    const p = profiles[named];
    if (!p) throw new StartupError(`derivedCredentials.credentialProfile: no credential profile "${named}"`);
    if (!isDerived(p)) throw new StartupError(`derivedCredentials.credentialProfile: "${named}" has encoding ${p.encoding}; a derived credential needs encoding derived-credential`);
    return p;
  }
  const derived = Object.values(profiles).filter(isDerived);
  if (derived.length > 1) throw new StartupError(`derivedCredentials.credentialProfile: choose one of ${derived.map((p) => p.name).join(', ')}`);
  if (derived.length === 0 && config.derivedCredentials.pivTrust.length > 0) {
    throw new StartupError('derivedCredentials.pivTrust is set, but no credential profile has encoding derived-credential for the page to request');
  }
  return derived[0];
}

function readTrust(paths: string[]): string[] {
  return paths.map((p, i) => {
    try {
      const pem = readFileSync(p, 'utf8');
      if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('holds no PEM certificate');
      return pem;
    } catch (err) {
      throw new StartupError(`derivedCredentials.pivTrust[${i}] ${p}: ${(err as Error).message}`);
    }
  });
}

export function buildDerived(config: Config, db: Db, issuance: Issuance, mobile: Mobile, masterKey: Buffer, baseUrl: string, log: Logger): Derived {
  const trustPem = readTrust(config.derivedCredentials.pivTrust);
  const people = new PersonRepository(db);
  const derivedLog = log.child({ component: 'derived-credentials' });
  const service = new DerivedCredentialService({
    db,
    derived: new DerivedCredentialRepository(db),
    people,
    mobileIds: new MobileIdRepository(db),
    certificates: issuance.certificates,
    audit: issuance.audit,
    requests: mobile.requests,
    lifecycle: mobile.lifecycle,
    notifications: mobile.notifications,
    trust: PivTrust.fromPem(trustPem, config.derivedCredentials.acceptPolicies),
    profile: pageProfile(config, mobile.profiles),
    config: config.derivedCredentials,
    mobile: config.mobile,
    pageUrl: `${baseUrl}/derived/`,
    log: derivedLog,
  });
  mobile.collection.onIssued((id) => service.settle(id));
  const formSecret = createHmac('sha256', masterKey).update('credgate derived form').digest();

  let timer: NodeJS.Timeout | undefined;
  return {
    service,
    trustPem,
    mounts: (guard, bodyLimit) => [
      { path: '/api/v1', router: derivedAdminRouter({ guard, derived: service, people, bodyLimit }) },
      ...(trustPem.length > 0 ? [{ path: '/derived', router: derivedPageRouter({ derived: service, formSecret, server: baseUrl }) }] : []),
    ],
    start() {
      const sweep = async () => {
        try {
          await service.settle();
          const r = await service.sendRederiveNotices();
          if (r.notified + r.failed > 0) derivedLog.info(r, 're-derive notices');
        } catch (err) {
          derivedLog.error({ err }, 'derived-credential sweep failed; retried on the next round');
        }
      };
      timer = setInterval(() => void sweep(), Math.max(durationMs(config.mobile.renewal.checkEvery), 1000));
      timer.unref();
    },
    stop() {
      clearInterval(timer);
    },
  };
}
