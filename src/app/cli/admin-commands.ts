/** `credgate jobs ...` and `credgate tokens ...`: operate on the database directly. */
import { durationMs } from '../../config/duration.js';
import { duration } from '../../config/schema.js';
import { JOB_STATUSES, JobRepository, type Job, type JobStatus } from '../../store/jobs.js';
import { TokenRepository } from '../../store/tokens.js';
import type { Db } from '../../store/db.js';
import { openDatabase } from '../database.js';
import { context } from '../context.js';
import { StartupError } from '../errors.js';

async function withDb<T>(opts: { config?: string }, fn: (db: Db) => Promise<T>): Promise<T> {
  const { config, log } = context(opts);
  const db = await openDatabase(config.database, log);
  try {
    return await fn(db);
  } finally {
    await db.destroy();
  }
}

const print = (text: string) => process.stdout.write(`${text}\n`);
const when = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString());

function jobLine(j: Job): string {
  return [String(j.id).padEnd(8), j.status.padEnd(8), j.type.padEnd(28), `${j.attempts}/${j.maxAttempts}`.padEnd(7), when(j.updatedAt), j.lastError ?? ''].join(' ');
}

function parseId(value: string): number {
  const id = Number(value);
  if (!Number.isSafeInteger(id) || id <= 0) throw new StartupError(`job id must be a positive integer, got ${JSON.stringify(value)}`);
  return id;
}

export async function jobsList(opts: { config?: string; status?: string; type?: string; limit?: string; json?: boolean }): Promise<void> {
  if (opts.status && !JOB_STATUSES.includes(opts.status as JobStatus)) {
    throw new StartupError(`--status must be one of ${JOB_STATUSES.join(', ')}`);
  }
  const jobs = await withDb(opts, (db) =>
    new JobRepository(db).list({
      ...(opts.status && { status: opts.status as JobStatus }),
      ...(opts.type && { type: opts.type }),
      limit: opts.limit ? Number(opts.limit) : 50,
    }),
  );
  if (opts.json) {
    print(JSON.stringify(jobs, null, 2));
    return;
  }
  print(['ID'.padEnd(8), 'STATUS'.padEnd(8), 'TYPE'.padEnd(28), 'TRIES'.padEnd(7), 'UPDATED'.padEnd(24), 'LAST ERROR'].join(' '));
  for (const j of jobs) print(jobLine(j));
}

export async function jobsShow(id: string, opts: { config?: string }): Promise<void> {
  const job = await withDb(opts, (db) => new JobRepository(db).get(parseId(id)));
  if (!job) throw new StartupError(`job ${id} does not exist`);
  print(JSON.stringify(job, null, 2));
}

export async function jobsRetry(id: string, opts: { config?: string }): Promise<void> {
  await withDb(opts, async (db) => {
    const repo = new JobRepository(db);
    const jobId = parseId(id);
    if (await repo.retry(jobId)) {
      print(`job ${jobId} queued to run again`);
      return;
    }
    const job = await repo.get(jobId);
    throw new StartupError(job ? `job ${jobId} is ${job.status}; only dead or queued jobs can be retried` : `job ${jobId} does not exist`);
  });
}

export async function tokensCreate(opts: { config?: string; name: string; role: string[]; expires?: string }): Promise<void> {
  if (opts.expires !== undefined && !duration.safeParse(opts.expires).success) {
    throw new StartupError(`--expires must be a duration such as 90d or 12h, got ${JSON.stringify(opts.expires)}`);
  }
  const { token, record } = await withDb(opts, (db) =>
    new TokenRepository(db).create({
      name: opts.name,
      roles: opts.role,
      expiresAt: opts.expires ? Date.now() + durationMs(opts.expires) : null,
    }),
  );
  process.stderr.write(`token ${record.id} for ${record.name} (roles: ${record.roles.join(', ') || 'none'}, expires ${when(record.expiresAt)}); shown once:\n`);
  print(token);
}

export async function tokensList(opts: { config?: string }): Promise<void> {
  const tokens = await withDb(opts, (db) => new TokenRepository(db).list());
  print(['ID'.padEnd(17), 'NAME'.padEnd(24), 'ROLES'.padEnd(16), 'EXPIRES'.padEnd(24), 'REVOKED'].join(' '));
  for (const t of tokens) print([t.id.padEnd(17), t.name.padEnd(24), t.roles.join(',').padEnd(16), when(t.expiresAt).padEnd(24), when(t.revokedAt)].join(' '));
}

export async function tokensRevoke(id: string, opts: { config?: string }): Promise<void> {
  const ok = await withDb(opts, (db) => new TokenRepository(db).revoke(id));
  if (!ok) throw new StartupError(`no live token with id ${id}`);
  print(`token ${id} revoked`);
}
