/**
 * The durable job table. Claiming is one atomic step per database:
 * MySQL/MariaDB lock candidate rows with FOR UPDATE SKIP LOCKED so several
 * gateway instances can share one queue; SQLite runs a single
 * UPDATE ... RETURNING under its database-wide write lock.
 */
import type { Knex } from 'knex';
import { clientOf, type Db } from './db.js';
import { insertIgnoringDuplicates, insertUnlessDuplicate, sqlOf, type SqlTarget } from './sql.js';

export type JobStatus = 'queued' | 'running' | 'done' | 'dead';
export const JOB_STATUSES: readonly JobStatus[] = ['queued', 'running', 'done', 'dead'];

export interface Job<P = unknown> {
  id: number;
  type: string;
  payload: P;
  status: JobStatus;
  attempts: number;
  maxAttempts: number;
  /** Higher runs first among due jobs. */
  priority: number;
  availableAt: number | null;
  leaseOwner: string | null;
  lastError: string | null;
  result: unknown;
  dedupeKey: string | null;
  createdAt: number;
  updatedAt: number;
  finishedAt: number | null;
}

interface Row {
  id: number;
  type: string;
  payload: string;
  status: JobStatus;
  attempts: number;
  max_attempts: number;
  priority: number;
  available_at: number | null;
  lease_owner: string | null;
  last_error: string | null;
  result: string | null;
  dedupe_key: string | null;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
}

export interface NewJob {
  type: string;
  payload: unknown;
  maxAttempts: number;
  runAt?: number;
  priority?: number;
  /** A second enqueue with the same key is ignored (idempotent producers). */
  dedupeKey?: string;
}

const fromRow = (r: Row): Job => ({
  id: Number(r.id),
  type: r.type,
  payload: JSON.parse(r.payload) as unknown,
  status: r.status,
  attempts: r.attempts,
  maxAttempts: r.max_attempts,
  priority: Number(r.priority),
  availableAt: r.available_at === null ? null : Number(r.available_at),
  leaseOwner: r.lease_owner,
  lastError: r.last_error,
  result: r.result === null ? null : (JSON.parse(r.result) as unknown),
  dedupeKey: r.dedupe_key,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
  finishedAt: r.finished_at === null ? null : Number(r.finished_at),
});

export interface JobFilter {
  status?: JobStatus;
  type?: string;
  limit?: number;
  /** Only jobs with an id below this (for paging newest-first). */
  before?: number;
}

// Written once per job, usually inside its producer's transaction: plain SQL, prepared once (see sql.ts).
const INSERT = insertIgnoringDuplicates(
  'jobs',
  ['type', 'payload', 'status', 'attempts', 'max_attempts', 'priority', 'available_at', 'dedupe_key', 'created_at', 'updated_at'],
  ['dedupe_key'],
);

export class JobRepository {
  constructor(private readonly db: Db) {}

  /**
   * Inserts a job using the caller's transaction (or the pool). Returns the
   * new id, or undefined when a job with the same dedupe key already exists.
   */
  async insert(target: SqlTarget, job: NewJob, now = Date.now()): Promise<number | undefined> {
    const sql = sqlOf(target);
    const values = [
      job.type,
      JSON.stringify(job.payload ?? null),
      'queued',
      0,
      job.maxAttempts,
      job.priority ?? 0,
      job.runAt ?? now,
      job.dedupeKey ?? null,
      now,
      now,
    ];
    // Without a dedupe key nothing is a duplicate (NULLs never collide in a unique index).
    return insertUnlessDuplicate(sql, INSERT, values);
  }

  /** Claims up to `limit` runnable jobs (queued and due, or running with an expired lease). */
  async claim(owner: string, limit: number, leaseMs: number, now = Date.now()): Promise<Job[]> {
    if (limit <= 0) return [];
    const claimed = {
      status: 'running',
      lease_owner: owner,
      available_at: now + leaseMs,
      attempts: this.db.raw('attempts + 1'),
      updated_at: now,
    };
    // Finished jobs have no available_at, so the due test alone selects
    // queued jobs that are due and running jobs whose lease has expired;
    // among them, higher priority first, then the longest waiting.
    const due = (q: Knex.QueryBuilder) =>
      q
        .where('available_at', '<=', now)
        .orderBy([{ column: 'priority', order: 'desc' }, 'available_at'])
        .limit(limit);

    if (clientOf(this.db) === 'sqlite') {
      const rows = (await this.db('jobs')
        .whereIn('id', due(this.db('jobs').select('id')))
        .update(claimed)
        .returning('*')) as Row[];
      return rows.map(fromRow);
    }
    // READ COMMITTED: no gap locks, so concurrent claimers skip only the
    // rows another claimer holds.
    return this.db.transaction(
      async (trx) => {
        const ids = (await due(trx('jobs').select('id')).forUpdate().skipLocked()).map((r: { id: number }) => r.id);
        if (ids.length === 0) return [];
        await trx('jobs').whereIn('id', ids).update(claimed);
        return ((await trx('jobs').whereIn('id', ids)) as Row[]).map(fromRow);
      },
      { isolationLevel: 'read committed' },
    );
  }

  /** Extends a running job's lease; false when this owner no longer holds it. */
  async renewLease(id: number, owner: string, leaseMs: number, now = Date.now()): Promise<boolean> {
    const n = await this.db('jobs')
      .where({ id, status: 'running', lease_owner: owner })
      .update({ available_at: now + leaseMs, updated_at: now });
    return n > 0;
  }

  /** Marks a job done if this owner still holds it; false when the lease was lost. */
  async complete(id: number, owner: string, result: unknown, now = Date.now()): Promise<boolean> {
    const n = await this.db('jobs')
      .where({ id, status: 'running', lease_owner: owner })
      .update({
        status: 'done',
        result: result === undefined ? null : JSON.stringify(result),
        available_at: null,
        lease_owner: null,
        last_error: null,
        updated_at: now,
        finished_at: now,
      });
    return n > 0;
  }

  /** Records a failure: requeued for `retryAt`, or dead when `retryAt` is undefined. */
  async fail(id: number, owner: string, error: string, retryAt: number | undefined, now = Date.now()): Promise<boolean> {
    const n = await this.db('jobs')
      .where({ id, status: 'running', lease_owner: owner })
      .update({
        status: retryAt === undefined ? 'dead' : 'queued',
        available_at: retryAt ?? null,
        lease_owner: null,
        last_error: error.slice(0, 4000),
        updated_at: now,
        finished_at: retryAt === undefined ? now : null,
      });
    return n > 0;
  }

  /**
   * Puts a dead job back to run now with a fresh attempt budget. Only a dead
   * one: a queued job waiting out its backoff would lose it (and its count of
   * attempts), and a running or done one would run twice.
   */
  async retry(id: number, now = Date.now()): Promise<boolean> {
    const n = await this.db('jobs')
      .where({ id, status: 'dead' })
      .update({ status: 'queued', attempts: 0, available_at: now, updated_at: now, finished_at: null });
    return n > 0;
  }

  async get(id: number): Promise<Job | undefined> {
    const row = (await this.db<Row>('jobs').where({ id }).first()) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  async list(filter: JobFilter = {}): Promise<Job[]> {
    const q = this.db<Row>('jobs')
      .orderBy('id', 'desc')
      .limit(Math.min(filter.limit ?? 50, 1000));
    if (filter.status) q.where({ status: filter.status });
    if (filter.type) q.where({ type: filter.type });
    if (filter.before) q.where('id', '<', filter.before);
    return ((await q) as Row[]).map(fromRow);
  }

  async countByStatus(): Promise<Record<JobStatus, number>> {
    const rows = (await this.db('jobs').select('status').count({ n: '*' }).groupBy('status')) as { status: JobStatus; n: number | string }[];
    const out: Record<JobStatus, number> = { queued: 0, running: 0, done: 0, dead: 0 };
    for (const r of rows) out[r.status] = Number(r.n);
    return out;
  }
}
