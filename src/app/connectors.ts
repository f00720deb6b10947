/**
 * Loads config/connectors/<id>.yaml, each file validated by the schema of
 * the module its `kind` names (connector-registry.ts), and builds the
 * connectors feature: each connector mounted at /connectors/<id>/, its
 * console's CAs trusted, its background work run, and the credential
 * pipeline's jobs handled.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Router } from 'express';
import type { Logger } from 'pino';
import { parse } from 'yaml';
import { z } from 'zod';
import { durationMs } from '../config/duration.js';
import { ConfigError, parseYamlDocument, placeholderNames, type Locate } from '../config/load.js';
import type { Connector } from '../connectors/connector.js';
import type { ConnectorContext, ConnectorModule, ConnectorSettings } from '../connectors/module.js';
import { CredentialPipeline, type ConnectorEntry } from '../connectors/pipeline.js';
import { EventIntake } from '../connectors/intake.js';
import { guard, type GuardOptions } from '../http/auth/authenticate.js';
import { BasicUsers } from '../http/auth/basic.js';
import { ClientCertAuth } from '../http/auth/strategies.js';
import type { ChallengeValidator } from '../protocols/scep/challenges.js';
import { DeliveryRepository } from '../store/deliveries.js';
import { EventRepository } from '../store/events.js';
import { ScepTransactionRepository } from '../store/scep.js';
import { fileProblems } from '../connectors/setting-file.js';
import { readCertificateSetting } from '../pki/certificate-files.js';
import { CONNECTOR_MODULES } from './connector-registry.js';
import { refuse, StartupError, type SettingProblem } from './errors.js';
import { every, feature, type CoreServices, type Feature } from './feature.js';
import { profilesValidatedBy } from './scep-challenge-connector.js';

const ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

export interface LoadedConnector {
  id: string;
  file: string;
  /** The module whose schema validated `settings`, and the only one they are handed to. */
  module: ConnectorModule;
  settings: ConnectorSettings;
  /** Where a setting is in the file (file:line:col). */
  locate: Locate;
}

export interface ConnectorFiles {
  /** The files that are valid. */
  loaded: LoadedConnector[];
  /** What is wrong with the others, at file:line:col. */
  problems: string[];
  /** The environment variables the files' ${VAR} placeholders name, valid or not. */
  variables: string[];
}

/**
 * A file whose kind names no connector is checked for its kind (and its
 * ${VAR}s) only: the rest of its keys mean nothing without one.
 */
const kindOnly = z.looseObject({ kind: z.enum(CONNECTOR_MODULES.map((m) => m.kind)) });

/** Reads and validates every connector file; problems are reported per file, line and column. */
export function loadConnectorFiles(dir: string): LoadedConnector[] {
  const { loaded, problems } = readConnectorFiles(dir);
  if (problems.length > 0) throw new ConfigError(problems);
  return loaded;
}

/** One connector's file, read and validated alone, so that another file's mistakes do not stop it being tried. */
export function loadConnectorFile(dir: string, id: string): LoadedConnector {
  if (!ID.test(id)) throw new StartupError(`a connector id is lower-case letters, digits and dashes, the name of its file in ${dir}`);
  const names = connectorFileNames(dir);
  const name = names.find((f) => f.replace(/\.ya?ml$/, '') === id);
  if (!name) {
    const known = names.map((f) => f.replace(/\.ya?ml$/, ''));
    throw new StartupError(
      `no connector "${id}": ${dir} has no ${id}.yaml (${known.length > 0 ? `connectors: ${known.join(', ')}` : 'it has none; copy one from config/connectors/examples/'})`,
    );
  }
  const { loaded, problems } = readConnectorFile(dir, name);
  if (problems.length > 0 || !loaded) throw new ConfigError(problems);
  return loaded;
}

const connectorFileNames = (dir: string): string[] =>
  existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => /\.ya?ml$/.test(f))
        .sort()
    : [];

/** Every connector file, the valid ones loaded and the others' problems listed. */
export function readConnectorFiles(dir: string): ConnectorFiles {
  let names: string[];
  try {
    names = connectorFileNames(dir);
  } catch (err) {
    return { loaded: [], problems: [`connectors.dir: cannot read ${dir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`], variables: [] };
  }
  const read = names.map((f) => readConnectorFile(dir, f));
  return {
    loaded: read.flatMap((r) => (r.loaded ? [r.loaded] : [])),
    problems: read.flatMap((r) => r.problems),
    variables: read.flatMap((r) => r.variables),
  };
}

/** One connector file: loaded when valid, its problems at file:line:col otherwise, and the ${VAR}s it names either way. */
function readConnectorFile(dir: string, name: string): { loaded?: LoadedConnector; problems: string[]; variables: string[] } {
  const file = join(dir, name);
  const id = basename(name).replace(/\.ya?ml$/, '');
  if (!ID.test(id)) return { problems: [`${file}: the file name is the connector id and must be lower-case letters, digits and dashes`], variables: [] };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { problems: [`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`], variables: [] };
  }
  const variables = placeholderNames(text);
  let kind: unknown;
  try {
    kind = (parse(text) as { kind?: unknown } | null)?.kind;
  } catch {
    kind = undefined; // parsing below reports the YAML error with its position
  }
  const module = CONNECTOR_MODULES.find((m) => m.kind === kind);
  try {
    const { data, locate } = parseYamlDocument(text, file, module?.schema ?? kindOnly);
    return { ...(module && { loaded: { id, file, module, settings: data as ConnectorSettings, locate } }), problems: [], variables };
  } catch (err) {
    if (err instanceof ConfigError) return { problems: err.problems, variables };
    throw err;
  }
}

/**
 * The templates a connector issues from, each with the key that names it in
 * the file: policy.enrolled, or for device templates the vendor's own key
 * its module derives them from (ConnectorModule.templateKeys).
 */
function policyTemplates(c: LoadedConnector): [path: (string | number)[], template: string][] {
  const { enrolled, deviceTemplates = [] } = c.settings.policy;
  const derived = c.module.templateKeys?.(c.settings) ?? [];
  // An `{ unmanaged: … }` slot names no template: the person's upload fills it.
  const named = (key: 'signing' | 'encryption'): [string[], string][] => {
    const t = enrolled[key];
    return typeof t === 'string' ? [[['policy', 'enrolled', key], t]] : [];
  };
  return [
    ...named('signing'),
    ...named('encryption'),
    ...deviceTemplates.map((t): [(string | number)[], string] => [derived.find(([, to]) => to === t)?.[0] ?? ['policy', 'deviceTemplates'], t]),
  ];
}

/** Every template a connector issues from must exist. */
export function connectorPolicyProblems(loaded: LoadedConnector[], templates: string[]): SettingProblem[] {
  return loaded.flatMap((c) =>
    policyTemplates(c)
      .filter(([, t]) => !templates.includes(t))
      .map(([path, t]) => ({ file: c.file, path, message: `${path.join('.')}: no template named "${t}" (configured: ${templates.join(', ')})` })),
  );
}

/** The first template a connector's policy names that the configuration does not define, as the line that says so (file:line:col). */
export function missingTemplate(c: LoadedConnector, templates: string[]): string | undefined {
  const problem = connectorPolicyProblems([c], templates)[0];
  return problem && `${c.locate(problem.path) ?? c.file} ${problem.message}`;
}

const readInboundTrust = (path: string, i: number) => readCertificateSetting(path, `inbound.clientCertificates.trust[${i}]`);

/** The CAs (PEM) that issue a connector's console certificates, each file holding certificates that parse. */
function inboundTrust(c: LoadedConnector): string[] {
  return (c.settings.inbound?.clientCertificates?.trust ?? []).map((p, i) => {
    try {
      return readInboundTrust(p, i);
    } catch (err) {
      throw new StartupError(`${c.file} ${(err as Error).message}`);
    }
  });
}

/** Every file the connector files name that cannot be used as start-up would use it. */
export function connectorFileProblems(loaded: LoadedConnector[]): SettingProblem[] {
  return loaded.flatMap((c) => {
    const trust = fileProblems(
      (c.settings.inbound?.clientCertificates?.trust ?? []).map((p, i) => [['inbound', 'clientCertificates', 'trust', i], () => readInboundTrust(p, i)]),
    );
    return [...trust, ...(c.module.checkFiles?.(c.settings) ?? [])].map((p) => ({ ...p, file: c.file }));
  });
}

export interface RunningConnector extends ConnectorEntry {
  id: string;
  router?: Router;
}

export function createConnectors(loaded: LoadedConnector[], ctx: (c: LoadedConnector) => ConnectorContext, templates: string[]): RunningConnector[] {
  refuse(connectorPolicyProblems(loaded, templates));
  return loaded.map((c) => {
    let connector: Connector;
    try {
      connector = c.module.create(c.settings, ctx(c));
    } catch (err) {
      // Connectors name the setting whose file or key is unusable; the operator also needs the file.
      throw new StartupError(`${c.file} ${(err as Error).message}`);
    }
    const router = connector.router?.();
    return { id: c.id, connector, policy: c.settings.policy, ...(router && { router }) };
  });
}

export function startConnectors(connectors: RunningConnector[], signal: AbortSignal, log: Logger): void {
  for (const c of connectors) {
    void c.connector.start?.(signal).catch((err: unknown) => log.error({ err, connector: c.id }, 'connector background work stopped'));
  }
}

/** The connectors feature, with what the gateway and the SCEP feature need of its connectors. */
export interface WiredConnectors extends Feature {
  /** Queues renewals for one connector now (the timer does this every `policy.renewal.checkEvery`). */
  scheduleRenewals(connectorId: string, now?: number): Promise<number[]>;
  /** The SCEP challenge validator of a connector that has one (ConnectorModule.scepChallenges). */
  scepValidator(connectorId: string): ChallengeValidator | undefined;
}

export function buildConnectors(core: CoreServices, loaded: LoadedConnector[]): WiredConnectors {
  const { config, db, issuance, log } = core;
  const { passport, clientCertTrust } = core.auth;
  const queue = core.jobs.queue;
  const events = new EventRepository(db);
  const scepTransactions = new ScepTransactionRepository(db);
  const intake = new EventIntake({ db, events, queue, log: log.child({ component: 'intake' }) });

  const inboundGuard = (c: LoadedConnector) => {
    const { basic, clientCertificates } = c.settings.inbound ?? { basic: [] };
    const principal = { principal: `console:${c.id}`, roles: ['connector'] };
    const opts: GuardOptions = { methods: [], strategies: {} };
    if (clientCertificates) {
      // A console certificate chains to this connector's CAs or the listener's own, never to another connector's or a PIV issuer's.
      const anchors = [...inboundTrust(c), ...clientCertTrust.anchors];
      opts.clientCert = new ClientCertAuth(
        clientCertificates.allow.map((rule) => ({ ...rule, ...principal })),
        { ...clientCertTrust, anchors },
      );
      passport.use(`client-cert:${c.id}`, opts.clientCert.strategy());
      opts.methods.push('client-cert');
      opts.strategies!['client-cert'] = `client-cert:${c.id}`;
    }
    if (basic.length > 0) {
      opts.basic = new BasicUsers(basic.map((u) => ({ ...u, ...principal })));
      opts.methods.push('basic');
    }
    return guard(passport, opts);
  };

  const running = createConnectors(
    loaded,
    (c) => ({
      id: c.id,
      log: log.child({ connector: c.id }),
      intake,
      inboundGuard: inboundGuard(c),
      bodyLimit: core.bodyLimit,
      db,
      pki: {
        issuer: issuance.issuer,
        certificates: issuance.certificates,
        caOf: (t) => issuance.issuer.caOf(t)!,
        revoker: issuance.revoker,
        audit: issuance.audit,
        // Its own issuance and that of the SCEP profiles it validates: what the MDM had a hand in.
        issuedThrough: async (serial) => {
          if ((await issuance.audit.issuedBy(`connector:${c.id}`, [serial])).size > 0) return true;
          const profiles = profilesValidatedBy(config, c.id);
          return profiles.length > 0 && (await scepTransactions.issuedIn(profiles, serial));
        },
      },
    }),
    issuance.issuer.templateNames(),
  );
  const byId = new Map(running.map((c) => [c.id, c]));
  const pipeline = new CredentialPipeline({
    db,
    events,
    deliveries: new DeliveryRepository(db),
    certificates: issuance.certificates,
    issuer: issuance.issuer,
    recovery: issuance.recovery,
    keys: issuance.escrowedKeys,
    unmanaged: issuance.unmanaged,
    revoker: issuance.revoker,
    audit: issuance.audit,
    queue,
    master: issuance.master,
    connector: (id) => byId.get(id),
    log: log.child({ component: 'pipeline' }),
  });

  const renewals = (id: string) => void pipeline.scheduleRenewals(id).catch((err: unknown) => log.error({ err, connector: id }, 'renewal check failed'));
  return {
    ...feature({
      // The surfaces that carry the volume: the gateway lists this feature first.
      mounts: running.filter((c) => c.router).map((c) => ({ path: `/connectors/${c.id}`, router: c.router! })),
      clientCas: loaded.flatMap(inboundTrust),
      handlers: pipeline.handlers(),
      readiness: running.flatMap(({ id, connector }) => (connector.readiness ? [{ name: `connector:${id}`, check: () => connector.readiness!() }] : [])),
      start(signal) {
        startConnectors(running, signal, log);
        for (const c of running) every(durationMs(c.policy.renewal.checkEvery), signal, () => renewals(c.id));
      },
    }),
    scheduleRenewals: (id, now) => pipeline.scheduleRenewals(id, now),
    scepValidator: (id) => byId.get(id)?.connector.scepValidator?.(),
  };
}
