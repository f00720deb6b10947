/**
 * The producer side of the durable queue. `enqueue` takes the caller's
 * transaction so a job exists exactly when the row that caused it does.
 */
import type { JobRepository } from '../store/jobs.js';
import type { SqlTarget } from '../store/sql.js';

export interface EnqueueOptions {
  runAt?: number;
  /** Higher runs first among due jobs (default 0). */
  priority?: number;
  maxAttempts?: number;
  dedupeKey?: string;
}

export class JobQueue {
  private listeners = new Set<() => void>();

  constructor(
    private readonly repo: JobRepository,
    private readonly defaultMaxAttempts: number,
  ) {}

  /**
   * Adds a job inside `trx`. Returns its id, or undefined if a job with the
   * same dedupe key exists. Call `wake()` after the transaction commits to
   * run it without waiting for the next poll.
   */
  enqueue(trx: SqlTarget, type: string, payload: unknown, opts: EnqueueOptions = {}): Promise<number | undefined> {
    return this.repo.insert(trx, {
      type,
      payload,
      maxAttempts: opts.maxAttempts ?? this.defaultMaxAttempts,
      ...(opts.runAt !== undefined && { runAt: opts.runAt }),
      ...(opts.priority !== undefined && { priority: opts.priority }),
      ...(opts.dedupeKey !== undefined && { dedupeKey: opts.dedupeKey }),
    });
  }

  /** Tells local workers that new work is waiting. */
  wake(): void {
    for (const l of this.listeners) l();
  }

  onWake(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
