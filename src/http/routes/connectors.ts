/**
 * Admin API over the MDM connectors (admin role): what each one is and where
 * its console reaches it, and a test of one against its vendor. The answers
 * are built by the composition root (src/app/connector-listing.ts,
 * src/app/connector-test.ts) and carry no secret.
 */
import { Router } from 'express';
import type { Guard } from '../auth/authenticate.js';
import { notFound } from '../errors.js';

export interface ConnectorsDeps {
  guard: Guard;
  list(): object[];
  /** The result of the connector's checks, or undefined when no connector has this id. */
  test(id: string): Promise<object | undefined>;
}

export function connectorsRouter(deps: ConnectorsDeps): Router {
  const router = Router();
  const admin = deps.guard({ methods: ['client-cert', 'bearer'], roles: ['admin'] });

  router.get('/connectors', admin, (_req, res) => {
    res.json({ connectors: deps.list() });
  });

  router.post('/connectors/:id/test', admin, async (req, res) => {
    const id = String(req.params.id);
    const result = await deps.test(id);
    if (!result) throw notFound(`no connector ${JSON.stringify(id)}`);
    res.json(result);
  });

  return router;
}
