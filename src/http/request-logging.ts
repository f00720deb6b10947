/**
 * Request ids and one access-log line per request, written when the
 * response finishes. No child logger is made per request: pino redacts a
 * child's bindings when it is created, which cost more than the rest of the
 * middleware together. Only the method, a masked URL, the status, the
 * principal and the timing are logged.
 */
import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import { safeUrl } from '../observability/logger.js';

const SAFE_ID = /^[\w.:-]{1,64}$/;

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      id: string;
      log: Logger;
    }
  }
}

export function requestLogger(log: Logger): RequestHandler {
  return (req, res, next) => {
    const incoming = req.headers['x-request-id'];
    req.id = typeof incoming === 'string' && SAFE_ID.test(incoming) ? incoming : randomUUID();
    req.log = log;
    res.setHeader('X-Request-Id', req.id);
    const start = process.hrtime.bigint();
    res.once('finish', () => {
      const status = res.statusCode;
      const level = status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
      if (!log.isLevelEnabled(level)) return;
      log[level](
        {
          requestId: req.id,
          method: req.method,
          url: safeUrl(req.originalUrl),
          status,
          responseTimeMs: Number(process.hrtime.bigint() - start) / 1e6,
          remoteAddress: req.socket.remoteAddress,
          userAgent: req.headers['user-agent'],
          ...(req.user && { principal: req.user.name, authMethod: req.user.method }),
        },
        'request completed',
      );
    });
    next();
  };
}
