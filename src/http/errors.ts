/**
 * Errors become JSON: {"error": code, "message": text, "requestId"}. Client
 * mistakes keep their 4xx; only our own faults are 500 and are logged.
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';

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

export const badRequest = (message: string) => new HttpError(400, 'bad_request', message);
export const notFound = (message: string) => new HttpError(404, 'not_found', message);

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new HttpError(404, 'not_found', `no route for ${req.method} ${req.path}`));
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
export function errorReply(err: unknown, requestId: string): { status: number; headers: Record<string, string>; body: { error: string; message: string; requestId: string }; internal: boolean } {
  const known = err instanceof HttpError ? err : clientError((err ?? {}) as object);
  if (!known) return { status: 500, headers: {}, body: { error: 'internal_error', message: 'internal error; quote the request id to an operator', requestId }, internal: true };
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
