/** Liveness and readiness for operators and orchestrators (metrics: metrics.ts). */
import { Router } from 'express';
import type { Logger } from 'pino';

export interface ReadinessCheck {
  name: string;
  /** Resolves to a short status ("ok", "running"); rejects or returns false when not ready. */
  check(): Promise<string | false>;
}

/**
 * /readyz is public (orchestrators probe it unauthenticated), so a failed
 * check answers "failed" only; why (a database error naming hosts and
 * users) goes to the log. The checks are read per request: features
 * built after this router add theirs.
 */
export function opsRouter(opts: { checks: () => ReadinessCheck[]; log: Logger }): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const results: Record<string, string> = {};
    let ready = true;
    await Promise.all(
      opts.checks().map(async (c) => {
        try {
          const r = await c.check();
          results[c.name] = r === false ? 'not ready' : r;
          if (r === false) ready = false;
        } catch (err) {
          results[c.name] = 'failed';
          ready = false;
          opts.log.warn({ check: c.name, error: err instanceof Error ? err.message : String(err) }, 'readiness check failed');
        }
      }),
    );
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks: results });
  });
  return router;
}
