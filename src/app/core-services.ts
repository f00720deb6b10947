/**
 * The services every feature is built from (feature.ts), on the open
 * database: the issuance core, the job queue and worker, the admin API's
 * authentication, and metrics when they are on.
 */
import passportPkg from 'passport';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { durationMs, sizeBytes } from '../config/duration.js';
import { guard, type GuardAccess } from '../http/auth/authenticate.js';
import type { Principal } from '../http/auth/principal.js';
import { OperatorScope } from '../identity/scope.js';
import { PersonRepository } from '../store/people.js';
import { BasicUsers } from '../http/auth/basic.js';
import { bearerStrategy, ClientCertAuth, type ClientCertTrust } from '../http/auth/strategies.js';
import { requestObserver } from '../http/request-metrics.js';
import { JobQueue } from '../jobs/queue.js';
import { JobWorker } from '../jobs/worker.js';
import { createMetrics } from '../observability/metrics.js';
import type { Db } from '../store/db.js';
import { JobRepository } from '../store/jobs.js';
import { TokenRepository } from '../store/tokens.js';
import type { CoreServices } from './feature.js';
import { buildIssuance } from './issuance.js';

export function buildCoreServices(opts: {
  config: Config;
  log: Logger;
  db: Db;
  masterKey: Buffer;
  /** The CAs of auth.clientCertificates.trust (PEM). */
  adminAnchors: string[];
  consoleUrl(): string;
}): CoreServices {
  const { config, log, db, masterKey } = opts;
  const baseUrl = (config.server.publicUrl ?? `https://localhost:${config.server.port}`).replace(/\/$/, '');
  const issuance = buildIssuance({ config, db, masterKey, baseUrl, log });

  const repository = new JobRepository(db);
  const queue = new JobQueue(repository, config.jobs.maxAttempts);
  const worker = new JobWorker(
    repository,
    queue,
    {
      concurrency: config.jobs.workers,
      pollIntervalMs: durationMs(config.jobs.pollInterval),
      leaseMs: durationMs(config.jobs.lease),
      backoff: { baseMs: durationMs(config.jobs.backoff.base), maxMs: durationMs(config.jobs.backoff.max) },
    },
    log.child({ component: 'jobs' }),
  );

  const passport = new passportPkg.Passport();
  const clientCertTrust: ClientCertTrust = { anchors: opts.adminAnchors, issuedHere: (sha256) => issuance.certificates.hasSha256(sha256) };
  const adminCerts = new ClientCertAuth(config.auth.clientCertificates.allow, clientCertTrust);
  passport.use('client-cert', adminCerts.strategy());
  passport.use('bearer', bearerStrategy(new TokenRepository(db)));
  const adminBasic = new BasicUsers(config.auth.basic);
  const scope = new OperatorScope({ people: new PersonRepository(db), roles: config.auth.roles });
  const viewer = (p: Principal) => ({ actor: `${p.method}:${p.name}`, name: p.name, roles: p.roles });
  const access: GuardAccess = { rolesOf: async (p) => (await scope.resolve(viewer(p))).guardRoles, seesAll: (p) => scope.seesAll(viewer(p)) };

  const metrics = config.metrics.enabled ? createMetrics() : undefined;
  return {
    config,
    log,
    db,
    masterKey,
    baseUrl,
    consoleUrl: opts.consoleUrl,
    bodyLimit: sizeBytes(config.server.bodyLimit),
    issuance,
    jobs: { queue, repository, worker },
    auth: { passport, admin: (g) => guard(passport, { clientCert: adminCerts, basic: adminBasic, access, ...g }), clientCertTrust, scope },
    ...(metrics && { metrics, observe: requestObserver(metrics) }),
  };
}
