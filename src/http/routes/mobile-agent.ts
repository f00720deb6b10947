/**
 * /mobile/v1: the Identity Agent API, described by api/mobile-v1.openapi.yaml
 * (served at /mobile/v1/openapi.yaml). A session starts with a one-time
 * code; its token (Authorization: Bearer) fetches the credentials once and
 * acknowledges them. No passport here: the code and the token decide.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { Router, type Request } from 'express';
import type { CollectionService } from '../../identity/collection.js';
import { HttpError } from '../errors.js';
import { refusals } from '../identity-errors.js';

// A session start is a few hundred bytes.
const MAX_BODY = 16 * 1024;

/** The OpenAPI document, found from this module upwards (src/ under tsx, dist/src/ when built). */
export function openApiDocument(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'api', 'mobile-v1.openapi.yaml');
    if (existsSync(file)) return readFileSync(file, 'utf8');
  }
  throw new Error('api/mobile-v1.openapi.yaml not found above the gateway module');
}

function sessionToken(req: Request): string {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (!m) throw new HttpError(401, 'unauthorized', 'send the session token as Authorization: Bearer <token>', { 'WWW-Authenticate': 'Bearer realm="credgate-mobile"' });
  return m[1]!;
}

export function mobileAgentRouter(deps: { collection: CollectionService }): Router {
  const router = Router();
  const spec = openApiDocument();
  router.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  router.get('/openapi.yaml', (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=300').type('application/yaml').send(spec);
  });
  router.get('/policy', (_req, res) => {
    res.json(deps.collection.policy());
  });
  router.post('/sessions', express.json({ limit: MAX_BODY }), async (req, res) => {
    res.status(201).json(await refusals(() => deps.collection.start(req.body)));
  });
  router.get('/credentials', async (req, res) => {
    const token = sessionToken(req);
    res.json(await refusals(() => deps.collection.fetch(token)));
  });
  router.post('/ack', async (req, res) => {
    const token = sessionToken(req);
    res.json(await refusals(() => deps.collection.acknowledge(token)));
  });
  return router;
}
