/** The express application: security headers, request ids, metrics, routers, JSON errors. */
import express, { type Express, type Router } from 'express';
import helmet from 'helmet';
import type { Logger } from 'pino';
import { errorHandler, notFoundHandler } from './errors.js';
import { requestLogger } from './request-logging.js';
import { metricsMiddleware, type RequestObserver } from './request-metrics.js';

export interface Mount {
  path: string;
  router: Router;
}

export function createApp(opts: { log: Logger; observe?: RequestObserver; trustProxy: boolean; mounts: Mount[] }): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', opts.trustProxy);
  app.use(helmet());
  app.use(requestLogger(opts.log));
  if (opts.observe) app.use(metricsMiddleware(opts.observe));
  for (const m of opts.mounts) app.use(m.path, m.router);
  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}
