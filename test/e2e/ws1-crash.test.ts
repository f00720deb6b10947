/**
 * Workspace ONE under a crash: the gateway (`credgate serve`, a child
 * process) is killed with SIGKILL in the middle of a 500-event enrollment
 * burst and restarted on the same data directory. The console's retries are
 * played by re-sending every event that did not get a 2xx. At the end the
 * Escrow Gateway stand-in (in this process) must hold one credential set per
 * device, none missing; every event is stored once; no job is dead. The only
 * repeat allowed is an identical re-send of a delivery that was in flight at
 * a kill (the EG contract offers no idempotency key).
 *
 * Two kills, both SIGKILL, each followed by a restart:
 *  1. the issue's scenario: when half the events are acknowledged, with 16
 *     requests in flight and the rest unsent (they fail to connect and are
 *     re-sent after the restart);
 *  2. the delivery window: after the restart, the moment the EG stand-in
 *     records an upload, before its 200 is written. The EG then has the
 *     credentials and the gateway has not marked the delivery done; a
 *     randomly timed kill hits that window only now and then (during a
 *     burst the queue runs its backlog of enrollment jobs first, and most
 *     deliveries come after it), so the test puts the kill there every run.
 *
 * All events are for one user, so an enrollment costs one RSA-2048 key (the
 * signing key; the escrowed encryption credential is shared). The key pool
 * (64) gets a head start before the burst; after that the run is bound by
 * RSA key generation (a few keys per second per core). The jobs lease is
 * 5 s, so a restarted gateway takes over the jobs the killed one had
 * claimed.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { REPO, spawnCli, stop } from '../helpers/cli.js';
import { escrowGatewayOf, writeConnectorFile, ws1Settings } from '../helpers/connector-files.js';
import { tempDir } from '../helpers/tmp.js';
import { makeTestTls, startEscrowGateway, writeTestTlsFiles, type EscrowGatewayHandle, type EscrowUpload } from '../helpers/ws1-standins.js';
import { until } from '../helpers/wait.js';
import { freePort } from '../helpers/net.js';

const EVENTS = 500;
const IN_FLIGHT = 16;
const POOL = 64;
const LEASE = '5s';
/** From the first restart until every device has its upload. */
const DELIVERY_TIMEOUT_MS = 240_000;

const EVENTS_PASSWORD = 'console-events-pw-crash';
const P12_PASSWORD = 'eg-profile-password';
const USER_UUID = 'fe13e814-7415-4fce-9f47-de5a55bfe57a';

const enrollment = (i: number, deviceUuid: string) => ({
  EventId: 148,
  EventType: 'MDM Enrollment Complete',
  DeviceId: 1000 + i,
  DeviceFriendlyName: `crash device ${i}`,
  EnrollmentEmailAddress: 'zenny@example.com',
  EnrollmentUserName: 'zenny',
  EventTime: '2024-06-01T12:00:00.1234567Z',
  EnrollmentStatus: 'Enrolled',
  ComplianceStatus: 'Compliant',
  SerialNumber: `CRASH${String(i).padStart(5, '0')}`,
  EnrollmentUserId: 12,
  Platform: 'Apple',
  OperatingSystem: '17.5',
  Ownership: 'CorporateDedicated',
  OrganizationGroupName: 'CEG',
  DeviceUUID: deviceUuid,
  EnrollmentUserUUID: USER_UUID,
});

type PostResult = { status: number; body: string } | { error: string };

describe('Workspace ONE: SIGKILL in the middle of a 500-event burst', () => {
  const children: ChildProcess[] = [];
  let eg: EscrowGatewayHandle | undefined;
  let db: Database.Database | undefined;
  after(async () => {
    db?.close();
    await Promise.all(children.map((c) => stop(c, 'SIGKILL')));
    await eg?.stop();
  });

  test('the EG ends with one credential set per device, none missing; every event stored once; no dead job', { timeout: 330_000 }, async (t) => {
    const t0 = Date.now();
    const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
    const note = (msg: string) => t.diagnostic(`[${elapsed()}] ${msg}`);

    // --- a fresh checkout with one connector, and the EG stand-in --------------
    const dir = tempDir('credgate-ws1-crash-');
    mkdirSync(join(dir, 'config'));
    copyFileSync(join(REPO, 'config/credgate.yaml'), join(dir, 'config/credgate.yaml'));
    mkdirSync(join(dir, 'tls'));
    const tls = await makeTestTls();
    const files = writeTestTlsFiles(tls, join(dir, 'tls'));
    eg = await startEscrowGateway({ cert: tls.server.cert, key: tls.server.key, clientCa: tls.caPem, allowedFingerprints: [tls.client.fingerprint256] });
    writeConnectorFile(
      join(dir, 'connectors'),
      'ws1',
      ws1Settings({
        eventsPassword: '${WS1_CRASH_EVENTS_PASSWORD}',
        pkcs12: { format: 'modern', password: P12_PASSWORD },
        escrowGateway: { ...escrowGatewayOf(eg.url, tls, files), clientPkcs12Password: '${WS1_CRASH_EG_CLIENT_PASSWORD}', timeout: '10s' },
      }),
    );

    const port = await freePort();
    const env = {
      CREDGATE_SERVER__HOST: '127.0.0.1',
      CREDGATE_SERVER__PORT: String(port),
      CREDGATE_CONNECTORS__DIR: join(dir, 'connectors'),
      CREDGATE_JOBS__LEASE: LEASE,
      CREDGATE_JOBS__POLL_INTERVAL: '100ms',
      CREDGATE_JOBS__BACKOFF__BASE: '250ms',
      CREDGATE_JOBS__BACKOFF__MAX: '2s',
      CREDGATE_PKI__KEY_POOL: `{rsa-2048: ${POOL}}`,
      CREDGATE_LOGGING__LEVEL: 'warn',
      WS1_CRASH_EVENTS_PASSWORD: EVENTS_PASSWORD,
      WS1_CRASH_EG_CLIENT_PASSWORD: tls.client.pkcs12Password,
    };

    // Warnings and errors of each gateway run, for the report.
    const problems: { run: number; line: string }[] = [];
    const startGatewayProcess = (run: number): ChildProcess => {
      const child = spawnCli(['serve'], { cwd: dir, env });
      children.push(child);
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (/"level":(40|50|60)/.test(line)) problems.push({ run, line });
      });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      child.once('exit', (code) => {
        if (code !== null && code !== 0) problems.push({ run, line: `exited ${code}: ${stderr.slice(-2000)}` });
      });
      return child;
    };

    // --- HTTPS client: keep-alive, at most IN_FLIGHT requests -------------------
    let agent: Agent | undefined;
    const newAgent = () => {
      agent?.destroy();
      agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT, ca: readFileSync(join(dir, 'certs/root-ca.pem')) });
      return agent;
    };
    const authorization = `Basic ${Buffer.from(`ws1-events:${EVENTS_PASSWORD}`).toString('base64')}`;
    const call = (method: 'GET' | 'POST', path: string, body?: string): Promise<PostResult> =>
      new Promise((resolve) => {
        const req = request(
          {
            host: '127.0.0.1',
            port,
            method,
            path,
            agent,
            servername: 'localhost',
            headers: {
              Authorization: authorization,
              ...(body !== undefined && { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }),
            },
            timeout: 30_000,
          },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (text += c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
            res.on('error', (err) => resolve({ error: err.message }));
          },
        );
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
        req.end(body);
      });
    const waitReady = (child: ChildProcess, what: string) =>
      until(
        what,
        async () => {
          if (child.exitCode !== null) throw new Error(`the gateway exited with ${child.exitCode}: ${problems.map((p) => p.line).join('\n')}`);
          const r = await call('GET', '/healthz');
          return 'status' in r && r.status === 200;
        },
        90_000,
        200,
      );

    // --- first run: start, let the key pool get ahead -----------------------------
    const first = startGatewayProcess(1);
    await until('the dev PKI', () => existsSync(join(dir, 'certs/root-ca.pem')), 90_000, 200);
    newAgent();
    await waitReady(first, 'the first gateway to listen');
    note('first gateway listening (dev PKI generated)');
    db = new Database(join(dir, 'data/credgate.db'), { readonly: true, fileMustExist: true });
    const scalar = (sql: string, ...params: unknown[]) => Number(Object.values(db!.prepare(sql).get(...params) as Record<string, unknown>)[0]);
    const poolHeadStart = await until(
      'the key pool to fill',
      () => {
        const n = scalar("select count(*) from key_pool where algorithm = 'rsa-2048'");
        return n >= POOL ? n : undefined;
      },
      90_000,
      250,
    ).catch(() => scalar("select count(*) from key_pool where algorithm = 'rsa-2048'"));
    note(`key pool head start: ${poolHeadStart} keys`);

    // --- the burst, and the kill -----------------------------------------------------
    const devices = Array.from({ length: EVENTS }, () => randomUUID());
    const bodies = devices.map((d, i) => JSON.stringify(enrollment(i, d)));
    const acked = new Map<number, number>(); // index -> status of the 2xx

    let inFlight = 0;
    const kills: { at: number; why: string; acked: number; inFlight: number; uploads: number }[] = [];
    const kill = (child: ChildProcess, why: string) => {
      kills.push({ at: Date.now(), why, acked: acked.size, inFlight, uploads: eg!.uploads.length });
      child.kill('SIGKILL');
      note(`SIGKILL #${kills.length} (${why}): ${acked.size} events acknowledged, ${inFlight} requests in flight, ${eg!.uploads.length} uploads at the EG`);
    };
    const exited = (child: ChildProcess) => new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));

    const postAll = async (indexes: number[], onResult: (i: number, r: PostResult) => void) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          while (next < indexes.length) {
            const i = indexes[next++]!;
            inFlight += 1;
            const r = await call('POST', '/connectors/ws1/events', bodies[i]);
            inFlight -= 1;
            onResult(i, r);
          }
        }),
      );
    };
    const tally = (into: Record<string, number>, r: PostResult) => {
      const k = 'status' in r ? `HTTP ${r.status}` : r.error;
      into[k] = (into[k] ?? 0) + 1;
    };
    /** The console retrying: every event without a 2xx is sent again, a few rounds. */
    const resendUnacknowledged = async () => {
      const outcomes: Record<string, number> = {};
      for (let round = 1; round <= 3 && acked.size < EVENTS; round++) {
        const missing = devices.map((_, i) => i).filter((i) => !acked.has(i));
        await postAll(missing, (i, r) => {
          tally(outcomes, r);
          if ('status' in r && r.status >= 200 && r.status < 300) acked.set(i, r.status);
        });
        if (acked.size < EVENTS) await sleep(1000);
      }
      return outcomes;
    };

    // Kill 1, the issue's scenario: half the events acknowledged, 16 requests
    // in flight, the rest unsent (they fail to connect).
    const burstStart = Date.now();
    const burst: Record<string, number> = {};
    await postAll(
      devices.map((_, i) => i),
      (i, r) => {
        tally(burst, r);
        if ('status' in r && r.status >= 200 && r.status < 300) {
          acked.set(i, r.status);
          if (acked.size === EVENTS / 2) kill(first, 'half the events acknowledged');
        }
      },
    );
    const burstMs = Date.now() - burstStart;
    await exited(first);
    note(`burst: ${EVENTS} posts in ${burstMs} ms; outcomes ${JSON.stringify(burst)}`);
    assert.equal(kills.length, 1, 'the gateway was killed during the burst');
    const unsent = EVENTS - acked.size;
    assert.ok(unsent > 0, 'some events were not acknowledged before the kill');

    // Restart on the same data directory; the console re-sends what got no 2xx.
    const restartAt = Date.now();
    const second = startGatewayProcess(2);
    newAgent();
    await waitReady(second, 'the restarted gateway to listen');
    note(`restarted in ${Date.now() - restartAt} ms; re-sending ${unsent} events`);
    note(`re-sent: ${JSON.stringify(await resendUnacknowledged())} (HTTP 200 = stored before the kill, answer lost)`);
    assert.equal(acked.size, EVENTS, 'every event is acknowledged in the end');

    // Kill 2, the delivery window: the moment the EG stand-in records an
    // upload, before its 200 is written. The EG has the credentials; the
    // gateway has not marked the delivery done, so the restarted gateway runs
    // the delivery job again.
    const uploads = eg.uploads;
    const push = uploads.push;
    let secondKill!: () => void;
    const secondKilled = new Promise<void>((r) => (secondKill = r));
    uploads.push = function (...items: EscrowUpload[]): number {
      const n = push.apply(this, items);
      if (kills.length === 1) {
        kill(second, `as the EG recorded upload #${n}, device ${items[0]?.deviceUuid}`);
        secondKill();
      }
      return n;
    };
    // Bounded: normally an upload comes within seconds of the re-sends.
    const deliveryDeadline = restartAt + DELIVERY_TIMEOUT_MS;
    const deadline = setTimeout(() => {
      if (kills.length === 1) {
        kill(second, 'no upload within 120 s');
        secondKill();
      }
    }, 120_000);
    await secondKilled;
    clearTimeout(deadline);
    await exited(second);
    const third = startGatewayProcess(3);
    newAgent();
    await waitReady(third, 'the gateway to listen after the second kill');
    note('restarted after the second kill');
    const more = await resendUnacknowledged();
    if (Object.keys(more).length) note(`re-sent after the second kill: ${JSON.stringify(more)}`);

    // --- wait for the EG, then for the queue to settle -------------------------------
    const seen = () => new Set(eg!.uploads.map((u) => u.deviceUuid));
    await until(`uploads for all ${EVENTS} devices`, () => seen().size >= EVENTS, Math.max(0, deliveryDeadline - Date.now()), 250).catch((err: Error) => {
      note(`${err.message}; have ${seen().size}`);
    });
    const allUploadedAt = Date.now();
    note(`EG has uploads for ${seen().size} devices, ${Math.round((allUploadedAt - restartAt) / 1000)} s after the first restart`);
    await until('the queue to settle', () => scalar("select count(*) from jobs where status in ('queued', 'running')") === 0, 30_000, 250).catch(
      () => undefined,
    );
    await sleep(500);

    // --- facts ---------------------------------------------------------------------
    const byDevice = new Map<string, EscrowUpload[]>();
    for (const u of eg.uploads) byDevice.set(u.deviceUuid, [...(byDevice.get(u.deviceUuid) ?? []), u]);
    const missing = devices.filter((d) => !byDevice.has(d));
    const duplicates = [...byDevice].filter(([, us]) => us.length > 1);
    const jobs = db.prepare('select type, status, count(*) n from jobs group by type, status order by type, status').all() as {
      type: string;
      status: string;
      n: number;
    }[];
    const dead = db.prepare("select id, type, attempts, last_error from jobs where status = 'dead'").all() as {
      id: number;
      type: string;
      attempts: number;
      last_error: string;
    }[];
    const stored = db.prepare("select device_id, count(*) n from mdm_events where connector_id = 'ws1' group by device_id").all() as {
      device_id: string;
      n: number;
    }[];
    const storedBy = new Map(stored.map((r) => [r.device_id, Number(r.n)]));
    const certs = db.prepare('select template, count(*) n from certificates group by template').all() as { template: string; n: number }[];
    const deliveries = db.prepare("select status, count(*) n from deliveries where connector_id = 'ws1' group by status").all() as {
      status: string;
      n: number;
    }[];
    const retried = db.prepare('select type, count(*) n from jobs where attempts > 1 group by type').all() as { type: string; n: number }[];

    note(`EG: ${eg.uploads.length} uploads for ${byDevice.size} devices; missing ${missing.length}; devices with more than one upload ${duplicates.length}`);
    for (const [device, us] of duplicates) {
      const sameBytes = us.every((u) => u.signing[0] !== undefined && us[0]!.signing[0] !== undefined && u.signing[0].equals(us[0]!.signing[0]));
      const when = us.map((u) => {
        const at = u.at.getTime();
        const k = kills.findIndex((x) => at <= x.at);
        return k >= 0
          ? `${kills[k]!.at - at} ms before kill #${k + 1}`
          : `${((at - kills[kills.length - 1]!.at) / 1000).toFixed(1)} s after kill #${kills.length}`;
      });
      note(`  device ${device}: ${us.length} uploads (${when.join('; ')}); the same signing PKCS#12 each time: ${sameBytes}`);
    }
    note(`jobs: ${jobs.map((j) => `${j.type} ${j.status} ${j.n}`).join(', ')}; run more than once: ${JSON.stringify(retried)}`);
    note(`deliveries: ${JSON.stringify(deliveries)}; certificates issued: ${certs.map((c) => `${c.template} ${c.n}`).join(', ')}`);
    note(
      `gateway warnings/errors: ${problems.length}${
        problems.length
          ? `, e.g. ${problems
              .slice(0, 5)
              .map((p) => `run ${p.run}: ${p.line.slice(0, 300)}`)
              .join(' | ')}`
          : ''
      }`,
    );
    note(
      `timing: burst ${burstMs} ms, kills at ${kills.map((k) => `+${((k.at - t0) / 1000).toFixed(1)} s`).join(' and ')}, all uploads at +${((allUploadedAt - t0) / 1000).toFixed(1)} s, total ${elapsed()}`,
    );

    // --- the requirement -----------------------------------------------------------
    for (const [i, d] of devices.entries()) assert.equal(storedBy.get(d), 1, `event ${i} (device ${d}) is stored exactly once`);
    assert.equal(
      stored.reduce((s, r) => s + Number(r.n), 0),
      EVENTS,
      'no other events stored',
    );
    assert.deepEqual(missing, [], 'no device is missing at the EG');
    assert.deepEqual(dead, [], 'no dead jobs');
    // The EG contract has no idempotency key and no way to ask what it holds,
    // so a delivery that reached the EG in the instant before a kill (the
    // gateway had not recorded it yet) is sent again after the restart. That
    // is the only repeat allowed: at most one per delivery in flight at a
    // kill (two workers), carrying the very same credentials.
    const inFlightAtKill = (u: EscrowUpload) => kills.some((k) => u.at.getTime() <= k.at && k.at - u.at.getTime() < 30_000);
    const sameCredentials = (us: EscrowUpload[]) =>
      us.every((u) => ['signing', 'encryption'].every((p) => JSON.stringify((u as never)[p]) === JSON.stringify((us[0] as never)[p])));
    for (const [device, us] of duplicates) {
      const cutShort = us.filter(inFlightAtKill).length;
      assert.ok(us.length - 1 <= cutShort, `device ${device}: ${us.length - 1} repeat(s), but only ${cutShort} upload(s) were in flight at a kill`);
      assert.ok(sameCredentials(us), `device ${device}: every repeat carries the same credentials`);
    }
    assert.ok(duplicates.length <= kills.length * 2, `repeats only for deliveries in flight at a kill (${duplicates.length})`);
    assert.equal(byDevice.size, EVENTS, 'one credential set per device');

    await stop(third, 'SIGTERM');
  });
});
