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

export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  const known = err instanceof HttpError ? err : clientError(err as object);
  const requestId = req.id ?? '';
  if (!known) {
    req.log?.error({ err, requestId }, 'unhandled error');
    if (res.headersSent) return res.end();
    return res.status(500).json({ error: 'internal_error', message: 'internal error; quote the request id to an operator', requestId });
  }
  if (res.headersSent) return res.end();
  for (const [k, v] of Object.entries(known.headers)) res.setHeader(k, v);
  res.status(known.status).json({ error: known.code, message: known.message, requestId });
};
