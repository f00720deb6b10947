/**
 * Admin API of content signing and holder assertions: the signer set as an
 * operator checks it (every configured certificate, accepted or not, and
 * until when), and online verification of a badge's holder assertion by an
 * admin API caller, limited by the caller's operator scope.
 */
import express, { Router } from 'express';
import type { HolderAssertions } from '../../identity/holder-assertions.js';
import type { ContentSigning } from '../../pki/content-signing.js';
import type { Guard } from '../auth/authenticate.js';
import { badRequest } from '../errors.js';
import { actorOf } from './directory.js';

export function signingRouter(deps: { guard: Guard; signing: ContentSigning; assertions: HolderAssertions; bodyLimit: number }): Router {
  const router = Router();
  const admin = deps.guard({ methods: ['client-cert', 'bearer'], roles: ['admin'] });
  const anyone = deps.guard({ methods: ['client-cert', 'bearer'] });

  router.get('/signing/signers', admin, (_req, res) => {
    res.json({ signers: deps.signing.report() });
  });

  router.post('/holder-assertions/verify', anyone, express.json({ limit: deps.bodyLimit }), async (req, res) => {
    const b: unknown = req.body;
    if (!b || typeof b !== 'object' || Array.isArray(b)) throw badRequest('expected a JSON object with assertion');
    const unknown = Object.keys(b).filter((k) => k !== 'assertion');
    if (unknown.length) throw badRequest(`unknown field ${unknown.join(', ')}; fields: assertion`);
    const { assertion } = b as { assertion?: unknown };
    if (typeof assertion !== 'string') throw badRequest("assertion must be the compact JWS read from the badge's QR code");
    res.setHeader('Cache-Control', 'no-store');
    res.json(await deps.assertions.verifyAsCaller({ actor: actorOf(req), name: req.user!.name, roles: req.user!.roles }, assertion));
  });
  return router;
}
