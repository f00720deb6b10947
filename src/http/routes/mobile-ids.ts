/**
 * Admin API for mobile IDs: request (for someone, or yourself), validate,
 * find, and the lifecycle (cancel, replace, disable, enable, unlock);
 * renewal notices and their editable texts. Requesting, validating and
 * unlocking are open to any authenticated caller: the credential profile's
 * roles decide. Finding and the lifecycle need a role with the right
 * (view-people, cancel, disable, replace; admin holds them all), and every
 * one of these reaches only the people in the caller's operator scope
 * (src/identity/scope.ts): a mobile ID of someone else is answered as one
 * that does not exist. Renewal notices and texts need admin with scope all.
 */
import express, { Router, type Request } from 'express';
import type { LifecycleService } from '../../identity/lifecycle.js';
import type { Messages } from '../../identity/messages.js';
import type { NotifyChoice } from '../../identity/notifications.js';
import type { Caller, RequestService } from '../../identity/requests.js';
import type { OperatorScope } from '../../identity/scope.js';
import type { OperatorRight } from '../../config/schema.js';
import { MOBILE_ID_STATUSES, type MobileIdStatus } from '../../store/mobile-ids.js';
import type { Guard } from '../auth/authenticate.js';
import { badRequest, notFound } from '../errors.js';
import { actorOf, queryLimit, queryString } from './directory.js';

const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const NOTIFY: NotifyChoice[] = ['email', 'sms', 'none'];

const callerOf = (req: Request): Caller => ({ actor: actorOf(req), name: req.user!.name, roles: req.user!.roles });

function bodyOf(req: Request): Record<string, unknown> {
  const b: unknown = req.body ?? {};
  if (!b || typeof b !== 'object' || Array.isArray(b)) throw badRequest('expected a JSON object');
  return b as Record<string, unknown>;
}

function optionalString(b: Record<string, unknown>, name: string, max = 512): string | undefined {
  const v = b[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > max) throw badRequest(`${name} must be a string of 1 to ${max} characters`);
  return v;
}

function delivery(b: Record<string, unknown>): { notify?: NotifyChoice; qr?: boolean } {
  const notify = optionalString(b, 'notify');
  if (notify !== undefined && !NOTIFY.includes(notify as NotifyChoice)) throw badRequest(`notify must be one of ${NOTIFY.join(', ')}`);
  if (b.qr !== undefined && typeof b.qr !== 'boolean') throw badRequest('qr must be true or false');
  return { ...(notify && { notify: notify as NotifyChoice }), ...(b.qr !== undefined && { qr: b.qr as boolean }) };
}

function idParam(req: Request): string {
  const id = String(req.params.id);
  if (!ID.test(id)) throw notFound(`no mobile ID ${id}`);
  return id;
}

export function mobileIdsRouter(deps: {
  guard: Guard;
  requests: RequestService;
  lifecycle: LifecycleService;
  messages: Messages;
  scope: OperatorScope;
  bodyLimit: number;
}): Router {
  const router = Router();
  const anyone = deps.guard({ methods: ['client-cert', 'bearer'] });
  const admin = deps.guard({ methods: ['client-cert', 'bearer'], roles: ['admin'] });
  const holding = (right: OperatorRight) => deps.guard({ methods: ['client-cert', 'bearer'], roles: deps.scope.rolesWith(right), scoped: true });
  const viewer = holding('view-people');
  const json = express.json({ limit: deps.bodyLimit });
  const noStore = (res: import('express').Response) => res.setHeader('Cache-Control', 'no-store');

  router.post('/mobile-ids', anyone, json, async (req, res) => {
    const b = bodyOf(req);
    const known = ['user', 'credentialProfile', 'notify', 'qr'];
    const unknown = Object.keys(b).filter((k) => !known.includes(k));
    if (unknown.length) throw badRequest(`unknown field ${unknown.join(', ')}; fields: ${known.join(', ')}`);
    const user = optionalString(b, 'user', 191);
    const credentialProfile = optionalString(b, 'credentialProfile', 64);
    const issued = await deps.requests.request(callerOf(req), { ...(user && { user }), ...(credentialProfile && { credentialProfile }), ...delivery(b) });
    noStore(res).status(201).json(issued);
  });

  router.post('/mobile-ids/renewal-notices', admin, async (_req, res) => {
    res.json(await deps.lifecycle.sendRenewalNotices());
  });

  router.get('/mobile-ids', viewer, async (req, res) => {
    const status = queryString(req, 'status');
    if (status !== undefined && !MOBILE_ID_STATUSES.includes(status as MobileIdStatus))
      throw badRequest(`status must be one of ${MOBILE_ID_STATUSES.join(', ')}`);
    const userRef = queryString(req, 'user', 191);
    let userId: string | undefined;
    if (userRef !== undefined) {
      userId = (await deps.requests.person(userRef, callerOf(req)))?.id;
      if (!userId) throw notFound(`no user ${userRef}`);
    }
    const device = queryString(req, 'device', 36);
    const list = await deps.requests.list(
      {
        ...(userId && { userId }),
        ...(status && { status: status as MobileIdStatus }),
        ...(device && { deviceId: device }),
        limit: queryLimit(req),
      },
      callerOf(req),
    );
    res.json({ mobileIds: list });
  });

  router.get('/mobile-ids/:id', viewer, async (req, res) => {
    const m = await deps.requests.get(idParam(req), callerOf(req));
    if (!m) throw notFound(`no mobile ID ${String(req.params.id)}`);
    res.json({ mobileId: m });
  });

  router.post('/mobile-ids/:id/validate', anyone, json, async (req, res) => {
    const issued = await deps.requests.validate(callerOf(req), idParam(req), delivery(bodyOf(req)));
    noStore(res).json(issued);
  });

  router.post('/mobile-ids/:id/cancel', holding('cancel'), json, async (req, res) => {
    const b = bodyOf(req);
    const opts = { reason: optionalString(b, 'reason', 64), note: optionalString(b, 'note') };
    res.json({ mobileId: await deps.lifecycle.cancel(callerOf(req), idParam(req), opts) });
  });

  router.post('/mobile-ids/:id/replace', holding('replace'), json, async (req, res) => {
    const b = bodyOf(req);
    const opts = { reason: optionalString(b, 'reason', 64), note: optionalString(b, 'note'), ...delivery(b) };
    noStore(res)
      .status(201)
      .json(await deps.lifecycle.replace(callerOf(req), idParam(req), opts));
  });

  router.post('/mobile-ids/:id/disable', holding('disable'), json, async (req, res) => {
    res.json({ mobileId: await deps.lifecycle.disable(callerOf(req), idParam(req), optionalString(bodyOf(req), 'note')) });
  });

  router.post('/mobile-ids/:id/enable', holding('disable'), json, async (req, res) => {
    res.json({ mobileId: await deps.lifecycle.enable(callerOf(req), idParam(req), optionalString(bodyOf(req), 'note')) });
  });

  router.post('/mobile-ids/:id/unlock', anyone, json, async (req, res) => {
    noStore(res).json(await deps.lifecycle.unlock(callerOf(req), idParam(req), bodyOf(req).challenge));
  });

  router.get('/mobile/templates', admin, async (_req, res) => {
    res.json({ templates: await deps.messages.list() });
  });
  router.put('/mobile/templates/:name', admin, json, async (req, res) => {
    const b = bodyOf(req);
    await deps.messages.put(String(req.params.name), { subject: b.subject, body: b.body }, actorOf(req));
    res.json({ template: (await deps.messages.list()).find((t) => t.name === req.params.name) });
  });
  router.delete('/mobile/templates/:name', admin, async (req, res) => {
    await deps.messages.reset(String(req.params.name), actorOf(req));
    res.status(204).end();
  });
  return router;
}
