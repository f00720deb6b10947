/**
 * /scep and /scep/<profile> (RFC 8894 §4): GetCACaps, GetCACert and
 * PKIOperation by POST (raw DER, whatever content type the client sends)
 * or GET (base64 `message`). Unauthenticated at the HTTP level by design:
 * the challenge or the renewal signature inside the message decides.
 */
import express, { Router, type Request, type Response } from 'express';
import { durationMs } from '../../config/duration.js';
import type { DynamicChallenges } from '../../protocols/scep/challenges.js';
import { CA_CAPS, ScepDecisionError, type ScepProfile, type ScepService } from '../../protocols/scep/service.js';
import type { ScepTransaction } from '../../store/scep.js';
import { Busy } from '../../util/admission.js';
import type { Guard } from '../auth/authenticate.js';
import { badRequest, HttpError, notFound } from '../errors.js';

// A PKCSReq with an RSA-4096 key and a long chain is under 16 KiB.
const MAX_MESSAGE_BYTES = 256 * 1024;

export function scepRouter(deps: { scep: ScepService }): Router {
  const router = Router();
  const profileOf = (req: Request): ScepProfile => {
    const name = (req.params as { profile?: string }).profile ?? 'default';
    const profile = deps.scep.profile(name);
    if (!profile) throw notFound(`no SCEP profile "${name}"`);
    return profile;
  };
  const sendPkiMessage = async (res: Response, answer: Promise<Buffer>) => {
    try {
      const der = await answer;
      // Written directly: res.send would hash every unique, uncacheable CertRep for an ETag.
      res.writeHead(200, { 'Content-Type': 'application/x-pki-message', 'Content-Length': der.length }).end(der);
    } catch (err) {
      // Too many waiting already: SCEP clients and MDMs retry on 503.
      if (err instanceof Busy) throw new HttpError(503, 'busy', 'the SCEP server is busy; try again shortly', { 'Retry-After': '1' });
      throw err;
    }
  };
  const pkiOperation = async (profile: ScepProfile, der: Buffer, res: Response) => {
    if (der.length === 0) throw badRequest('PKIOperation needs a message');
    await sendPkiMessage(res, deps.scep.pkiOperation(profile, der));
  };
  // A SCEP client understands a CertRep, not an HTTP error: an oversized message gets a signed FAILURE.
  const tooLarge = (res: Response) => sendPkiMessage(res, deps.scep.refuse('badMessageCheck'));

  const handleGet = async (req: Request, res: Response) => {
    const profile = profileOf(req);
    const operation = String(req.query.operation ?? '');
    switch (operation) {
      case 'GetCACaps':
        res.type('text/plain').send(CA_CAPS.join('\n'));
        return;
      case 'GetCACert':
        res.type('application/x-x509-ca-ra-cert').send(deps.scep.caCertificates(profile));
        return;
      case 'PKIOperation': {
        // Form decoding turns an unescaped '+' of the base64 into a space.
        const message = String(req.query.message ?? '').replace(/ /g, '+');
        if (message.length > (MAX_MESSAGE_BYTES * 4) / 3) await tooLarge(res);
        else await pkiOperation(profile, Buffer.from(message, 'base64'), res);
        return;
      }
      default:
        throw badRequest(`unsupported SCEP operation "${operation}"; supported: GetCACaps, GetCACert, PKIOperation`);
    }
  };
  const handlePost = async (req: Request, res: Response) => {
    const operation = String(req.query.operation ?? '');
    if (operation !== 'PKIOperation') throw badRequest(`POST supports operation=PKIOperation, not "${operation}"`);
    await pkiOperation(profileOf(req), Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0), res);
  };
  const parseRaw = express.raw({ type: () => true, limit: MAX_MESSAGE_BYTES });
  const raw = (req: Request, res: Response, next: (err?: unknown) => void) =>
    parseRaw(req, res, (err?: unknown) => {
      if ((err as { type?: string } | undefined)?.type !== 'entity.too.large') return next(err);
      try {
        profileOf(req);
      } catch (unknownProfile) {
        return next(unknownProfile);
      }
      tooLarge(res).catch(next);
    });

  router.get('/', handleGet);
  router.get('/:profile', handleGet);
  router.post('/', raw, handlePost);
  router.post('/:profile', raw, handlePost);
  return router;
}

/** Admin API: one-time challenges for dynamic SCEP profiles; the approval queue of profiles with `approval: true`. */
export function scepAdminRouter(deps: { guard: Guard; scep: ScepService; challenges: DynamicChallenges; bodyLimit: number }): Router {
  const router = Router();
  const admin = deps.guard({ methods: ['client-cert', 'bearer'], roles: ['admin'] });
  router.post('/scep/challenges', admin, express.json({ limit: deps.bodyLimit }), async (req, res) => {
    const body = (req.body ?? {}) as { profile?: unknown; ttl?: unknown; binding?: unknown };
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
    }
    const binding = body.binding;
    if (binding !== undefined && (typeof binding !== 'object' || binding === null || Object.values(binding).some((v) => typeof v !== 'string'))) {
      throw badRequest('binding must map subject attribute types to strings, e.g. {"serialNumber": "C02X…"}');
    }
    const created = await deps.challenges.create({ profile: name, ttlMs, ...(binding ? { binding: binding as Record<string, string> } : {}), createdBy: `${req.user!.method}:${req.user!.name}` });
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
    try {
      const decided = await deps.scep.decide(id, { approve, actor: `${req.user!.method}:${req.user!.name}`, ...(reason !== undefined && { reason }) });
      res.json(requestView(decided));
    } catch (err) {
      if (err instanceof ScepDecisionError) throw new HttpError(err.status, err.status === 404 ? 'not_found' : 'conflict', err.message);
      throw err;
    }
  };
  router.post('/scep/requests/:id/approve', admin, express.json({ limit: deps.bodyLimit }), decide(true));
  router.post('/scep/requests/:id/reject', admin, express.json({ limit: deps.bodyLimit }), decide(false));
  return router;
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
