/**
 * Serves a bench's bare express baseline through the gateway's own HTTPS
 * listener (src/http/server.ts), so the baseline has exactly the gateway's
 * TLS and keep-alive settings, with the dev PKI's server certificate from
 * BENCH_PKI_DIR on BENCH_HOST:BENCH_PORT. Stops on SIGINT and SIGTERM.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Express } from 'express';
import { readKeyFile } from '../src/pki/key-files.js';
import { resolveMasterKey } from '../src/pki/master-key.js';
import { listen } from '../src/http/server.js';

export async function serveBare(app: Express, defaultPort: number): Promise<void> {
  const dir = process.env.BENCH_PKI_DIR ?? 'certs';
  const port = Number(process.env.BENCH_PORT ?? defaultPort);
  const host = process.env.BENCH_HOST ?? '127.0.0.1';
  const server = await listen(app, {
    host,
    port,
    certChainPem: readFileSync(join(dir, 'server.pem'), 'utf8'),
    key: readKeyFile(join(dir, 'server-key.pem'), resolveMasterKey({ pkiDir: dir })),
    clientCaPem: [readFileSync(join(dir, 'root-ca.pem'), 'utf8'), readFileSync(join(dir, 'issuing-ca.pem'), 'utf8')],
  });
  process.stdout.write(`bare express listening on https://${host}:${port}\n`);
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
