/** `credgate jobs ...` and `credgate tokens ...`: operate on the database directly; `credgate roles list` reads the configuration. */
import { userInfo } from 'node:os';
import { ApiTokens, TokenError } from '../../http/auth/api-tokens.js';
import { API_ROLES, grantableRoles } from '../../http/auth/roles.js';
import { defaultRole, describeRoles } from '../../identity/scope.js';
import type { Config } from '../../config/schema.js';
import { AuditRepository } from '../../store/audit.js';
import { JOB_STATUSES, JobRepository, type Job, type JobStatus } from '../../store/jobs.js';
import { TokenRepository } from '../../store/tokens.js';
import type { Db } from '../../store/db.js';
import { openDatabase } from '../database.js';
import { context } from '../context.js';
import { StartupError } from '../errors.js';

export async function withDb<T>(opts: { config?: string }, fn: (db: Db, config: Config) => Promise<T>): Promise<T> {
  const { config, log } = context(opts);
  const db = await openDatabase(config.database, log);
  try {
    return await fn(db, config);
  } finally {
    await db.destroy();
  }
}

const print = (text: string) => process.stdout.write(`${text}\n`);
const when = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString());

function jobLine(j: Job): string {
  return [String(j.id).padEnd(8), j.status.padEnd(8), j.type.padEnd(28), `${j.attempts}/${j.maxAttempts}`.padEnd(7), when(j.updatedAt), j.lastError ?? ''].join(
    ' ',
  );
}

function positiveInt(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new StartupError(`${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

const parseId = (value: string) => positiveInt(value, 'job id');

export async function jobsList(opts: { config?: string; status?: string; type?: string; limit?: string; json?: boolean }): Promise<void> {
  if (opts.status && !JOB_STATUSES.includes(opts.status as JobStatus)) {
    throw new StartupError(`--status must be one of ${JOB_STATUSES.join(', ')}`);
  }
  const limit = opts.limit ? positiveInt(opts.limit, '--limit') : 50;
  const jobs = await withDb(opts, (db) =>
    new JobRepository(db).list({
      ...(opts.status && { status: opts.status as JobStatus }),
      ...(opts.type && { type: opts.type }),
      limit,
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
    throw new StartupError(job ? `job ${jobId} is ${job.status}; only dead jobs can be retried` : `job ${jobId} does not exist`);
  });
}

/** Who ran a command, for the audit trail: the operating-system user. */
export function cliActor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return `cli:uid-${process.getuid?.() ?? 'unknown'}`; // a uid without a passwd entry (containers)
  }
}

async function withTokens<T>(opts: { config?: string }, fn: (tokens: ApiTokens) => Promise<T>): Promise<T> {
  return withDb(opts, (db, config) =>
    fn(
      new ApiTokens({
        db,
        tokens: new TokenRepository(db),
        audit: new AuditRepository(db),
        grantable: grantableRoles(config.credentialProfiles, config.auth.roles),
      }),
    ),
  );
}

const OPTION: Record<TokenError['field'], string> = { name: '--name', roles: '--role', lifetime: '--expires' };
const expiry = (ms: number | null) => (ms === null ? 'never' : when(ms));

export async function tokensCreate(opts: { config?: string; name: string; role: string[]; expires: string }): Promise<void> {
  const { token, record } = await withTokens(opts, (tokens) =>
    tokens.create({ name: opts.name, roles: opts.role, lifetime: opts.expires, actor: cliActor() }).catch((err: unknown) => {
      throw err instanceof TokenError ? new StartupError(`${OPTION[err.field]} ${err.message}`) : err;
    }),
  );
  process.stderr.write(
    `token ${record.id} for ${record.name} (roles: ${record.roles.join(', ') || 'none'}, expires ${expiry(record.expiresAt)}); shown once:\n`,
  );
  print(token);
}

export async function tokensList(opts: { config?: string }): Promise<void> {
  const tokens = await withDb(opts, (db) => new TokenRepository(db).list());
  print(['ID'.padEnd(17), 'NAME'.padEnd(24), 'ROLES'.padEnd(16), 'EXPIRES'.padEnd(24), 'REVOKED'].join(' '));
  for (const t of tokens)
    print([t.id.padEnd(17), t.name.padEnd(24), t.roles.join(',').padEnd(16), expiry(t.expiresAt).padEnd(24), when(t.revokedAt)].join(' '));
}

export async function tokensRevoke(id: string, opts: { config?: string }): Promise<void> {
  const ok = await withTokens(opts, (tokens) => tokens.revoke(id, cliActor()));
  if (!ok) throw new StartupError(`no live token with id ${id}`);
  print(`token ${id} revoked`);
}

/**
 * `credgate roles list`: every role the configuration gives meaning to, with
 * its operator scope, its admin API rights and what the credential profiles
 * let it do, so an administrator can check whom a token will reach before
 * creating it. Reads the configuration only.
 */
export function rolesList(opts: { config?: string; json?: boolean }): void {
  const { config } = context(opts);
  const profileUse = new Map<string, string[]>();
  for (const [name, p] of Object.entries(config.credentialProfiles))
    for (const [kind, roles] of Object.entries(p.roles))
      for (const r of roles.filter((r) => r !== '*')) profileUse.set(r, [...(profileUse.get(r) ?? []), `${kind} ${name}`]);
  const described = describeRoles(config.auth.roles);
  const fromProfiles = [...profileUse.keys()]
    .filter((r) => !described.some((d) => d.role === r))
    .map((role) => ({ role, ...defaultRole(role), configured: false }));
  const rows = [...described, ...fromProfiles].map((d) => ({
    role: d.role,
    scope: d.scope,
    rights: d.may,
    profiles: profileUse.get(d.role) ?? [],
    source: d.configured ? 'auth.roles' : (API_ROLES as readonly string[]).includes(d.role) ? 'built-in' : 'default',
  }));
  if (opts.json) {
    print(JSON.stringify(rows, null, 2));
    return;
  }
  print(['ROLE'.padEnd(20), 'SCOPE'.padEnd(7), 'SOURCE'.padEnd(11), 'RIGHTS'.padEnd(44), 'CREDENTIAL PROFILES'].join(' '));
  for (const r of rows)
    print([r.role.padEnd(20), r.scope.padEnd(7), r.source.padEnd(11), (r.rights.join(',') || '-').padEnd(44), r.profiles.join(', ') || '-'].join(' '));
}
