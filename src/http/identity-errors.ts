/** IdentityError → HttpError: the refusal's kind picks the status; 429s and 503s carry Retry-After. */
import { IdentityError, type IdentityErrorKind } from '../identity/errors.js';
import { HttpError } from './errors.js';

const STATUS: Record<IdentityErrorKind, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  gone: 410,
  locked: 423,
  rate_limited: 429,
  unavailable: 503,
};

export function identityHttpError(err: unknown): unknown {
  if (!(err instanceof IdentityError)) return err;
  const headers: Record<string, string> = err.retryAfter !== undefined ? { 'Retry-After': String(err.retryAfter) } : {};
  return new HttpError(STATUS[err.kind], err.kind, err.message, headers);
}

/** Runs a route body, turning identity refusals into HTTP errors. */
export async function refusals<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw identityHttpError(err);
  }
}
