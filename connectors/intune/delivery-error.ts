/** Graph failures as the DeliveryError the job queue acts on (src/connectors/pipeline.ts). */
import { DeliveryError } from '../../src/connectors/connector.js';
import { GraphError, TransportError } from './graph.js';

/** 4xx (other than 408/429) is permanent; 429 keeps its Retry-After; the rest is retried. */
export function asDeliveryError(err: unknown): unknown {
  if (err instanceof DeliveryError) return err;
  if (err instanceof GraphError) {
    const detail = { ...(err.status !== undefined && { status: err.status }), body: err.body };
    return new DeliveryError(err.message, !err.retryable, detail, err.retryAfterMs);
  }
  if (err instanceof TransportError) return new DeliveryError(err.message, false);
  return err;
}
