/**
 * The SCEP feature: the service built from configuration (RA identity,
 * profiles and their challenge validators), its protocol endpoint at /scep
 * ahead of express on HTTPS and plain HTTP, and its admin API.
 */
import { createHmac, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { Config, ScepProfileConfig } from '../config/schema.js';
import { durationMs } from '../config/duration.js';
import { scepAdminRouter } from '../http/routes/scep.js';
import { scepEndpoint } from '../http/scep-endpoint.js';
import { devPkiFiles } from '../pki/dev-pki.js';
import { readKeyFile } from '../pki/key-files.js';
import { masterKeyOf } from '../pki/key-wrap.js';
import { NativeSigner } from '../pki/native-signer.js';
import { renderNames } from '../pki/template.js';
import { RsaDecryptThread } from '../pki/rsa-decrypt-thread.js';
import { DynamicChallenges, NoChallenge, StaticChallenge, type ChallengeValidator } from '../protocols/scep/challenges.js';
import { ScepService, type ScepProfile } from '../protocols/scep/service.js';
import { ScepChallengeRepository, ScepTransactionRepository } from '../store/scep.js';
import { Admission } from '../util/admission.js';
import { CONNECTOR_MODULES } from './connector-registry.js';
import type { LoadedConnector } from './connectors.js';
import { refuse, StartupError, type SettingProblem } from './errors.js';
import { feature, type CoreServices, type Feature } from './feature.js';
import { challengeConnector } from './scep-challenge-connector.js';

export interface Scep extends Feature {
  service: ScepService;
  challenges: DynamicChallenges;
}

/** The connectors SCEP profiles may hand their challenges to: their files, and the validators of those that are built. */
export interface ScepConnectors {
  files: LoadedConnector[];
  validator(id: string): ChallengeValidator | undefined;
}

/**
 * What each profile names must exist: its template and, for challenges a
 * connector decides, a connector that decides SCEP challenges (of the kind
 * the setting names, if it names one); a profile without challenges needs
 * an operator's approval of every request.
 */
export function scepProfileProblems(config: Config, files: LoadedConnector[]): SettingProblem[] {
  return Object.entries(config.scep.profiles).flatMap(([name, p]): SettingProblem[] => [
    ...(config.templates[p.template]
      ? []
      : [{ path: ['scep', 'profiles', name, 'template'], message: `scep.profiles.${name}.template: no template named "${p.template}"` }]),
    ...(p.challenge === 'none' && !p.approval
      ? [{ path: ['scep', 'profiles', name, 'challenge'], message: `scep.profiles.${name}: challenge "none" is only allowed with approval: true` }]
      : []),
    ...challengeConnectorProblems(name, p, files),
  ]);
}

function challengeConnectorProblems(name: string, p: ScepProfileConfig, files: LoadedConnector[]): SettingProblem[] {
  const named = challengeConnector(p.challenge);
  if (!named) return [];
  const deciders = files.filter((c) => c.module.scepChallenges && (named.kind === undefined || c.settings.kind === named.kind)).map((c) => c.id);
  if (deciders.includes(named.id)) return [];
  const setting = `scep.profiles.${name}.challenge.${named.key}`;
  const path = ['scep', 'profiles', name, 'challenge', named.key];
  if (named.kind === undefined) {
    const found = files.find((c) => c.id === named.id);
    const what = found ? `connector "${named.id}" (${found.settings.kind}) does not validate SCEP challenges` : `no connector "${named.id}"`;
    return [{ path, message: `${setting}: ${what} (configured connectors that do: ${deciders.join(', ') || 'none'})` }];
  }
  const vendor = CONNECTOR_MODULES.find((m) => m.kind === named.kind)?.scepChallenges?.vendor ?? named.kind;
  return [{ path, message: `${setting}: no ${vendor} connector "${named.id}" (configured ${vendor} connectors: ${deciders.join(', ') || 'none'})` }];
}

/**
 * Connectors whose MDM enrolls at a SCEP profile itself with one shared
 * challenge (ConnectorModule.scepProfiles) name it; it must exist and take a
 * static challenge, or every enrollment would fail later.
 */
export function connectorProfileProblems(config: Config, files: LoadedConnector[]): SettingProblem[] {
  return files.flatMap((c) =>
    (c.module.scepProfiles?.(c.settings) ?? []).flatMap(({ path, profile: name, reason }): SettingProblem[] => {
      const at = { file: c.file, path };
      const setting = path.join('.');
      const p = config.scep.profiles[name];
      if (!p)
        return [
          { ...at, message: `${setting}: no SCEP profile "${name}" in scep.profiles (configured: ${Object.keys(config.scep.profiles).join(', ') || 'none'})` },
        ];
      if (typeof p.challenge === 'object' && 'static' in p.challenge) return [];
      const named = challengeConnector(p.challenge);
      const has = named ? `{ ${named.key}: ${named.id} }` : `"${String(p.challenge)}"`;
      return [{ ...at, message: `${setting}: SCEP profile "${name}" has challenge ${has}; ${reason}, so it needs challenge: { static: ... }` }];
    }),
  );
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
  if (key.asymmetricKeyType !== 'rsa' || !cert.checkPrivateKey(key))
    throw new StartupError(`scep.ra: ${paths.cert} needs an RSA key and ${paths.key} must be its key`);
  return { cert, key };
}

export function buildScep(core: CoreServices, connectors: ScepConnectors): Scep {
  const { config, db, issuance, masterKey, log } = core;
  refuse([...scepProfileProblems(config, connectors.files), ...connectorProfileProblems(config, connectors.files)]);
  const { cert, key } = loadRa(config, masterKey);

  const challenges = new DynamicChallenges(new ScepChallengeRepository(db), createHmac('sha256', masterKey).update('credgate scep challenges').digest());
  const validatorOf = (name: string, p: ScepProfileConfig): ChallengeValidator => {
    if (p.challenge === 'dynamic') return challenges;
    if (p.challenge === 'none') return new NoChallenge();
    if ('static' in p.challenge) return new StaticChallenge(p.challenge.static);
    const named = challengeConnector(p.challenge)!;
    const validator = connectors.validator(named.id);
    // scepProfileProblems found the connector, whose module says it decides SCEP challenges.
    if (!validator) throw new StartupError(`scep.profiles.${name}.challenge.${named.key}: connector "${named.id}" validates no SCEP challenges`);
    return validator;
  };
  const profiles = new Map<string, ScepProfile>();
  for (const [name, p] of Object.entries(config.scep.profiles)) {
    const byConnector = challengeConnector(p.challenge) !== undefined;
    profiles.set(name, {
      name,
      template: p.template,
      validator: validatorOf(name, p),
      approval: p.approval,
      renewal: p.renewal,
      // A connector that decides the challenge has checked the request's names against what its MDM expects.
      names: { ...p.names, source: p.names.source ?? (byConnector ? 'mdm' : 'request') },
      challengeKind: typeof p.challenge === 'string' ? p.challenge : byConnector ? 'connector' : 'static',
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
  const endpoint = scepEndpoint({ scep: service, log, ...(core.observe && { observe: core.observe }) });
  return {
    ...feature({
      mounts: [{ path: '/api/v1', router: scepAdminRouter({ guard: core.auth.admin, scep: service, challenges, bodyLimit: core.bodyLimit }) }],
      // Served on both listeners, before express: see src/http/scep-endpoint.ts.
      fronts: [{ ...endpoint, on: ['https', 'http'] }],
      // Requests still in flight have been answered: the RA's decryption thread can end.
      stop: () => decryptor.close(),
    }),
    service,
    challenges,
  };
}
