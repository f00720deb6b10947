/**
 * The composition root: builds the object graph from configuration and
 * starts serving. Only this module (and the CLI) wires concrete
 * implementations together.
 */
import type { Server } from 'node:https';
import type { Server as PlainServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import passportPkg from 'passport';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { durationMs, sizeBytes } from '../config/duration.js';
import { createApp } from '../http/app.js';
import { guard, type GuardOptions } from '../http/auth/authenticate.js';
import { BasicUsers } from '../http/auth/basic.js';
import { bearerStrategy, ClientCertAuth } from '../http/auth/strategies.js';
import { adminRouter } from '../http/routes/admin.js';
import { connectorsRouter } from '../http/routes/connectors.js';
import { certificateRouter } from '../http/routes/certificates.js';
import { pkiRouter } from '../http/routes/pki.js';
import { scepAdminRouter } from '../http/routes/scep.js';
import { scepEndpoint, withScepEndpoint } from '../http/scep-endpoint.js';
import { requestObserver } from '../http/request-metrics.js';
import { otaAdminRouter, otaRouter } from '../http/routes/ota.js';
import { opsRouter } from '../http/routes/ops.js';
import { metricsRouter } from '../http/routes/metrics.js';
import { directoryRouter } from '../http/routes/directory.js';
import { mobileAgentRouter } from '../http/routes/mobile-agent.js';
import { mobileIdsRouter } from '../http/routes/mobile-ids.js';
import { listen, listenPlain, ListenError } from '../http/server.js';
import { JobQueue } from '../jobs/queue.js';
import { JobWorker, type JobHandler } from '../jobs/worker.js';
import { createMetrics } from '../observability/metrics.js';
import { checkpointInBackground, ping, type Db } from '../store/db.js';
import { JobRepository } from '../store/jobs.js';
import { TokenRepository } from '../store/tokens.js';
import { dbSettings, openDatabase } from './database.js';
import type { WalCheckpointer } from '../store/wal-checkpointer.js';
import { StartupError } from './errors.js';
import { connectorTrust, loadConnectorFiles, wireConnectors, type WiredConnectors } from './connectors.js';
import { listConnector, logLoadedConnectors } from './connector-listing.js';
import { testConnector } from './connector-test.js';
import { buildIssuance, type Issuance } from './issuance.js';
import { buildScep } from './scep.js';
import { buildOta } from './ota.js';
import { buildMobile, type Mobile } from './mobile.js';
import { buildDerived, type Derived } from './derived.js';
import type { OtaService } from '../protocols/ota/service.js';
import { ensurePki, loadMasterKey, loadTlsIdentity } from './pki-setup.js';

export interface Gateway {
  url: string;
  port: number;
  /** Port of the plain-HTTP listener for /scep and /pki, when server.http configures one. */
  httpPort?: number;
  /** Port of the plain-HTTP /metrics listener, when metrics.listener configures one. */
  metricsPort?: number;
  db: Db;
  queue: JobQueue;
  worker: JobWorker;
  issuance: Issuance;
  connectors: WiredConnectors;
  /** iOS OTA enrollment; undefined when ota.enabled is false. */
  ota: OtaService | undefined;
  mobile: Mobile;
  stop(): Promise<void>;
}

export interface GatewayOptions {
  config: Config;
  log: Logger;
  /** Extra job handlers (tests and connectors register theirs here). */
  handlers?: Record<string, JobHandler>;
}

export async function startGateway({ config, log, handlers = {} }: GatewayOptions): Promise<Gateway> {
  const masterKey = loadMasterKey(config, { create: true });
  const connectorFiles = loadConnectorFiles(config.connectors.dir);
  await ensurePki(config, masterKey, log);
  const tls = loadTlsIdentity(config, masterKey);
  const adminAnchors = [...tls.clientCaPem];
  tls.clientCaPem.push(...connectorTrust(connectorFiles));
  const db = await openDatabase(config.database, log);
  let checkpoints: WalCheckpointer | undefined;
  const closeDb = async () => {
    await checkpoints?.stop();
    await db.destroy();
  };
  try {
    // SQLite: WAL checkpoints off the event loop, stopped before the pool closes.
    checkpoints = await checkpointInBackground(db, dbSettings(config.database), (message) =>
      log.warn({ error: message }, 'SQLite WAL checkpoint failed; the next one retries'),
    );
    return await serve({ config, log, handlers, masterKey, connectorFiles, tls, adminAnchors, db, closeDb });
  } catch (err) {
    // A pool left open keeps its reaping timer, and with it the process, alive.
    await closeDb();
    throw err;
  }
}

interface Opened {
  config: Config;
  log: Logger;
  handlers: Record<string, JobHandler>;
  masterKey: ReturnType<typeof loadMasterKey>;
  connectorFiles: ReturnType<typeof loadConnectorFiles>;
  tls: ReturnType<typeof loadTlsIdentity>;
  /** The CAs of auth.clientCertificates.trust, before connectors and PIV issuers add theirs to the listener. */
  adminAnchors: string[];
  db: Db;
  closeDb(): Promise<void>;
}

/** Builds and starts everything on the open database; startGateway closes it when this throws. */
async function serve({ config, log, handlers, masterKey, connectorFiles, tls, adminAnchors, db, closeDb }: Opened): Promise<Gateway> {
  const baseUrl = (config.server.publicUrl ?? `https://localhost:${config.server.port}`).replace(/\/$/, '');
  const issuance = buildIssuance(config, db, masterKey, baseUrl, log);
  // Connectors are wired below; a SCEP profile reaches its connector's validator only once requests arrive.
  const scep = buildScep(config, db, issuance, masterKey, log, { files: connectorFiles, validator: (id) => connectors.scepValidator(id) });
  const ota = buildOta(config, db, issuance, scep, masterKey, baseUrl, log);
  const mobile = buildMobile(config, db, issuance, masterKey, baseUrl, log);
  const derived = buildDerived(config, db, issuance, mobile, masterKey, baseUrl, log);
  tls.clientCaPem.push(...derived.trustPem);

  const jobsRepo = new JobRepository(db);
  const tokens = new TokenRepository(db);
  const queue = new JobQueue(jobsRepo, config.jobs.maxAttempts);
  const worker = new JobWorker(
    jobsRepo,
    queue,
    {
      concurrency: config.jobs.workers,
      pollIntervalMs: durationMs(config.jobs.pollInterval),
      leaseMs: durationMs(config.jobs.lease),
      backoff: { baseMs: durationMs(config.jobs.backoff.base), maxMs: durationMs(config.jobs.backoff.max) },
    },
    log.child({ component: 'jobs' }),
  );
  for (const [type, handler] of Object.entries(handlers)) worker.register(type, handler);

  const passport = new passportPkg.Passport();
  const issuedHere = (sha256: string) => issuance.certificates.hasSha256(sha256);
  const adminCerts = new ClientCertAuth(config.auth.clientCertificates.allow, { anchors: adminAnchors, issuedHere });
  passport.use('client-cert', adminCerts.strategy());
  passport.use('bearer', bearerStrategy(tokens));
  const adminBasic = new BasicUsers(config.auth.basic);

  const adminGuard = (opts: GuardOptions) => guard(passport, { clientCert: adminCerts, basic: adminBasic, ...opts });

  const connectors = wireConnectors({
    loaded: connectorFiles,
    passport,
    db,
    queue,
    worker,
    issuance,
    bodyLimit: sizeBytes(config.server.bodyLimit),
    clientCertTrust: { anchors: adminAnchors, issuedHere },
    scepProfilesOf: (id) => Object.entries(config.scep.profiles).filter(([, p]) => typeof p.challenge === 'object' && 'intune' in p.challenge && p.challenge.intune === id).map(([name]) => name),
    log,
  });

  // The base URL consoles are given; with port 0 (tests) it is known once the listener is up.
  let consoleBase = baseUrl;
  const connectorsApi = connectorsRouter({
    guard: adminGuard,
    list: () => connectorFiles.map((c) => listConnector(c, consoleBase)),
    test: async (id) => {
      const c = connectorFiles.find((f) => f.id === id);
      return c && testConnector(c);
    },
  });

  const metrics = config.metrics.enabled ? createMetrics() : undefined;
  metrics?.setQueueDepthSource(() => jobsRepo.countByStatus());

  const observe = metrics && requestObserver(metrics);
  // On the HTTPS listener, or only on its own when metrics.listener configures one.
  const metricsMount = metrics && { path: '/', router: metricsRouter({ registry: metrics.registry, access: config.metrics }) };
  // Served on HTTPS and, when configured, on plain HTTP; SCEP in front of express (see scep-endpoint.ts).
  const publicMounts = [{ path: '/pki', router: pkiRouter({ ...issuance, defaultCa: config.pki.defaultCa }) }];
  const scepHttp = scepEndpoint({ scep: scep.service, log, ...(observe && { observe }) });
  const app = createApp({
    log,
    ...(observe && { observe }),
    trustProxy: config.server.trustProxy,
    // Express tries mounts in order and the prefixes do not overlap: the
    // surfaces that carry the volume (console events) come first.
    mounts: [
      ...connectors.mounts,
      ...publicMounts,
      {
        path: '/',
        router: opsRouter({
          log,
          checks: [
            { name: 'database', check: () => ping(db).then(() => 'ok') },
            {
              name: 'workers',
              check: async () => (config.jobs.workers === 0 ? 'disabled' : worker.isRunning ? 'running' : false),
            },
          ],
        }),
      },
      ...(metricsMount && !config.metrics.listener ? [metricsMount] : []),
      {
        path: '/api/v1',
        router: adminRouter({ guard: adminGuard, jobs: jobsRepo, wakeWorkers: () => queue.wake(), bodyLimit: sizeBytes(config.server.bodyLimit) }),
      },
      { path: '/api/v1', router: connectorsApi },
      {
        path: '/api/v1',
        router: certificateRouter({ guard: adminGuard, bodyLimit: sizeBytes(config.server.bodyLimit), ...issuance }),
      },
      {
        path: '/api/v1',
        router: scepAdminRouter({ guard: adminGuard, scep: scep.service, challenges: scep.challenges, bodyLimit: sizeBytes(config.server.bodyLimit) }),
      },
      { path: '/api/v1', router: directoryRouter({ guard: adminGuard, directory: mobile.directory, bodyLimit: sizeBytes(config.server.bodyLimit) }) },
      { path: '/api/v1', router: mobileIdsRouter({ guard: adminGuard, ...mobile, bodyLimit: sizeBytes(config.server.bodyLimit) }) },
      ...(config.mobile.enabled ? [{ path: '/mobile/v1', router: mobileAgentRouter(mobile) }] : []),
      ...derived.mounts(adminGuard, sizeBytes(config.server.bodyLimit)),
      ...(ota
        ? [
            { path: '/api/v1', router: otaAdminRouter({ guard: adminGuard, ota, bodyLimit: sizeBytes(config.server.bodyLimit) }) },
            { path: '/ota', router: otaRouter({ ota }) },
          ]
        : []),
    ],
  });

  let server: Server;
  let plain: PlainServer | undefined;
  let metricsServer: PlainServer | undefined;
  const closeOnFailure = async (err: unknown): Promise<never> => {
    await Promise.all([server, plain].map((srv) => srv && new Promise((resolve) => srv.close(resolve))));
    throw err;
  };
  try {
    server = await listen(withScepEndpoint(scepHttp, app), { host: config.server.host, port: config.server.port, ...tls });
    if (config.server.http) {
      const publicApp = createApp({ log, ...(observe && { observe }), trustProxy: config.server.trustProxy, mounts: publicMounts });
      plain = await listenPlain(withScepEndpoint(scepHttp, publicApp), { host: config.server.http.host ?? config.server.host, port: config.server.http.port }).catch(closeOnFailure);
    }
    if (metricsMount && config.metrics.listener) {
      const metricsApp = createApp({ log, trustProxy: config.server.trustProxy, mounts: [metricsMount] });
      metricsServer = await listenPlain(metricsApp, config.metrics.listener, 'metrics.listener.port').catch(closeOnFailure);
    }
  } catch (err) {
    if (err instanceof ListenError) throw new StartupError(err.message);
    throw err;
  }
  worker.start();
  issuance.start();
  mobile.start();
  derived.start();
  connectors.start();

  const port = (server.address() as AddressInfo).port;
  const httpPort = plain && (plain.address() as AddressInfo).port;
  const metricsPort = metricsServer && (metricsServer.address() as AddressInfo).port;
  const url = config.server.publicUrl ?? `https://localhost:${port}`;
  consoleBase = url.replace(/\/$/, '');
  logLoadedConnectors(connectorFiles, consoleBase, log);
  return {
    url,
    port,
    ...(httpPort !== undefined && { httpPort }),
    ...(metricsPort !== undefined && { metricsPort }),
    db,
    queue,
    worker,
    issuance,
    connectors,
    ota,
    mobile,
    async stop() {
      connectors.stop();
      issuance.stop();
      mobile.stop();
      derived.stop();
      const closed = Promise.all([server, plain, metricsServer].map((srv) => srv && new Promise<void>((resolve) => srv.close(() => resolve()))));
      server.closeIdleConnections();
      plain?.closeIdleConnections();
      metricsServer?.closeIdleConnections();
      await worker.stop();
      setTimeout(() => {
        server.closeAllConnections();
        plain?.closeAllConnections();
        metricsServer?.closeAllConnections();
      }, 5_000).unref();
      await closed;
      await scep.stop();
      await issuance.keyPool.idle();
      await closeDb();
    },
  };
}
