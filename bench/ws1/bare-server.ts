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
import express from 'express';
import { serveBare } from '../bare-https.js';

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

await serveBare(app, 18446);
