/**
 * Loads config/connectors/<id>.yaml, builds each connector with its vendor
 * module, mounts its routes at /connectors/<id>/ and runs its background
 * work. The vendor modules are listed here: only the composition root
 * imports connectors/.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Router } from 'express';
import type { Logger } from 'pino';
import { parse } from 'yaml';
import { durationMs } from '../config/duration.js';
import { ConfigError, parseYaml } from '../config/load.js';
import type { Connector, ConnectorKind } from '../connectors/connector.js';
import type { ConnectorContext, ConnectorModule, ConnectorSettings } from '../connectors/module.js';
import { CredentialPipeline, type ConnectorEntry } from '../connectors/pipeline.js';
import { EventIntake } from '../connectors/intake.js';
import { guard, type GuardOptions } from '../http/auth/authenticate.js';
import { BasicUsers } from '../http/auth/basic.js';
import { ClientCertAuth, type ClientCertTrust } from '../http/auth/strategies.js';
import type { JobQueue } from '../jobs/queue.js';
import type { JobWorker } from '../jobs/worker.js';
import type { ChallengeValidator } from '../protocols/scep/challenges.js';
import type { Db } from '../store/db.js';
import { DeliveryRepository } from '../store/deliveries.js';
import { EventRepository } from '../store/events.js';
import { ScepTransactionRepository } from '../store/scep.js';
import type { Issuance } from './issuance.js';
import type { PassportStatic } from 'passport';

type Authenticator = InstanceType<PassportStatic['Passport']>;
import { workspaceOne } from '../../connectors/workspace-one/index.js';
import { citrix } from '../../connectors/citrix/index.js';
import { mobileIron } from '../../connectors/mobileiron/index.js';
import { intune } from '../../connectors/intune/index.js';
import { StartupError } from './errors.js';

const MODULES: ConnectorModule[] = [workspaceOne as unknown as ConnectorModule, mobileIron as unknown as ConnectorModule, citrix as unknown as ConnectorModule, intune as unknown as ConnectorModule];
const ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

export interface LoadedConnector {
  id: string;
  file: string;
  settings: ConnectorSettings;
}

/** The vendor module of a kind the schema accepted. */
export function moduleOf(kind: ConnectorKind): ConnectorModule {
  return MODULES.find((m) => m.kind === kind)!;
}

/** Reads and validates one connector file; its problems come back per line and column. */
function readConnectorFile(dir: string, name: string): { loaded?: LoadedConnector; problems: string[] } {
  const file = join(dir, name);
  const id = basename(name).replace(/\.ya?ml$/, '');
  if (!ID.test(id)) return { problems: [`${file}: the file name is the connector id and must be lower-case letters, digits and dashes`] };
  const text = readFileSync(file, 'utf8');
  let kind: unknown;
  try {
    kind = (parse(text) as { kind?: unknown } | null)?.kind;
  } catch {
    kind = undefined; // parseYaml below reports the YAML error with its position
  }
  const module = MODULES.find((m) => m.kind === kind);
  if (!module && kind !== undefined) {
    return { problems: [`${file} kind: expected one of ${MODULES.map((m) => JSON.stringify(m.kind)).join(', ')}, got ${JSON.stringify(kind)}`] };
  }
  try {
    return { loaded: { id, file, settings: parseYaml(text, file, module?.schema ?? MODULES[0]!.schema) }, problems: [] };
  } catch (err) {
    if (err instanceof ConfigError) return { problems: err.problems };
    throw err;
  }
}

const connectorFileNames = (dir: string) =>
  existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => /\.ya?ml$/.test(f))
        .sort()
    : [];

/** Reads and validates every connector file; problems are reported per file, line and column. */
export function loadConnectorFiles(dir: string): LoadedConnector[] {
  const read = connectorFileNames(dir).map((f) => readConnectorFile(dir, f));
  const problems = read.flatMap((r) => r.problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return read.map((r) => r.loaded!);
}

/** One connector's file, read and validated alone, so that another file's mistakes do not stop it being tried. */
export function loadConnectorFile(dir: string, id: string): LoadedConnector {
  if (!ID.test(id)) throw new StartupError(`a connector id is lower-case letters, digits and dashes, the name of its file in ${dir}`);
  const names = connectorFileNames(dir);
  const name = names.find((f) => f.replace(/\.ya?ml$/, '') === id);
  if (!name) {
    const known = names.map((f) => f.replace(/\.ya?ml$/, ''));
    throw new StartupError(`no connector "${id}": ${dir} has no ${id}.yaml (${known.length > 0 ? `connectors: ${known.join(', ')}` : 'it has none; copy one from config/connectors/examples/'})`);
  }
  const { loaded, problems } = readConnectorFile(dir, name);
  if (problems.length > 0) throw new ConfigError(problems);
  return loaded!;
}

/** The first template a connector's policy names that the configuration does not define, as the line that says so. */
export function missingTemplate(c: LoadedConnector, templates: string[]): string | undefined {
  const { enrolled, deviceTemplates = [] } = c.settings.policy;
  const missing = [enrolled.signing, enrolled.encryption, ...deviceTemplates].find((t) => t !== undefined && !templates.includes(t));
  return missing === undefined ? undefined : `${c.file}: no template named "${missing}" (known: ${templates.join(', ')})`;
}

export interface RunningConnector extends ConnectorEntry {
  id: string;
  router?: Router;
}

export function createConnectors(
  loaded: LoadedConnector[],
  ctx: (c: LoadedConnector) => ConnectorContext,
  templates: string[],
): RunningConnector[] {
  return loaded.map((c) => {
    const missing = missingTemplate(c, templates);
    if (missing) throw new StartupError(missing);
    const module = moduleOf(c.settings.kind);
    let connector: Connector;
    try {
      connector = module.create(c.settings, ctx(c));
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

/** Everything the running gateway needs from its connectors. */
export interface WiredConnectors {
  mounts: { path: string; router: Router }[];
  /** Queues renewals for one connector now (the timer does this every `policy.renewal.checkEvery`). */
  scheduleRenewals(connectorId: string, now?: number): Promise<number[]>;
  /** The SCEP challenge validator of a connector that has one (Intune). */
  scepValidator(connectorId: string): ChallengeValidator | undefined;
  start(): void;
  stop(): void;
}

export function wireConnectors(deps: {
  loaded: LoadedConnector[];
  passport: Authenticator;
  db: Db;
  queue: JobQueue;
  worker: JobWorker;
  issuance: Issuance;
  bodyLimit: number;
  /** The listener's own client CAs (auth.clientCertificates.trust), which may also issue console certificates. */
  clientCertTrust: ClientCertTrust;
  /** Names of the SCEP profiles whose challenges a connector validates. */
  scepProfilesOf(connectorId: string): string[];
  log: Logger;
}): WiredConnectors {
  const { passport, db, queue, issuance, log } = deps;
  const events = new EventRepository(db);
  const scepTransactions = new ScepTransactionRepository(db);
  const intake = new EventIntake({ db, events, queue, log: log.child({ component: 'intake' }) });

  const inboundGuard = (c: LoadedConnector) => {
    const { basic, clientCertificates } = c.settings.inbound ?? { basic: [] };
    const principal = { principal: `console:${c.id}`, roles: ['connector'] };
    const opts: GuardOptions = { methods: [], strategies: {} };
    if (clientCertificates) {
      // A console certificate chains to this connector's CAs or the listener's own, never to another connector's or a PIV issuer's.
      const anchors = [...clientCertificates.trust.map((p) => readFileSync(p, 'utf8')), ...deps.clientCertTrust.anchors];
      opts.clientCert = new ClientCertAuth(
        clientCertificates.allow.map((rule) => ({ ...rule, ...principal })),
        { ...deps.clientCertTrust, anchors },
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
    deps.loaded,
    (c) => ({
      id: c.id,
      log: log.child({ connector: c.id }),
      intake,
      inboundGuard: inboundGuard(c),
      bodyLimit: deps.bodyLimit,
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
          const profiles = deps.scepProfilesOf(c.id);
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
    revoker: issuance.revoker,
    audit: issuance.audit,
    queue,
    master: issuance.master,
    connector: (id) => byId.get(id),
    log: log.child({ component: 'pipeline' }),
  });
  for (const [type, handler] of Object.entries(pipeline.handlers())) deps.worker.register(type, handler);

  const abort = new AbortController();
  const timers: NodeJS.Timeout[] = [];
  const renewals = (id: string) =>
    void pipeline.scheduleRenewals(id).catch((err: unknown) => log.error({ err, connector: id }, 'renewal check failed'));
  return {
    mounts: running.filter((c) => c.router).map((c) => ({ path: `/connectors/${c.id}`, router: c.router! })),
    scheduleRenewals: (id, now) => pipeline.scheduleRenewals(id, now),
    scepValidator: (id) => byId.get(id)?.connector.scepValidator?.(),
    start() {
      startConnectors(running, abort.signal, log);
      for (const c of running) {
        const t = setInterval(() => renewals(c.id), durationMs(c.policy.renewal.checkEvery));
        t.unref();
        timers.push(t);
      }
    },
    stop() {
      abort.abort();
      for (const t of timers) clearInterval(t);
    },
  };
}

/** PEM CA bundles the listener must add so consoles' client certificates verify. */
export function connectorTrust(loaded: LoadedConnector[]): string[] {
  return loaded.flatMap((c) => c.settings.inbound?.clientCertificates?.trust ?? []).map((p) => readFileSync(p, 'utf8'));
}
