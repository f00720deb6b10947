/** Starts a real gateway (HTTPS on a free port) in this process, with its logs captured. Callers stop it. */
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { configSchema, type Config } from '../../src/config/schema.js';
import { startGateway, type Gateway } from '../../src/app/gateway.js';
import type { JobHandler } from '../../src/jobs/worker.js';
import { createLogger } from '../../src/observability/logger.js';
import { tempDir } from './tmp.js';

export interface TestGateway extends Gateway {
  dir: string;
  config: Config;
  /** Everything logged so far: one JSON object per line, or readable lines with logging.format pretty. */
  logs(): string;
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> | T[K] : T[K] };

/** A config rooted in `dir`; `overrides` are merged over it before validation. */
export function testConfig(dir: string, overrides: Record<string, unknown> = {}): Config {
  const base = {
    server: { host: '127.0.0.1', port: 0, tls: { cert: join(dir, 'certs/server.pem'), key: join(dir, 'certs/server-key.pem') } },
    database: { client: 'sqlite', filename: join(dir, 'data/credgate.db') },
    auth: {
      clientCertificates: {
        trust: [join(dir, 'certs/root-ca.pem'), join(dir, 'certs/issuing-ca.pem')],
        allow: [{ subject: 'CN=credgate-admin, O=credgate dev', principal: 'admin', roles: ['admin', 'key-recovery'] }],
      },
    },
    jobs: { pollInterval: '50ms' },
    // The pool is exercised by its own tests; elsewhere keys are made on demand.
    pki: { dir: join(dir, 'certs'), keyPool: {} },
    logging: { level: 'info' },
  };
  return configSchema.parse(merge(base, overrides));
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && prev && typeof prev === 'object' && !Array.isArray(prev)
        ? merge(prev as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

export async function startTestGateway(
  opts: { dir?: string; overrides?: DeepPartial<Config> | Record<string, unknown>; handlers?: Record<string, JobHandler> } = {},
): Promise<TestGateway> {
  const dir = opts.dir ?? tempDir();
  const config = testConfig(dir, (opts.overrides ?? {}) as Record<string, unknown>);
  let captured = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      captured += chunk.toString();
      cb();
    },
  });
  const log = createLogger({ level: config.logging.level, format: config.logging.format, destination: sink as never });
  const gateway = await startGateway({ config, log, ...(opts.handlers && { handlers: opts.handlers }) });
  return { ...gateway, dir, config, logs: () => captured };
}
