/** Prometheus metrics for operators, behind metrics-access.ts. */
import { Router } from 'express';
import type { Registry } from 'prom-client';
import { metricsAccess, type MetricsAccessOptions } from '../metrics-access.js';

export function metricsRouter(opts: { registry: Registry; access: MetricsAccessOptions }): Router {
  const router = Router();
  router.get('/metrics', metricsAccess(opts.access), async (_req, res) => {
    res.type(opts.registry.contentType).send(await opts.registry.metrics());
  });
  return router;
}
