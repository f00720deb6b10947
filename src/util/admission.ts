/**
 * Works on at most `concurrency` tasks at once and starts the others in
 * arrival order; once `maxQueued` wait, new ones are refused (Busy).
 *
 * For CPU-bound request handling: left to the event loop, every request in
 * flight advances a step at a time, so all of them finish late together and
 * their answers reach clients in bursts. Taken in turn, each request waits
 * about as long as the next, and memory in flight stays bounded.
 */
import pLimit, { type LimitFunction } from 'p-limit';

/** The queue is full: the caller should answer "try again shortly" (e.g. 503 with Retry-After). */
export class Busy extends Error {
  constructor(readonly waiting: number) {
    super(`${waiting} requests are already waiting`);
    this.name = 'Busy';
  }
}

export class Admission {
  private readonly limit: LimitFunction;

  constructor(
    readonly concurrency: number,
    readonly maxQueued: number,
  ) {
    this.limit = pLimit(concurrency);
  }

  run<T>(task: () => Promise<T>): Promise<T> {
    // p-limit counts a task as pending until the tick after it is queued, so compare the total.
    const inFlight = this.limit.activeCount + this.limit.pendingCount;
    if (inFlight >= this.concurrency + this.maxQueued) return Promise.reject(new Busy(this.limit.pendingCount));
    return this.limit(task);
  }
}
