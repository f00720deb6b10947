/** SCEP's admin API: one-time challenges, and the approval queue. The protocol endpoint is ../scep-endpoint.ts. */
import express, { Router, type Request, type Response } from 'express';
import { durationMs } from '../../config/duration.js';
import type { DynamicChallenges } from '../../protocols/scep/challenges.js';
import type { ScepService } from '../../protocols/scep/service.js';
import type { ScepTransaction } from '../../store/scep.js';
import type { Guard } from '../auth/authenticate.js';
import { badRequest } from '../errors.js';
import { attributeOid, unknownAttributeType } from '../../pki/names.js';
import { unsafeCharacter } from '../../util/unsafe-text.js';

/** Bindings are stored as JSON beside the challenge and compared with a request's subject. */
const MAX_BOUND = 16;

const MIN_TTL_MS = 60_000;
const MAX_TTL_MS = 30 * 24 * 3_600_000;

/** Admin API: one-time challenges for dynamic SCEP profiles; the approval queue of profiles with `approval: true`. */
export function scepAdminRouter(deps: { guard: Guard; scep: ScepService; challenges: DynamicChallenges; bodyLimit: number }): Router {
  const router = Router();
  const admin = deps.guard({ methods: ['client-cert', 'bearer'], roles: ['admin'] });
  router.post('/scep/challenges', admin, express.json({ limit: deps.bodyLimit }), async (req, res) => {
    const body = (req.body ?? {}) as { profile?: unknown; ttl?: unknown; binding?: unknown; exact?: unknown };
    const name = typeof body.profile === 'string' ? body.profile : 'default';
    const profile = deps.scep.profile(name);
    if (!profile) throw badRequest(`no SCEP profile "${name}"`);
    if (profile.challengeKind !== 'dynamic') throw badRequest(`SCEP profile "${name}" does not use one-time challenges`);
    let ttlMs = profile.challengeTtlMs;
    if (body.ttl !== undefined) {
      try {
        ttlMs = durationMs(String(body.ttl));
      } catch (err) {
        throw badRequest(`ttl: ${(err as Error).message}`);
      }
      // A one-time challenge is a password: one that works for months is one left lying around.
      if (ttlMs < MIN_TTL_MS || ttlMs > MAX_TTL_MS) throw badRequest('ttl must be between 1m and 30d');
    }
    const binding = bindingOf(body.binding);
    if (body.exact !== undefined && typeof body.exact !== 'boolean') throw badRequest('exact must be true or false');
    if (body.exact && !binding) throw badRequest('exact needs a binding: the bound attributes are then the whole subject');
    const created = await deps.challenges.create({
      profile: name,
      ttlMs,
      ...(binding && { binding }),
      ...(body.exact === true && { exact: true }),
      createdBy: `${req.user!.method}:${req.user!.name}`,
    });
    res.setHeader('Cache-Control', 'no-store');
    res.status(201).json({ profile: name, challenge: created.challenge, expiresAt: new Date(created.expiresAt).toISOString() });
  });

  router.get('/scep/requests', admin, async (req, res) => {
    const profile = typeof req.query.profile === 'string' ? req.query.profile : undefined;
    res.json({ requests: (await deps.scep.pending(profile)).map(requestView) });
  });
  const decide = (approve: boolean) => async (req: Request, res: Response) => {
    const id = Number((req.params as { id: string }).id);
    if (!Number.isSafeInteger(id) || id <= 0) throw badRequest('request id must be a positive integer');
    const reason = (req.body as { reason?: unknown } | undefined)?.reason;
    if (reason !== undefined && (typeof reason !== 'string' || reason.length > 500)) throw badRequest('reason must be a string of at most 500 characters');
    const decided = await deps.scep.decide(id, { approve, actor: `${req.user!.method}:${req.user!.name}`, ...(reason !== undefined && { reason }) });
    res.json(requestView(decided));
  };
  router.post('/scep/requests/:id/approve', admin, express.json({ limit: deps.bodyLimit }), decide(true));
  router.post('/scep/requests/:id/reject', admin, express.json({ limit: deps.bodyLimit }), decide(false));
  return router;
}

/** A challenge's binding: known subject attribute types, each to one clean value, at most one entry per type. */
function bindingOf(value: unknown): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Object.keys(value).length === 0) {
    throw badRequest('binding must map subject attribute types to strings, e.g. {"serialNumber": "C02X…"}');
  }
  if (Object.keys(value).length > MAX_BOUND) throw badRequest(`binding may name at most ${MAX_BOUND} attributes`);
  const seen = new Set<string>();
  for (const [type, v] of Object.entries(value)) {
    const name = type.slice(0, 64);
    const oid = attributeOid(type);
    if (!oid) throw badRequest(`binding ${name}: ${unknownAttributeType(name)}`);
    if (seen.has(oid)) throw badRequest(`binding ${name}: the attribute type is given twice`);
    seen.add(oid);
    // A certificate keeps its subject to 1024 characters (issuer.ts).
    if (typeof v !== 'string' || v.length === 0 || v.length > 1024) throw badRequest(`binding ${name}: a value of 1 to 1024 characters`);
    const bad = unsafeCharacter(v);
    if (bad) throw badRequest(`binding ${name}: has ${bad.description}`);
  }
  return value as Record<string, string>;
}

/** A request as operators see it: no CSR, no key hash. */
const requestView = (t: ScepTransaction) => ({
  id: t.id,
  profile: t.profile,
  transactionId: t.transactionId,
  messageType: t.messageType,
  subject: t.subject,
  status: t.status,
  ...(t.renews && { renews: t.renews }),
  ...(t.serial && { serial: t.serial }),
  ...(t.failInfo && { failInfo: t.failInfo }),
  ...(t.reason && { reason: t.reason }),
  ...(t.decidedBy && { decidedBy: t.decidedBy }),
  createdAt: new Date(t.createdAt).toISOString(),
  updatedAt: new Date(t.updatedAt).toISOString(),
});
