/** Builds the SCEP service from configuration: RA identity, profiles and their challenge validators. */
import { createHmac, X509Certificate } from 'node:crypto';
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
import { StartupError } from './errors.js';
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
 * checked now; it is wired after SCEP, so its validator is looked up per
 * request (the listener opens only once everything is wired).
 */
function connectorChallenge(setting: string, id: string, connectors: ScepConnectors): ChallengeValidator {
  const file = connectors.files.find((c) => c.id === id);
  if (file?.settings.kind !== 'intune') {
    const known = connectors.files.filter((c) => c.settings.kind === 'intune').map((c) => c.id);
    throw new StartupError(`${setting}: no Intune connector "${id}" (configured Intune connectors: ${known.join(', ') || 'none'})`);
  }
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
 * Connectors that are SCEP clients themselves (MobileIron Core in
 * Centralized mode) name a profile; it must exist and take the one static
 * challenge their console sends, or every enrollment would fail later.
 */
function checkConnectorProfiles(config: Config, files: LoadedConnector[]): void {
  for (const c of files) {
    if (c.settings.kind !== 'mobileiron') continue;
    const name = (c.settings as MobileIronSettings).scep?.profile;
    if (name === undefined) continue;
    const p = config.scep.profiles[name];
    if (!p) throw new StartupError(`${c.file} scep.profile: no SCEP profile "${name}" in scep.profiles (configured: ${Object.keys(config.scep.profiles).join(', ') || 'none'})`);
    if (typeof p.challenge !== 'object' || !('static' in p.challenge)) {
      const has = typeof p.challenge === 'string' ? `"${p.challenge}"` : 'Intune validation';
      throw new StartupError(`${c.file} scep.profile: SCEP profile "${name}" has challenge ${has}; Core's Centralized SCEP sends one shared password, so it needs challenge: { static: ... }`);
    }
  }
}

export function buildScep(config: Config, db: Db, issuance: Issuance, masterKey: Buffer, log: Logger, connectors: ScepConnectors = { files: [], validator: () => undefined }): Scep {
  const f = devPkiFiles(config.pki.dir);
  const paths = config.scep.ra ?? { cert: f.scepRaCert, key: f.scepRaKey };
  let cert: X509Certificate;
  let key;
  try {
    cert = new X509Certificate(readFileSync(paths.cert));
    key = readKeyFile(paths.key, masterKey);
  } catch (err) {
    throw new StartupError(`scep.ra: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'rsa' || !cert.checkPrivateKey(key)) throw new StartupError(`scep.ra: ${paths.cert} needs an RSA key and ${paths.key} must be its key`);

  const challenges = new DynamicChallenges(new ScepChallengeRepository(db), createHmac('sha256', masterKey).update('credgate scep challenges').digest());
  const profiles = new Map<string, ScepProfile>();
  for (const [name, p] of Object.entries(config.scep.profiles)) {
    if (!config.templates[p.template]) throw new StartupError(`scep.profiles.${name}.template: no template named "${p.template}"`);
    if (p.challenge === 'none' && !p.approval) throw new StartupError(`scep.profiles.${name}: challenge "none" is only allowed with approval: true`);
    let validator: ChallengeValidator;
    if (p.challenge === 'dynamic') validator = challenges;
    else if (p.challenge === 'none') validator = new NoChallenge();
    else if ('intune' in p.challenge) validator = connectorChallenge(`scep.profiles.${name}.challenge.intune`, p.challenge.intune, connectors);
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

  checkConnectorProfiles(config, connectors.files);

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
