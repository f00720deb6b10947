/**
 * The `credgate` command as a person finds their way around it: a version,
 * help for every command, quiet ends when a reader closes the pipe, clear
 * refusals that change nothing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { migrate, openDb, type Db } from '../../src/store/db.js';
import { JobRepository } from '../../src/store/jobs.js';
import { assertOneLineError, cliCommandLine, freshCheckout, REPO, runCli } from '../helpers/cli.js';

/** The lines of one section ("Options:", "Commands:") of commander's help, continuation lines joined. */
function section(help: string, title: string): string[] {
  const start = help.split('\n').indexOf(title);
  if (start < 0) return [];
  const entries: string[] = [];
  for (const line of help.split('\n').slice(start + 1)) {
    if (!line.startsWith(' ')) break;
    // An entry starts two spaces in; a wrapped description is indented further.
    if (/^ {2}\S/.test(line)) entries.push(line.trim());
    else entries[entries.length - 1] += ` ${line.trim()}`;
  }
  return entries;
}

describe('credgate usage', () => {
  const dir = freshCheckout();

  test('--version prints the version in package.json', () => {
    const { version } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = runCli([flag], { cwd: dir });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, `${version}\n`);
    }
  });

  test('every command has help with a description; every option is described, with at most one default', () => {
    const seen: string[] = [];
    const help = new Map<string, string>();
    const visit = (path: string[]) => {
      const r = runCli([...path, '--help'], { cwd: dir });
      assert.equal(r.status, 0, `${path.join(' ')} --help: ${r.stderr}`);
      const [usage, blank, description] = r.stdout.split('\n');
      assert.match(usage!, new RegExp(`^Usage: credgate ${path.join(' ')}`.trimEnd()));
      assert.equal(blank, '');
      assert.match(description!, /^\w.{10,}/, `${path.join(' ') || 'credgate'} has a description line`);
      for (const option of section(r.stdout, 'Options:')) {
        assert.match(option, /^-\S*(,\s+-\S+)?( [<[]\S+[>\]])?\s{2,}\S/, `${path.join(' ')}: "${option}" is described`);
        assert.ok((option.match(/\(default/g) ?? []).length <= 1, `${path.join(' ')}: "${option}" shows one default`);
      }
      assert.doesNotMatch(r.stdout, /\(default: [^)]*\)\s*\(default:/);
      for (const argument of section(r.stdout, 'Arguments:')) assert.match(argument, /^\S+\s{2,}\S/, `"${argument}" is described`);
      for (const entry of section(r.stdout, 'Commands:')) {
        const name = entry.split(' ')[0]!;
        assert.match(entry, /\S\s{2,}\S/, `${[...path, name].join(' ')} has a one-line description`);
        if (name !== 'help') visit([...path, name]);
      }
      seen.push(path.join(' '));
      help.set(path.join(' '), r.stdout);
    };
    visit([]);
    for (const command of [
      'serve',
      'init',
      'config check',
      'config schema',
      'tokens create',
      'tokens list',
      'tokens revoke',
      'jobs list',
      'jobs show',
      'jobs retry',
      'keys rotate-master',
    ]) {
      assert.ok(seen.includes(command), `${command} is listed: ${seen.join(', ')}`);
    }
    // `credgate help <command>` shows the same, for a command and a subcommand.
    for (const path of ['serve', 'jobs', 'jobs retry']) {
      const r = runCli(['help', ...path.split(' ')], { cwd: dir });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, help.get(path), `credgate help ${path}`);
    }
    assertOneLineError(runCli(['help', 'jobs', 'redo'], { cwd: dir }), /^credgate: no command "jobs redo"; `credgate --help` lists them$/);
  });
});

describe('credgate jobs', () => {
  const dir = freshCheckout();
  // Jobs nobody claims while the test runs.
  const FAR = Date.now() + 10 * 365 * 86_400_000;
  let db: Db;
  let jobs: JobRepository;

  before(async () => {
    assert.equal(runCli(['init'], { cwd: dir }).status, 0);
    db = openDb({ client: 'sqlite', filename: join(dir, 'data/credgate.db') });
    await migrate(db);
    jobs = new JobRepository(db);
  });
  after(() => db.destroy());

  test('a reader that closes the pipe early ends the command quietly', async () => {
    for (let i = 0; i < 2000; i++) await jobs.insert(db, { type: 'test.pipe', payload: { i, pad: 'x'.repeat(100) }, maxAttempts: 3, runAt: FAR });
    for (const args of [
      ['jobs', 'list', '--limit', '2000'],
      ['jobs', 'list', '--limit', '2000', '--json'],
    ]) {
      const r = spawnSync('bash', ['-c', `${cliCommandLine(args)} 2>stderr.txt | head -1; echo "status \${PIPESTATUS[0]}"`], { cwd: dir, encoding: 'utf8' });
      const [first, status] = r.stdout.trimEnd().split('\n');
      assert.match(first!, args.includes('--json') ? /^\[$/ : /^ID\s+STATUS/, 'the reader got its line');
      assert.match(status!, /^status (0|141)$/, `${args.join(' ')}: a quiet status`);
      assert.equal(readFileSync(join(dir, 'stderr.txt'), 'utf8'), '', `${args.join(' ')}: nothing on stderr`);
    }
  });

  test('--limit must be a positive integer', () => {
    for (const bad of ['abc', '0', '-1', '2.5']) {
      assertOneLineError(
        runCli(['jobs', 'list', '--limit', bad], { cwd: dir }),
        new RegExp(`^credgate: --limit must be a positive integer, got "${bad.replace('.', '\\.')}"$`),
      );
    }
  });

  test('retry re-queues a dead job; a queued, running or done one is refused and left as it was', async () => {
    const later = Date.now() + 3_600_000;
    const make = async (type: string, runAt = later) => (await jobs.insert(db, { type, payload: {}, maxAttempts: 1, runAt }))!;
    const queued = await make('test.queued', FAR);
    const running = await make('test.running');
    await jobs.claim('someone', 1, 3_600_000, later);
    const done = await make('test.done');
    await jobs.claim('someone', 1, 3_600_000, later);
    await jobs.complete(done, 'someone', null);
    const dead = await make('test.dead');
    await jobs.claim('someone', 1, 3_600_000, later);
    await jobs.fail(dead, 'someone', 'gave up', undefined);

    for (const [id, status] of [
      [queued, 'queued'],
      [running, 'running'],
      [done, 'done'],
    ] as const) {
      const before = await jobs.get(id);
      assert.equal(before?.status, status);
      assertOneLineError(runCli(['jobs', 'retry', String(id)], { cwd: dir }), new RegExp(`^credgate: job ${id} is ${status}; only dead jobs can be retried$`));
      assert.deepEqual(await jobs.get(id), before, `the ${status} job is unchanged`);
    }

    const r = runCli(['jobs', 'retry', String(dead)], { cwd: dir });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `job ${dead} queued to run again\n`);
    const requeued = await jobs.get(dead);
    assert.equal(requeued?.status, 'queued');
    assert.equal(requeued?.attempts, 0);
    assert.ok(requeued!.availableAt! <= Date.now(), 'due now');
  });
});
