/** Prometheus metrics: one registry per gateway so tests can run several side by side. */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  /** Registers the function that reports queued/running/dead job counts at scrape time. */
  setQueueDepthSource(source: () => Promise<Record<string, number>>): void;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'credgate_' });
  const httpRequests = new Counter({
    name: 'credgate_http_requests_total',
    help: 'HTTP requests by route template and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'credgate_http_request_duration_seconds',
    help: 'HTTP request latency by route template.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  let depthSource: (() => Promise<Record<string, number>>) | undefined;
  new Gauge({
    name: 'credgate_jobs',
    help: 'Jobs in the durable queue by status.',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      if (!depthSource) return;
      this.reset();
      for (const [status, n] of Object.entries(await depthSource())) this.set({ status }, n);
    },
  });
  return {
    registry,
    httpRequests,
    httpDuration,
    setQueueDepthSource(source) {
      depthSource = source;
    },
  };
}
