/** The express application: security headers, request ids, metrics, routers, JSON errors. */
import express, { type Express, type RequestHandler, type Router } from 'express';
import helmet from 'helmet';
import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';
import { errorHandler, notFoundHandler } from './errors.js';
import { requestLogger } from './request-logging.js';

export interface Mount {
  path: string;
  router: Router;
}

function metricsMiddleware(metrics: Metrics): RequestHandler {
  // prom-client hashes a labels object on every observation; the children
  // for each (method, route, status) are looked up once and kept.
  const children = new Map<string, { count: { inc(): void }; duration: { observe(v: number): void } }>();
  return (req, res, next) => {
    const start = process.hrtime.bigint();
    res.once('finish', () => {
      // Route templates, not raw paths, keep label cardinality bounded.
      const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      const key = `${req.method} ${route} ${res.statusCode}`;
      let child = children.get(key);
      if (!child) {
        const labels = { method: req.method, route, status: String(res.statusCode) };
        child = { count: metrics.httpRequests.labels(labels), duration: metrics.httpDuration.labels(labels) };
        children.set(key, child);
      }
      child.count.inc();
      child.duration.observe(Number(process.hrtime.bigint() - start) / 1e9);
    });
    next();
  };
}

export function createApp(opts: { log: Logger; metrics?: Metrics; trustProxy: boolean; mounts: Mount[] }): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', opts.trustProxy);
  app.use(helmet());
  app.use(requestLogger(opts.log));
  if (opts.metrics) app.use(metricsMiddleware(opts.metrics));
  for (const m of opts.mounts) app.use(m.path, m.router);
  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}
