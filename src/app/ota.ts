/**
 * The iOS OTA enrollment feature, built from configuration (signing
 * identity, device CAs, SCEP profile, credential profiles): /ota for
 * devices and its admin API, when ota.enabled.
 */
import { createHmac, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import { durationMs } from '../config/duration.js';
import { otaAdminRouter, otaRouter } from '../http/routes/ota.js';
import { readCertificateFile } from '../pki/certificate-files.js';
import { devPkiFiles } from '../pki/dev-pki.js';
import { readKeyFile } from '../pki/key-files.js';
import { NativeSigner } from '../pki/native-signer.js';
import { sha1 } from '../pki/x509-der.js';
import { OtaCredentials, type OtaSlot } from '../protocols/ota/credentials.js';
import { OtaService, type OtaCredentialProfile } from '../protocols/ota/service.js';
import { OtaEnrollmentRepository } from '../store/ota.js';
import { refuse, StartupError, type SettingProblem } from './errors.js';
import { feature, type CoreServices, type Feature } from './feature.js';
import { credentialProfileProblems } from './mobile.js';
import type { Scep } from './scep.js';

export interface Ota extends Feature {
  /** Undefined when ota.enabled is false. */
  service: OtaService | undefined;
}

/** Every credential profile must name templates that exist (credentialProfileProblems). */
export function checkCredentialProfiles(config: Config): void {
  refuse(credentialProfileProblems(config));
}

/** OTA enrolls the device identity through a SCEP profile that hands out one-time challenges for it. */
export function otaProblems(config: Config): SettingProblem[] {
  const { ota } = config;
  if (!ota.enabled) return [];
  const profile = config.scep.profiles[ota.scepProfile];
  const path = ['ota', 'scepProfile'];
  if (!profile)
    return [
      {
        path,
        message: `ota.scepProfile: no SCEP profile named "${ota.scepProfile}" (configured: ${Object.keys(config.scep.profiles).join(', ') || 'none'}); set ota.scepProfile or ota.enabled: false`,
      },
    ];
  if (profile.challenge !== 'dynamic')
    return [{ path, message: `ota.scepProfile: SCEP profile "${ota.scepProfile}" must use one-time challenges (challenge: dynamic)` }];
  return [];
}

export function readCertificates(setting: string, paths: string[]): Buffer[] {
  try {
    return paths.flatMap(readCertificateFile);
  } catch (err) {
    throw new StartupError(`${setting}: ${(err as Error).message}`);
  }
}

export function signingIdentity(config: Config, masterKey: Buffer | undefined): { signer: NativeSigner; cert: Buffer; chain: Buffer[] } {
  const f = devPkiFiles(config.pki.dir);
  const paths = config.ota.signing ?? { cert: f.otaSigningCert, key: f.otaSigningKey, chain: [f.issuingCert, f.rootCert] };
  if (!config.ota.signing && !existsSync(paths.cert)) {
    throw new StartupError(`ota.signing: not set, and there is no dev PKI ${paths.cert}; set ota.signing {cert, key, chain} or ota.enabled: false`);
  }
  const certs = readCertificates('ota.signing.cert', [paths.cert]);
  const chain = readCertificates('ota.signing.chain', paths.chain);
  let key: KeyObject;
  try {
    key = readKeyFile(paths.key, masterKey);
  } catch (err) {
    throw new StartupError(`ota.signing.key: ${(err as Error).message}`);
  }
  const cert = new X509Certificate(certs[0]!);
  if (!cert.checkPrivateKey(key)) throw new StartupError(`ota.signing: ${paths.key} is not the key of ${paths.cert}`);
  try {
    return { signer: new NativeSigner(key), cert: cert.raw, chain: [...certs.slice(1), ...chain] };
  } catch (err) {
    throw new StartupError(`ota.signing.key: ${(err as Error).message}`);
  }
}

export function buildOta(core: CoreServices, scep: Scep): Ota {
  const service = otaService(core, scep);
  if (!service) return { ...feature({}), service };
  return {
    ...feature({
      mounts: [
        { path: '/api/v1', router: otaAdminRouter({ guard: core.auth.admin, ota: service, bodyLimit: core.bodyLimit }) },
        { path: '/ota', router: otaRouter({ ota: service }) },
      ],
    }),
    service,
  };
}

function otaService({ config, db, issuance, masterKey, baseUrl, log }: CoreServices, scep: Scep): OtaService | undefined {
  refuse([...credentialProfileProblems(config), ...otaProblems(config)]);
  const ota = config.ota;
  if (!ota.enabled) return undefined;
  const scepProfile = scep.service.profile(ota.scepProfile)!;
  const scepCa = issuance.cas.get(config.templates[scepProfile.template]?.ca ?? config.pki.defaultCa)!;

  const deviceCas = readCertificates('ota.deviceCa', ota.deviceCa).map((d) => new X509Certificate(d));
  const otaLog = log.child({ component: 'ota' });
  if (deviceCas.length === 0) otaLog.warn('ota.deviceCa is not set: iOS devices cannot finish OTA enrollment, and the admin API refuses new enrollments');

  const credentialProfiles: Record<string, OtaCredentialProfile> = Object.fromEntries(
    Object.entries(config.credentialProfiles).map(([name, p]) => [
      name,
      {
        certificates: p.certificates
          .filter((c) => c.container === 'system-store')
          .map(
            ({ template, unmanaged, historic, includeHistoric }): OtaSlot =>
              unmanaged !== undefined ? { unmanaged } : { template: template!, historic, includeHistoric },
          ),
      },
    ]),
  );
  return new OtaService({
    db,
    enrollments: new OtaEnrollmentRepository(db),
    audit: issuance.audit,
    credentials: new OtaCredentials({
      issuer: issuance.issuer,
      recovery: issuance.recovery,
      keys: issuance.escrowedKeys,
      cas: issuance.cas,
      unmanaged: issuance.unmanaged,
    }),
    unmanaged: issuance.unmanaged,
    keys: issuance.escrowedKeys,
    cas: issuance.cas,
    certificates: issuance.certificates,
    challenges: scep.challenges,
    scep: {
      profile: scepProfile.name,
      url: scepProfile.name === 'default' ? `${baseUrl}/scep` : `${baseUrl}/scep/${scepProfile.name}`,
      caName: scepCa.name,
      // SHA-1, as Apple's OTA reference computes it; the device compares it with the CA certificate GetCACert returns.
      caFingerprint: sha1(scepCa.cert.raw),
      challengeTtlMs: scepProfile.challengeTtlMs,
    },
    signing: signingIdentity(config, masterKey),
    deviceCas,
    credentialProfiles,
    templates: config.templates,
    texts: { organization: ota.organization, displayName: ota.displayName, description: ota.description },
    payloadIdentifier: ota.payloadIdentifier,
    cipher: ota.encryption,
    enrollmentTtlMs: durationMs(ota.enrollmentTtl),
    baseUrl,
    key: createHmac('sha256', masterKey).update('credgate ota').digest(),
    log: otaLog,
  });
}
