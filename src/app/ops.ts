/**
 * What operators and orchestrators probe: /healthz and /readyz, with the
 * database's and the job workers' readiness and every feature's, and the
 * Prometheus /metrics, on the HTTPS listener or on its own
 * (metrics.listener).
 */
import { metricsRouter } from '../http/routes/metrics.js';
import { opsRouter, type ReadinessCheck } from '../http/routes/ops.js';
import { ping } from '../store/db.js';
import { feature, type CoreServices, type Feature } from './feature.js';

/** `readiness`: every feature's checks, this one's among them, read per request. */
export function buildOps({ config, db, jobs, log }: CoreServices, readiness: () => ReadinessCheck[]): Feature {
  return feature({
    mounts: [{ path: '/', router: opsRouter({ log, checks: readiness }) }],
    readiness: [
      { name: 'database', check: () => ping(db).then(() => 'ok') },
      { name: 'workers', check: async () => (config.jobs.workers === 0 ? 'disabled' : jobs.worker.isRunning ? 'running' : false) },
    ],
  });
}

export function buildMetrics({ config, metrics, jobs }: CoreServices): Feature {
  if (!metrics) return feature({});
  metrics.setQueueDepthSource(() => jobs.repository.countByStatus());
  return feature({
    mounts: [{ path: '/', router: metricsRouter({ registry: metrics.registry, access: config.metrics }), on: [config.metrics.listener ? 'metrics' : 'https'] }],
  });
}
