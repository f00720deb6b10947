/** Builds the SCEP service from configuration: RA identity, profiles and their challenge validators. */
import { createHmac, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import type { MobileIronSettings } from '../../connectors/mobileiron/schema.js';
import type { Config } from '../config/schema.js';
import { durationMs } from '../config/duration.js';
import { devPkiFiles } from '../pki/dev-pki.js';
import { readKeyFile } from '../pki/key-files.js';
import { masterKeyOf } from '../pki/key-wrap.js';
import { NativeSigner } from '../pki/native-signer.js';
import { renderNames } from '../pki/template.js';
import { RsaDecryptThread } from '../pki/rsa-decrypt-thread.js';
import { DynamicChallenges, NoChallenge, StaticChallenge, type ChallengeValidator } from '../protocols/scep/challenges.js';
import { ScepService, type ScepProfile } from '../protocols/scep/service.js';
import type { Db } from '../store/db.js';
import { ScepChallengeRepository, ScepTransactionRepository } from '../store/scep.js';
import { Admission } from '../util/admission.js';
import type { LoadedConnector } from './connectors.js';
import { refuse, StartupError, type SettingProblem } from './errors.js';
import type { Issuance } from './issuance.js';

export interface Scep {
  service: ScepService;
  challenges: DynamicChallenges;
  /** Ends the RA's decryption thread. */
  stop(): Promise<void>;
}

/** The connectors SCEP profiles may hand their challenges to: their files now, their validators once they are wired. */
export interface ScepConnectors {
  files: LoadedConnector[];
  validator(id: string): ChallengeValidator | undefined;
}

/**
 * A profile whose challenges an Intune connector decides. The connector is
 * checked before (scepProfileProblems); it is wired after SCEP, so its
 * validator is looked up per request (the listener opens only once
 * everything is wired).
 */
function connectorChallenge(id: string, connectors: ScepConnectors): ChallengeValidator {
  const target = (): ChallengeValidator => {
    const v = connectors.validator(id);
    if (!v) throw new Error(`connector ${id} validates no SCEP challenges`);
    return v;
  };
  return {
    validate: (ctx) => target().validate(ctx),
    issued: async (ctx, cert) => target().issued?.(ctx, cert),
    failed: async (ctx, reason) => target().failed?.(ctx, reason),
  };
}

/**
 * What each profile names must exist: its template and, for Intune
 * challenges, an Intune connector; a profile without challenges needs an
 * operator's approval of every request.
 */
export function scepProfileProblems(config: Config, files: LoadedConnector[]): SettingProblem[] {
  const intune = files.filter((c) => c.settings.kind === 'intune').map((c) => c.id);
  return Object.entries(config.scep.profiles).flatMap(([name, p]): SettingProblem[] => [
    ...(config.templates[p.template] ? [] : [{ path: ['scep', 'profiles', name, 'template'], message: `scep.profiles.${name}.template: no template named "${p.template}"` }]),
    ...(p.challenge === 'none' && !p.approval ? [{ path: ['scep', 'profiles', name, 'challenge'], message: `scep.profiles.${name}: challenge "none" is only allowed with approval: true` }] : []),
    ...(typeof p.challenge === 'object' && 'intune' in p.challenge && !intune.includes(p.challenge.intune)
      ? [{ path: ['scep', 'profiles', name, 'challenge', 'intune'], message: `scep.profiles.${name}.challenge.intune: no Intune connector "${p.challenge.intune}" (configured Intune connectors: ${intune.join(', ') || 'none'})` }]
      : []),
  ]);
}

/**
 * Connectors that are SCEP clients themselves (MobileIron Core in
 * Centralized mode) name a profile; it must exist and take the one static
 * challenge their console sends, or every enrollment would fail later.
 */
export function connectorProfileProblems(config: Config, files: LoadedConnector[]): SettingProblem[] {
  return files.flatMap((c): SettingProblem[] => {
    if (c.settings.kind !== 'mobileiron') return [];
    const name = (c.settings as MobileIronSettings).scep?.profile;
    if (name === undefined) return [];
    const at = { file: c.file, path: ['scep', 'profile'] };
    const p = config.scep.profiles[name];
    if (!p) return [{ ...at, message: `scep.profile: no SCEP profile "${name}" in scep.profiles (configured: ${Object.keys(config.scep.profiles).join(', ') || 'none'})` }];
    if (typeof p.challenge === 'object' && 'static' in p.challenge) return [];
    const has = typeof p.challenge === 'string' ? `"${p.challenge}"` : 'Intune validation';
    return [{ ...at, message: `scep.profile: SCEP profile "${name}" has challenge ${has}; Core's Centralized SCEP sends one shared password, so it needs challenge: { static: ... }` }];
  });
}

/** The RA certificate and key: scep.ra, else the dev PKI's. */
export function loadRa(config: Config, masterKey: Buffer | undefined): { cert: X509Certificate; key: KeyObject } {
  const f = devPkiFiles(config.pki.dir);
  const paths = config.scep.ra ?? { cert: f.scepRaCert, key: f.scepRaKey };
  let cert: X509Certificate;
  let key: KeyObject;
  try {
    cert = new X509Certificate(readFileSync(paths.cert));
    key = readKeyFile(paths.key, masterKey);
  } catch (err) {
    throw new StartupError(`scep.ra: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'rsa' || !cert.checkPrivateKey(key)) throw new StartupError(`scep.ra: ${paths.cert} needs an RSA key and ${paths.key} must be its key`);
  return { cert, key };
}

export function buildScep(config: Config, db: Db, issuance: Issuance, masterKey: Buffer, log: Logger, connectors: ScepConnectors = { files: [], validator: () => undefined }): Scep {
  refuse([...scepProfileProblems(config, connectors.files), ...connectorProfileProblems(config, connectors.files)]);
  const { cert, key } = loadRa(config, masterKey);

  const challenges = new DynamicChallenges(new ScepChallengeRepository(db), createHmac('sha256', masterKey).update('credgate scep challenges').digest());
  const profiles = new Map<string, ScepProfile>();
  for (const [name, p] of Object.entries(config.scep.profiles)) {
    let validator: ChallengeValidator;
    if (p.challenge === 'dynamic') validator = challenges;
    else if (p.challenge === 'none') validator = new NoChallenge();
    else if ('intune' in p.challenge) validator = connectorChallenge(p.challenge.intune, connectors);
    else validator = new StaticChallenge(p.challenge.static);
    profiles.set(name, {
      name,
      template: p.template,
      validator,
      approval: p.approval,
      renewal: p.renewal,
      names: { ...p.names, source: p.names.source ?? (typeof p.challenge === 'object' && 'intune' in p.challenge ? 'mdm' : 'request') },
      challengeKind: typeof p.challenge === 'string' ? p.challenge : 'intune' in p.challenge ? 'intune' : 'static',
      challengeTtlMs: durationMs(p.challengeTtl),
    });
  }

  const decryptor = new RsaDecryptThread(key);
  const service = new ScepService({
    db,
    profiles,
    ra: { cert, decryptor, signer: new NativeSigner(key) },
    cas: issuance.cas,
    issuer: issuance.issuer,
    templateCa: (template) => issuance.cas.get(config.templates[template]?.ca ?? config.pki.defaultCa)!,
    renderNames: (template, data) => renderNames(template, config.templates[template]!, data),
    master: masterKeyOf(masterKey),
    certificates: issuance.certificates,
    transactions: new ScepTransactionRepository(db),
    audit: issuance.audit,
    crls: issuance.crls,
    admission: new Admission(config.scep.concurrency ?? 2 * availableParallelism(), config.scep.maxQueued),
    log: log.child({ component: 'scep' }),
  });
  return { service, challenges, stop: () => decryptor.close() };
}
