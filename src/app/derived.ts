/**
 * The derived credentials feature, built from configuration: the PIV CAs
 * (which the HTTPS listener also trusts for client certificates), the
 * credential profile the page requests, the service, its routes, and the
 * timer that supersedes, sets re-derive dates and sends re-derive notices.
 */
import { createHmac } from 'node:crypto';
import type { Config } from '../config/schema.js';
import { durationMs } from '../config/duration.js';
import { DerivedCredentialService } from '../identity/derived.js';
import { isDerived, type MobileProfile } from '../identity/profiles.js';
import { derivedAdminRouter, derivedPageRouter } from '../http/routes/derived.js';
import { readCertificateSetting } from '../pki/certificate-files.js';
import { PivTrust } from '../pki/piv.js';
import { DerivedCredentialRepository } from '../store/derived-credentials.js';
import { MobileIdRepository } from '../store/mobile-ids.js';
import { PersonRepository } from '../store/people.js';
import { refuse, StartupError, type SettingProblem } from './errors.js';
import { every, feature, type CoreServices, type Feature } from './feature.js';
import type { Mobile } from './mobile.js';

export interface Derived extends Feature {
  service: DerivedCredentialService;
}

/**
 * The derived-credential page requests one profile: the one named, which must
 * have encoding derived-credential, else the only such profile; PIV trust
 * without any such profile would open a page that cannot request anything.
 */
export function derivedProblems(config: Config): SettingProblem[] {
  const named = config.derivedCredentials.credentialProfile;
  const path = ['derivedCredentials', 'credentialProfile'];
  if (named !== undefined) {
    const p = config.credentialProfiles[named];
    if (!p) return [{ path, message: `derivedCredentials.credentialProfile: no credential profile "${named}"` }];
    if (p.encoding !== 'derived-credential')
      return [
        {
          path,
          message: `derivedCredentials.credentialProfile: "${named}" has encoding ${p.encoding}; a derived credential needs encoding derived-credential`,
        },
      ];
    return [];
  }
  const derived = Object.entries(config.credentialProfiles)
    .filter(([, p]) => p.encoding === 'derived-credential')
    .map(([name]) => name);
  if (derived.length > 1) return [{ path: ['derivedCredentials'], message: `derivedCredentials.credentialProfile: choose one of ${derived.join(', ')}` }];
  if (derived.length === 0 && config.derivedCredentials.pivTrust.length > 0) {
    return [
      {
        path: ['derivedCredentials', 'pivTrust'],
        message: 'derivedCredentials.pivTrust is set, but no credential profile has encoding derived-credential for the page to request',
      },
    ];
  }
  return [];
}

/** The profile the page requests (derivedProblems says which). */
function pageProfile(config: Config, profiles: Record<string, MobileProfile>): MobileProfile | undefined {
  refuse(derivedProblems(config));
  const named = config.derivedCredentials.credentialProfile;
  return named !== undefined ? profiles[named] : Object.values(profiles).find(isDerived);
}

/** The PEM of one file of derivedCredentials.pivTrust, which must hold certificates that parse. */
export function readPivTrust(paths: string[], i: number): string {
  try {
    return readCertificateSetting(paths[i]!, `derivedCredentials.pivTrust[${i}]`);
  } catch (err) {
    throw new StartupError((err as Error).message);
  }
}

export function buildDerived(core: CoreServices, mobile: Mobile): Derived {
  const { config, db, issuance, masterKey, baseUrl, log } = core;
  const trustPem = config.derivedCredentials.pivTrust.map((_, i, paths) => readPivTrust(paths, i));
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

  return {
    ...feature({
      mounts: [
        { path: '/api/v1', router: derivedAdminRouter({ guard: core.auth.admin, derived: service, people, bodyLimit: core.bodyLimit }) },
        ...(trustPem.length > 0 ? [{ path: '/derived', router: derivedPageRouter({ derived: service, formSecret, server: baseUrl }) }] : []),
      ],
      // The PIV CAs, so that the page's client certificates verify.
      clientCas: trustPem,
      start(signal) {
        const sweep = async () => {
          try {
            await service.settle();
            const r = await service.sendRederiveNotices();
            if (r.notified + r.failed > 0) derivedLog.info(r, 're-derive notices');
          } catch (err) {
            derivedLog.error({ err }, 'derived-credential sweep failed; retried on the next round');
          }
        };
        every(Math.max(durationMs(config.mobile.renewal.checkEvery), 1000), signal, () => void sweep());
      },
    }),
    service,
  };
}
