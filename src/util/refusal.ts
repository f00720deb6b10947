/**
 * A request refused for a reason its sender can act on: an answer, not a
 * fault. Services throw it, or a subclass named for their domain
 * (IdentityError, OtaError, IssuanceError, StatusChangeError,
 * ScepDecisionError); src/http/errors.ts alone turns the kind into an HTTP
 * status and uses it as the answer's `error` code, so a route only throws.
 * The message is shown to the sender as it is: it says what to fix and never
 * carries a secret.
 */
export type RefusalKind =
  /** The request itself is wrong. */
  | 'bad_request'
  /** The sender did not prove who it is. */
  | 'unauthorized'
  /** The sender may not do this. */
  | 'forbidden'
  | 'not_found'
  /** What the request would change is not in a state that allows it. */
  | 'conflict'
  /** The gateway is not configured for this yet; an operator can fix that. */
  | 'not_ready'
  /** It existed and is used up or expired; asking again will not help. */
  | 'gone'
  | 'locked'
  /** Too many attempts; `retryAfter` says when to try again. */
  | 'rate_limited'
  /** Cannot be done now, through no fault of the sender; `retryAfter` may say when to try again. */
  | 'unavailable';

export class Refusal extends Error {
  constructor(
    readonly kind: RefusalKind,
    message: string,
    /** Seconds the sender should wait before trying again ('rate_limited' and 'unavailable'). */
    readonly retryAfter?: number,
    /** The answer's code where a protocol names its refusals itself (e.g. Workspace ONE's bad_event); the kind otherwise. */
    readonly code?: string,
  ) {
    super(message);
  }
}
