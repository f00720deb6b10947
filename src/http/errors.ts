/**
 * Error answers in JSON, {"error": code, "message": text, "requestId"}, are
 * made here and nowhere else: routes, guards and services throw, and
 * errorHandler (the SCEP endpoint: errorReply) answers. What was thrown
 * decides the answer:
 *
 * - a Refusal (src/util/refusal.ts), the domain's answer: STATUS below gives
 *   the status for its kind, the kind is the code, and a wait it names is
 *   Retry-After. Routes refuse bad input with `badRequest` and `notFound`.
 * - an HttpError, for what only HTTP can say: a status or code of its own
 *   (413, 415, 405, a busy 503) or a header (WWW-Authenticate, Allow).
 * - body-parser's client errors keep their 4xx.
 * - anything else is our own fault: a 500 that says only to quote the request
 *   id, with the detail in the log.
 *
 * Pages a person reads in a browser (OTA, /derived/) show a refusal as HTML
 * with the status `refusalAnswer` gives it; certsrv's pages
 * (connectors/citrix/certsrv-routes.ts) answer as ADCS does.
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { Refusal, type RefusalKind } from '../util/refusal.js';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const STATUS: Record<RefusalKind, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  // A request the gateway cannot serve in its present configuration: like a conflict, the state (not the request) must change.
  not_ready: 409,
  gone: 410,
  locked: 423,
  rate_limited: 429,
  unavailable: 503,
};

/** A refusal in HTTP terms: its kind picks the status and is the code unless it names its own; a wait becomes Retry-After. */
export function refusalAnswer(r: Refusal): HttpError {
  return new HttpError(STATUS[r.kind], r.code ?? r.kind, r.message, r.retryAfter !== undefined ? { 'Retry-After': String(r.retryAfter) } : {});
}

export const badRequest = (message: string) => new Refusal('bad_request', message);
export const notFound = (message: string) => new Refusal('not_found', message);

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(notFound(`no route for ${req.method} ${req.path}`));
};

/** body-parser and friends signal client errors with `type` and `status`. */
function clientError(err: { type?: string; status?: number; statusCode?: number; message?: string; limit?: number }): HttpError | undefined {
  switch (err.type) {
    case 'entity.too.large':
      return new HttpError(413, 'payload_too_large', `request body exceeds the ${err.limit ?? ''} byte limit`.replace('  ', ' '));
    case 'entity.parse.failed':
      return new HttpError(400, 'malformed_body', `request body is not valid: ${err.message ?? 'parse error'}`);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new HttpError(415, 'unsupported_encoding', err.message ?? 'unsupported content encoding');
    case 'request.aborted':
      return new HttpError(400, 'request_aborted', 'the client closed the request before the body arrived');
  }
  const status = err.status ?? err.statusCode;
  if (status && status >= 400 && status < 500) return new HttpError(status, 'bad_request', err.message ?? 'bad request');
  return undefined;
}

/** The JSON answer to a failed request: a client error as it is, anything else a 500 that says only to quote the request id. */
export function errorReply(
  err: unknown,
  requestId: string,
): { status: number; headers: Record<string, string>; body: { error: string; message: string; requestId: string }; internal: boolean } {
  const known = err instanceof Refusal ? refusalAnswer(err) : err instanceof HttpError ? err : clientError((err ?? {}) as object);
  if (!known)
    return {
      status: 500,
      headers: {},
      body: { error: 'internal_error', message: 'internal error; quote the request id to an operator', requestId },
      internal: true,
    };
  return { status: known.status, headers: known.headers, body: { error: known.code, message: known.message, requestId }, internal: false };
}

export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  const requestId = req.id ?? '';
  const reply = errorReply(err, requestId);
  if (reply.internal) req.log?.error({ err, requestId }, 'unhandled error');
  if (res.headersSent) return res.end();
  for (const [k, v] of Object.entries(reply.headers)) res.setHeader(k, v);
  res.status(reply.status).json(reply.body);
};
