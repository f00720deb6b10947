/**
 * Admin API for people and devices: /api/v1/users and /api/v1/devices.
 * Imports take CSV (text/csv, a header line of field names, lists
 * separated by ';') or a JSON array, and change nothing unless every row is good.
 * Reading needs the view-people right, changing edit-people (admin holds
 * both); both reach only the caller's operator scope (src/identity/scope.ts),
 * and creating and importing need scope all.
 */
import express, { Router, type Request } from 'express';
import type { Directory } from '../../identity/directory.js';
import type { DeviceStatus } from '../../store/devices.js';
import type { OperatorScope, Viewer } from '../../identity/scope.js';
import type { Guard } from '../auth/authenticate.js';
import type { AuthMethod } from '../auth/principal.js';
import { badRequest, notFound } from '../errors.js';

export const actorOf = (req: Request): string => `${req.user!.method}:${req.user!.name}`;

/** The caller as the identity services see them: whose scope and roles decide what they reach. */
export const viewerOf = (req: Request): Viewer => ({ actor: actorOf(req), name: req.user!.name, roles: req.user!.roles });

/** A single-valued, bounded query parameter. */
export function queryString(req: Request, name: string, max = 256): string | undefined {
  const v = req.query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length > max) throw badRequest(`${name} must be given once, at most ${max} characters`);
  return v;
}

export function queryLimit(req: Request): number {
  const v = queryString(req, 'limit', 5);
  const limit = v === undefined ? 100 : Number(v);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw badRequest('limit must be 1-1000');
  return limit;
}

const DEVICE_STATUSES: DeviceStatus[] = ['registered', 'issued', 'cancelled'];

export function directoryRouter(deps: { guard: Guard; directory: Directory; scope: OperatorScope; bodyLimit: number }): Router {
  const router = Router();
  const methods: AuthMethod[] = ['client-cert', 'bearer'];
  const viewer = deps.guard({ methods, roles: deps.scope.rolesWith('view-people'), scoped: true });
  const editor = deps.guard({ methods, roles: deps.scope.rolesWith('edit-people'), scoped: true });
  // Creating and importing: scope all (directory.ts says why), which a guard without `scoped` requires.
  const creator = deps.guard({ methods, roles: deps.scope.rolesWith('edit-people') });
  const json = express.json({ limit: deps.bodyLimit });
  const importBody = [express.json({ limit: deps.bodyLimit }), express.text({ type: ['text/csv', 'text/plain'], limit: deps.bodyLimit })];
  const importKind = (req: Request): 'csv' | 'json' => {
    if (req.is('application/json')) return 'json';
    if (req.is('text/csv') || req.is('text/plain')) return 'csv';
    throw badRequest('send the import as text/csv or application/json');
  };

  router.post('/users', creator, json, async (req, res) => {
    res.status(201).json({ user: await deps.directory.createPerson(req.body, actorOf(req)) });
  });
  router.post('/users/import', creator, ...importBody, async (req, res) => {
    res.json(await deps.directory.importPeople(req.body, importKind(req), actorOf(req)));
  });
  router.get('/users', viewer, async (req, res) => {
    const limit = queryLimit(req);
    const filter = {
      q: queryString(req, 'q'),
      email: queryString(req, 'email'),
      group: queryString(req, 'group'),
      role: queryString(req, 'role'),
      after: queryString(req, 'after'),
      limit,
    };
    const users = await deps.directory.findPeople(Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== undefined)), viewerOf(req));
    res.json({ users, next: users.length === limit ? users[users.length - 1]!.userName : null });
  });
  router.get('/users/:ref', viewer, async (req, res) => {
    const user = await deps.directory.person(String(req.params.ref), viewerOf(req));
    if (!user) throw notFound(`no user ${String(req.params.ref)}`);
    res.json({ user });
  });
  router.patch('/users/:ref', editor, json, async (req, res) => {
    res.json({ user: await deps.directory.updatePerson(String(req.params.ref), req.body, viewerOf(req)) });
  });

  router.post('/devices', creator, json, async (req, res) => {
    res.status(201).json({ device: await deps.directory.registerDevice(req.body, actorOf(req)) });
  });
  router.post('/devices/import', creator, ...importBody, async (req, res) => {
    res.json(await deps.directory.importDevices(req.body, importKind(req), actorOf(req)));
  });
  router.get('/devices', viewer, async (req, res) => {
    const limit = queryLimit(req);
    const status = queryString(req, 'status');
    if (status !== undefined && !DEVICE_STATUSES.includes(status as DeviceStatus)) throw badRequest(`status must be one of ${DEVICE_STATUSES.join(', ')}`);
    let ownerId = queryString(req, 'owner');
    if (ownerId !== undefined) {
      const owner = await deps.directory.person(ownerId, viewerOf(req));
      if (!owner) throw notFound(`no user ${ownerId}`);
      ownerId = owner.id;
    }
    const serial = queryString(req, 'serial')?.toUpperCase();
    const filter = { serial, ownerId, status: status as DeviceStatus | undefined, after: queryString(req, 'after'), limit };
    const devices = await deps.directory.findDevices(Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== undefined)), viewerOf(req));
    res.json({ devices, next: devices.length === limit ? devices[devices.length - 1]!.serial : null });
  });
  router.get('/devices/:ref', viewer, async (req, res) => {
    const device = await deps.directory.device(String(req.params.ref), viewerOf(req));
    if (!device) throw notFound(`no device ${String(req.params.ref)}`);
    res.json({ device });
  });
  router.patch('/devices/:ref', editor, json, async (req, res) => {
    res.json({ device: await deps.directory.updateDevice(String(req.params.ref), req.body, viewerOf(req)) });
  });
  return router;
}
