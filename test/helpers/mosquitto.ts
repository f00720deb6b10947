/**
 * A real Mosquitto broker for tests: one TLS listener on a free port of
 * 127.0.0.1 that requires a client certificate from the test CA and takes
 * the certificate's CN as the user name, as the Event Notification Service
 * authenticates its subscribers. Keeps nothing on disk (persistence off), so
 * a restart loses every session, as a crashed broker would. `settings` adds
 * lines to its configuration, e.g. `max_qos 0` (for that listener) or
 * `persistent_client_expiration 2s`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './net.js';

export const MOSQUITTO = '/usr/sbin/mosquitto';

export interface BrokerTls {
  /** PEM paths. */
  ca: string;
  cert: string;
  key: string;
}

export interface MosquittoHandle {
  port: number;
  /** mqtts://127.0.0.1:<port> */
  url: string;
  /** Everything the broker logged (connections, refusals, subscriptions). */
  log(): string;
  stop(): Promise<void>;
  /** Starts again on the same port after stop(). */
  start(): Promise<void>;
  /** Stops and starts again on the same port. */
  restart(): Promise<void>;
}

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

export async function startMosquitto(dir: string, tls: BrokerTls, opts: { settings?: string[] } = {}): Promise<MosquittoHandle> {
  if (!existsSync(MOSQUITTO)) throw new Error(`${MOSQUITTO} is missing: install the Debian package mosquitto`);
  const port = await freePort();
  const conf = join(dir, `mosquitto-${port}.conf`);
  writeFileSync(
    conf,
    [
      `user ${userInfo().username}`, // as root, mosquitto would otherwise switch to a user that cannot read the key
      'persistence false',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      'log_type information',
      'connection_messages true',
      `listener ${port} 127.0.0.1`,
      `cafile ${tls.ca}`,
      `certfile ${tls.cert}`,
      `keyfile ${tls.key}`,
      'tls_version tlsv1.2',
      'require_certificate true',
      'use_identity_as_username true',
      ...(opts.settings ?? []),
      '',
    ].join('\n'),
  );
  let output = '';
  let proc: ChildProcess | undefined;

  const start = async () => {
    const p = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc = p;
    let exited: number | null | undefined;
    p.on('exit', (code) => (exited = code));
    p.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const deadline = Date.now() + 10_000;
    while (!(await listening(port))) {
      if (exited !== undefined) throw new Error(`mosquitto exited (${exited}):\n${output}`);
      if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${port} within 10 s:\n${output}`);
      await sleep(50);
    }
  };
  const stop = async () => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null) return;
    const gone = new Promise((resolve) => p.once('exit', resolve));
    p.kill('SIGTERM');
    await gone;
  };

  await start();
  return {
    port,
    url: `mqtts://127.0.0.1:${port}`,
    log: () => output,
    stop,
    start,
    async restart() {
      await stop();
      await start();
    },
  };
}
