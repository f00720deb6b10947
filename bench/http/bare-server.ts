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
import express from 'express';
import { serveBare } from '../bare-https.js';

const app = express();
app.disable('x-powered-by');
// Same shape and size as the gateway's answer for a Basic caller.
const body = { principal: { name: 'bench-basic', method: 'basic', roles: ['connector'] } };
app.get('/api/v1/whoami', (_req, res) => {
  res.json(body);
});

await serveBare(app, 18444);
