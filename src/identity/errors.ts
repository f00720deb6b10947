/** A refusal the caller (operator or mobile app) is told about, with what to fix; the HTTP layer maps the kind to a 4xx or 503. */
export type IdentityErrorKind = 'bad_request' | 'unauthorized' | 'forbidden' | 'not_found' | 'conflict' | 'gone' | 'locked' | 'rate_limited' | 'unavailable';

export class IdentityError extends Error {
  constructor(
    readonly kind: IdentityErrorKind,
    message: string,
    /** Seconds the client should wait before trying again (kinds 'unavailable' and 'rate_limited'). */
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}
