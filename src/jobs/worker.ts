/**
 * Runs queued jobs. Each claimed job is leased, and the lease is renewed
 * while the handler runs: if this process dies the lease runs out and
 * another worker (or this one after a restart) claims it again, so handlers
 * must be idempotent. A handler whose lease is lost anyway (the database was
 * unreachable for a whole lease) is told through its abort signal. A handler throws PermanentJobError
 * for failures a retry cannot fix (a 4xx from a vendor, say), RetryLaterError
 * when the other side said when to come back (HTTP 429 Retry-After); any other
 * error is retried with backoff until maxAttempts, then the job is dead.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Job, JobRepository } from '../store/jobs.js';
import { retryDelayMs, type BackoffPolicy } from './backoff.js';
import type { JobQueue } from './queue.js';

export class PermanentJobError extends Error {
  constructor(
    message: string,
    readonly detail?: unknown,
  ) {
    super(message);
    this.name = 'PermanentJobError';
  }
}

/** A failure to retry no sooner than `delayMs` from now, whatever the backoff would say. */
export class RetryLaterError extends Error {
  constructor(
    message: string,
    readonly delayMs: number,
  ) {
    super(message);
    this.name = 'RetryLaterError';
  }
}

export interface JobContext {
  job: Job;
  log: Logger;
  signal: AbortSignal;
}

export type JobHandler = (payload: unknown, ctx: JobContext) => Promise<unknown>;

export interface WorkerOptions {
  concurrency: number;
  pollIntervalMs: number;
  leaseMs: number;
  backoff: BackoffPolicy;
}

export class JobWorker {
  readonly id = `${process.pid}-${randomBytes(4).toString('hex')}`;
  private readonly handlers = new Map<string, JobHandler>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private repoll = false;
  private running = false;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly repo: JobRepository,
    private readonly queue: JobQueue,
    private readonly opts: WorkerOptions,
    private readonly log: Logger,
  ) {}

  register(type: string, handler: JobHandler): void {
    if (this.handlers.has(type)) throw new Error(`a handler for job type "${type}" is already registered`);
    this.handlers.set(type, handler);
  }

  get isRunning(): boolean {
    return this.running;
  }

  start(): void {
    if (this.running || this.opts.concurrency === 0) return;
    this.running = true;
    this.unsubscribe = this.queue.onWake(() => void this.poll());
    void this.poll();
  }

  /** Stops claiming and waits up to `graceMs` for jobs in flight (their leases cover the rest). */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.unsubscribe?.();
    clearTimeout(this.timer);
    const drained = Promise.allSettled([...this.inFlight]);
    const timeout = new Promise((resolve) => setTimeout(resolve, graceMs).unref());
    await Promise.race([drained, timeout]);
    this.abort.abort();
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    if (this.running) this.timer = setTimeout(() => void this.poll(), delayMs);
  }

  private async poll(): Promise<void> {
    if (!this.running) return;
    if (this.polling) {
      this.repoll = true;
      return;
    }
    this.polling = true;
    let claimedFull = false;
    try {
      const free = this.opts.concurrency - this.inFlight.size;
      if (free > 0) {
        const jobs = await this.repo.claim(this.id, free, this.opts.leaseMs);
        claimedFull = jobs.length === free;
        for (const job of jobs) this.track(this.execute(job));
      }
    } catch (err) {
      this.log.error({ err }, 'job claim failed; will retry');
    } finally {
      this.polling = false;
    }
    if (this.repoll || (claimedFull && this.inFlight.size < this.opts.concurrency)) {
      this.repoll = false;
      setImmediate(() => void this.poll());
    } else {
      this.schedule(this.opts.pollIntervalMs);
    }
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => {
      this.inFlight.delete(p);
      // A slot opened: look for more work straight away.
      if (this.running) void this.poll();
    });
  }

  private async execute(job: Job): Promise<void> {
    const log = this.log.child({ jobId: job.id, jobType: job.type, attempt: job.attempts });
    const handler = this.handlers.get(job.type);
    const lease = this.keepLease(job, log);
    try {
      if (!handler) throw new PermanentJobError(`no handler for job type "${job.type}"`);
      const result = await handler(job.payload, { job, log, signal: AbortSignal.any([this.abort.signal, lease.signal]) });
      if (!(await this.repo.complete(job.id, this.id, result))) log.warn('job finished after its lease was taken over');
      else log.info('job done');
    } catch (err) {
      const permanent = err instanceof PermanentJobError;
      const message = describe(err);
      const retryAt =
        permanent || job.attempts >= job.maxAttempts
          ? undefined
          : Date.now() + Math.max(retryDelayMs(job.attempts, this.opts.backoff), err instanceof RetryLaterError ? err.delayMs : 0);
      await this.repo.fail(job.id, this.id, message, retryAt).catch((e: unknown) => log.error({ err: e }, 'could not record job failure'));
      if (retryAt === undefined) log.error({ error: message }, 'job dead');
      else log.warn({ error: message, retryInMs: retryAt - Date.now() }, 'job failed; will retry');
    } finally {
      lease.stop();
    }
  }

  /** Renews the job's lease at a third of its length until stopped; aborts the signal if the lease is lost. */
  private keepLease(job: Job, log: Logger): { signal: AbortSignal; stop(): void } {
    const lost = new AbortController();
    const timer = setInterval(
      () => {
        this.repo.renewLease(job.id, this.id, this.opts.leaseMs).then(
          (held) => {
            if (held) return;
            clearInterval(timer);
            log.warn('job lease lost to another worker; abandoning it');
            lost.abort(new Error('job lease lost'));
          },
          (err: unknown) => log.warn({ err }, 'could not renew job lease; retrying'),
        );
      },
      Math.max(1, Math.floor(this.opts.leaseMs / 3)),
    );
    timer.unref();
    return { signal: lost.signal, stop: () => clearInterval(timer) };
  }
}

function describe(err: unknown): string {
  if (err instanceof PermanentJobError && err.detail !== undefined) return `${err.message}: ${JSON.stringify(err.detail)}`;
  if (err instanceof Error) return err.message;
  return String(err);
}
