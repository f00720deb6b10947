/**
 * /ota: iOS over-the-air enrollment. The user's browser gets the
 * intermediate page and the Profile Service payload (by one-time code); the
 * device POSTs its signed attributes to /ota/profile/<id> (phases 2 and 3).
 * Unauthenticated at the HTTP level by design: the code, the challenge and
 * the device's signatures decide. The admin API creates enrollments.
 */
import express, { Router, type Response } from 'express';
import { durationMs } from '../../config/duration.js';
import { PROFILE_TYPE, type OtaService } from '../../protocols/ota/service.js';
import { messagePage } from '../../protocols/ota/page.js';
import { Refusal } from '../../util/refusal.js';
import type { Guard } from '../auth/authenticate.js';
import { badRequest, notFound, refusalAnswer } from '../errors.js';

// Signed device attributes with a device certificate chain are a few KiB.
const MAX_DEVICE_REQUEST_BYTES = 64 * 1024;
const MAX_TTL_MS = 30 * 86_400_000;
const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Safari shows the answer to a person: refusals come as a small page, not JSON. */
async function forBrowser(res: Response, type: string, fn: () => Promise<string | Buffer>): Promise<void> {
  res.setHeader('Cache-Control', 'no-store');
  try {
    res.type(type).send(await fn());
  } catch (err) {
    if (!(err instanceof Refusal)) throw err;
    res.status(refusalAnswer(err).status).type('html').send(messagePage(err.message));
  }
}

const codeOf = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

export function otaRouter(deps: { ota: OtaService }): Router {
  const router = Router();
  router.get('/', (req, res) => forBrowser(res, 'html', () => deps.ota.page(codeOf(req.query.code))));
  router.get('/enroll', (req, res) => {
    const code = codeOf(req.query.code);
    return code ? forBrowser(res, PROFILE_TYPE, () => deps.ota.profileService(code)) : forBrowser(res, 'html', () => deps.ota.page(undefined));
  });
  router.post('/profile/:id', express.raw({ type: () => true, limit: MAX_DEVICE_REQUEST_BYTES }), async (req, res) => {
    const id = String(req.params.id);
    if (!ID.test(id)) throw notFound('unknown enrollment');
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (body.length === 0) throw badRequest('expected a CMS signed message of device attributes');
    res
      .setHeader('Cache-Control', 'no-store')
      .type(PROFILE_TYPE)
      .send(await deps.ota.deviceRequest(id, body));
  });
  return router;
}

/** Admin API: authorise an enrollment and hand its link to the user. */
export function otaAdminRouter(deps: { guard: Guard; ota: OtaService; bodyLimit: number }): Router {
  const router = Router();
  const admin = deps.guard({ methods: ['client-cert', 'bearer'], roles: ['admin'] });
  router.post('/ota/enrollments', admin, express.json({ limit: deps.bodyLimit }), async (req, res) => {
    const body = (req.body ?? {}) as { credentialProfile?: unknown; user?: unknown; expiresIn?: unknown };
    if (typeof body.credentialProfile !== 'string') throw badRequest('credentialProfile is required: the name of a credential profile');
    const user = body.user;
    if (!user || typeof user !== 'object' || Array.isArray(user))
      throw badRequest('user is required: an object of attributes, e.g. {"displayName": "…", "email": "…"}');
    let ttlMs: number | undefined;
    if (body.expiresIn !== undefined) {
      try {
        ttlMs = durationMs(String(body.expiresIn));
      } catch (err) {
        throw badRequest(`expiresIn: ${(err as Error).message}`);
      }
      if (ttlMs <= 0 || ttlMs > MAX_TTL_MS) throw badRequest('expiresIn must be more than 0 and at most 30d');
    }
    const created = await deps.ota.create({
      credentialProfile: body.credentialProfile,
      user: user as Record<string, string>,
      ...(ttlMs !== undefined && { ttlMs }),
      createdBy: `${req.user!.method}:${req.user!.name}`,
    });
    res
      .status(201)
      .setHeader('Cache-Control', 'no-store')
      .json({ id: created.id, url: created.url, code: created.code, expiresAt: new Date(created.expiresAt).toISOString() });
  });
  router.get('/ota/enrollments/:id', admin, async (req, res) => {
    const id = String(req.params.id);
    const e = ID.test(id) ? await deps.ota.get(id) : undefined;
    if (!e) throw notFound(`no OTA enrollment ${id}`);
    res.json({ enrollment: e });
  });
  return router;
}
