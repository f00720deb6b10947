/**
 * /mobile/v1: the Identity Agent API, described by api/mobile-v1.openapi.yaml
 * (served at /mobile/v1/openapi.yaml). A session starts with a one-time
 * code; its token (Authorization: Bearer) fetches the credentials once and
 * acknowledges them. No passport here: the code and the token decide. An
 * address whose session starts keep being refused (unknown request, wrong
 * code) gets 429 for the rest of the minute.
 */
import express, { Router, type Request, type RequestHandler } from 'express';
import type { CollectionService } from '../../identity/collection.js';
import { CodeRefused } from '../../identity/request-opener.js';
import { Refusal } from '../../util/refusal.js';
import type { AddressThrottle } from '../address-throttle.js';
import { HttpError } from '../errors.js';
import { serveApiDocument } from '../openapi-document.js';

// A session start is a few hundred bytes.
const MAX_BODY = 16 * 1024;

function sessionToken(req: Request): string {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (!m)
    throw new HttpError(401, 'unauthorized', 'send the session token as Authorization: Bearer <token>', {
      'WWW-Authenticate': 'Bearer realm="credgate-mobile"',
    });
  return m[1]!;
}

export function mobileAgentRouter(deps: { collection: CollectionService; sessionThrottle: AddressThrottle }): Router {
  const router = Router();
  // Before the body is read: a held-up address costs no lookup and learns nothing about its attempt.
  const throttled: RequestHandler = (req, _res, next) => {
    const wait = deps.sessionThrottle.retryAfter(req.ip ?? '');
    if (wait > 0) return next(new Refusal('rate_limited', `too many failed session starts from this address; try again in ${wait} s`, wait));
    next();
  };
  router.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  router.get('/openapi.yaml', serveApiDocument('mobile-v1.openapi.yaml'));
  router.get('/policy', (_req, res) => {
    res.json(deps.collection.policy());
  });
  router.post('/sessions', throttled, express.json({ limit: MAX_BODY }), async (req, res) => {
    try {
      res.status(201).json(await deps.collection.start(req.body));
    } catch (err) {
      const address = req.ip ?? '';
      if (err instanceof CodeRefused && deps.sessionThrottle.fail(address))
        req.log.warn({ address }, 'failed session starts from this address are refused for the rest of the minute');
      throw err;
    }
  });
  router.get('/credentials', async (req, res) => {
    const token = sessionToken(req);
    res.json(await deps.collection.fetch(token));
  });
  router.post('/ack', async (req, res) => {
    const token = sessionToken(req);
    res.json(await deps.collection.acknowledge(token));
  });
  return router;
}
