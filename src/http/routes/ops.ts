/** Liveness, readiness and Prometheus metrics for operators and orchestrators. */
import { Router } from 'express';
import type { Registry } from 'prom-client';

export interface ReadinessCheck {
  name: string;
  /** Resolves to a short status ("ok", "running"); rejects or returns false when not ready. */
  check(): Promise<string | false>;
}

export function opsRouter(opts: { checks: ReadinessCheck[]; registry?: Registry }): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const results: Record<string, string> = {};
    let ready = true;
    await Promise.all(
      opts.checks.map(async (c) => {
        try {
          const r = await c.check();
          results[c.name] = r === false ? 'not ready' : r;
          if (r === false) ready = false;
        } catch (err) {
          results[c.name] = `failed: ${(err as Error).message}`;
          ready = false;
        }
      }),
    );
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks: results });
  });
  if (opts.registry) {
    const registry = opts.registry;
    router.get('/metrics', async (_req, res) => {
      res.type(registry.contentType).send(await registry.metrics());
    });
  }
  return router;
}
