/**
 * The baseline for bench/ws1/run.sh: a bare express 5 app on the gateway's
 * HTTPS settings (same certificate chain and key, client certificates
 * requested but not required, TLS 1.2+, same keep-alive timeouts) that
 * accepts a POSTed JSON event at the connector's path, parses it and answers
 * 202 with a body shaped like the gateway's. No authentication, storage,
 * helmet, request ids, logging or metrics: what is left is express, JSON
 * parsing and TLS.
 *
 *   BENCH_PKI_DIR=/tmp/x/pki BENCH_PORT=18446 node --import tsx bench/ws1/bare-server.ts
 */
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { join } from 'node:path';
import express from 'express';

const dir = process.env.BENCH_PKI_DIR ?? 'certs';
const port = Number(process.env.BENCH_PORT ?? 18446);
const host = process.env.BENCH_HOST ?? '127.0.0.1';

const masterKeyHex = readFileSync(join(dir, 'master.key'), 'utf8').trim();
const key = createPrivateKey({ key: readFileSync(join(dir, 'server-key.pem')), format: 'pem', passphrase: masterKeyHex });

const app = express();
app.disable('x-powered-by');
let eventId = 0;
app.post('/connectors/ws1/events', express.json({ limit: '1mb', type: () => true }), (req, res) => {
  if (typeof (req.body as { DeviceUUID?: unknown })?.DeviceUUID !== 'string') {
    res.status(400).json({ error: 'bad_event' });
    return;
  }
  res.status(202).json({ status: 'accepted', eventId: ++eventId });
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
