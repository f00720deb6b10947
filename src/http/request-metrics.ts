/** HTTP request counts and latencies, by method, route template and status. */
import type { RequestHandler } from 'express';
import type { Metrics } from '../observability/metrics.js';

/** Records one finished request; `route` must be a template (bounded label cardinality), not a raw path. */
export type RequestObserver = (method: string, route: string, status: number, startNs: bigint) => void;

export function requestObserver(metrics: Metrics): RequestObserver {
  // prom-client hashes a labels object on every observation; the children
  // for each (method, route, status) are looked up once and kept.
  const children = new Map<string, { count: { inc(): void }; duration: { observe(v: number): void } }>();
  return (method, route, status, startNs) => {
    const key = `${method} ${route} ${status}`;
    let child = children.get(key);
    if (!child) {
      const labels = { method, route, status: String(status) };
      child = { count: metrics.httpRequests.labels(labels), duration: metrics.httpDuration.labels(labels) };
      children.set(key, child);
    }
    child.count.inc();
    child.duration.observe(Number(process.hrtime.bigint() - startNs) / 1e9);
  };
}

export function metricsMiddleware(observe: RequestObserver): RequestHandler {
  return (req, res, next) => {
    const start = process.hrtime.bigint();
    res.once('finish', () => {
      const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      observe(req.method, route, res.statusCode, start);
    });
    next();
  };
}
