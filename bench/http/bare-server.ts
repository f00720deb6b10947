/**
 * The baseline for bench/http/run.sh: a bare express 5 app on the gateway's
 * HTTPS settings (same certificate chain and key, client certificates
 * requested but not required, TLS 1.2+, same keep-alive timeouts) with one
 * route answering a JSON body of the size /api/v1/whoami sends. No helmet,
 * request ids, logging, metrics or authentication: what is left is express
 * and TLS.
 *
 *   BENCH_PKI_DIR=/tmp/x/pki BENCH_PORT=18444 node --import tsx bench/http/bare-server.ts
 */
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { join } from 'node:path';
import express from 'express';

const dir = process.env.BENCH_PKI_DIR ?? 'certs';
const port = Number(process.env.BENCH_PORT ?? 18444);
const host = process.env.BENCH_HOST ?? '127.0.0.1';

const masterKeyHex = readFileSync(join(dir, 'master.key'), 'utf8').trim();
const key = createPrivateKey({ key: readFileSync(join(dir, 'server-key.pem')), format: 'pem', passphrase: masterKeyHex });

const app = express();
app.disable('x-powered-by');
// Same shape and size as the gateway's answer for a Basic caller.
const body = { principal: { name: 'bench-basic', method: 'basic', roles: ['connector'] } };
app.get('/api/v1/whoami', (_req, res) => {
  res.json(body);
});

const server = createServer(
  {
    cert: readFileSync(join(dir, 'server.pem'), 'utf8'),
    key: key.export({ type: 'pkcs8', format: 'pem' }),
    ca: [readFileSync(join(dir, 'root-ca.pem'), 'utf8'), readFileSync(join(dir, 'issuing-ca.pem'), 'utf8')],
    requestCert: true,
    rejectUnauthorized: false,
    minVersion: 'TLSv1.2',
  },
  app,
);
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
server.requestTimeout = 60_000;
server.listen(port, host, () => {
  process.stdout.write(`bare express listening on https://${host}:${port}\n`);
});

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
