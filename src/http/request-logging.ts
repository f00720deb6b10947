/**
 * Request ids and one access-log line per request, written when the
 * response finishes. No child logger is made per request: pino redacts a
 * child's bindings when it is created, which cost more than the rest of the
 * middleware together. Only the method, a masked URL, the status, the
 * principal and the timing are logged.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
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

/** The caller's X-Request-Id when it is a plain token, else a new one; echoed on the response. */
export function assignRequestId(req: IncomingMessage, res: ServerResponse): string {
  const incoming = req.headers['x-request-id'];
  const id = typeof incoming === 'string' && SAFE_ID.test(incoming) ? incoming : randomUUID();
  res.setHeader('X-Request-Id', id);
  return id;
}

/** Logs the request's line once its response has finished. */
export function logWhenFinished(
  log: Logger,
  req: IncomingMessage,
  res: ServerResponse,
  entry: { id: string; url: string; principal?: () => { name: string; method: string } | undefined },
): void {
  const start = process.hrtime.bigint();
  res.once('finish', () => {
    const status = res.statusCode;
    const level = status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
    if (!log.isLevelEnabled(level)) return;
    const user = entry.principal?.();
    log[level](
      {
        requestId: entry.id,
        method: req.method,
        url: safeUrl(entry.url),
        status,
        responseTimeMs: Number(process.hrtime.bigint() - start) / 1e6,
        remoteAddress: req.socket.remoteAddress,
        userAgent: req.headers['user-agent'],
        ...(user && { principal: user.name, authMethod: user.method }),
      },
      'request completed',
    );
  });
}

export function requestLogger(log: Logger): RequestHandler {
  return (req, res, next) => {
    req.id = assignRequestId(req, res);
    req.log = log;
    // originalUrl and user are read at the end: routers rewrite req.url, authentication sets req.user.
    logWhenFinished(log, req, res, { id: req.id, url: req.originalUrl, principal: () => req.user });
    next();
  };
}
