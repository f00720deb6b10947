/**
 * Admin API for badges (admin role): a person's photo at
 * /api/v1/users/{ref}/photo (PUT an image/png or image/jpeg body, GET it
 * back, DELETE it), and the configured badge layouts, each of which can be
 * rendered for a person to check it before mobile IDs carry it. Described
 * in api/fragments/badges.yaml.
 */
import express, { Router, type Request } from 'express';
import type { Badges } from '../../identity/badges.js';
import type { Directory } from '../../identity/directory.js';
import { IdentityError } from '../../identity/errors.js';
import { IMAGE_TYPES } from '../../identity/images.js';
import { photoInfo, type Photos } from '../../identity/photos.js';
import type { MobileProfile } from '../../identity/profiles.js';
import type { OperatorScope } from '../../identity/scope.js';
import type { Guard } from '../auth/authenticate.js';
import type { AuthMethod } from '../auth/principal.js';
import { HttpError, notFound } from '../errors.js';
import { actorOf, queryString, viewerOf } from './directory.js';

export function badgesRouter(deps: {
  guard: Guard;
  photos: Photos;
  badges: Badges;
  directory: Directory;
  scope: OperatorScope;
  profiles: Record<string, MobileProfile>;
}): Router {
  const router = Router();
  const methods: AuthMethod[] = ['client-cert', 'bearer'];
  const admin = deps.guard({ methods, roles: ['admin'] });
  // A photo belongs to a person: it is read and changed within the caller's operator scope, as the person is.
  const viewer = deps.guard({ methods, roles: deps.scope.rolesWith('view-people'), scoped: true });
  const editor = deps.guard({ methods, roles: deps.scope.rolesWith('edit-people'), scoped: true });
  /** The person's id, or the very 404 an unknown reference gets when they are out of the caller's scope. */
  const ref = async (req: Request): Promise<string> => {
    const person = await deps.directory.person(String(req.params.ref), viewerOf(req));
    if (!person) throw new IdentityError('not_found', `no user ${String(req.params.ref)}`);
    return person.id;
  };
  /** The media type the request declares, without parameters (image/jpeg; charset=… is still image/jpeg). */
  const declared = (req: Request) => (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  // The body is read only once its type is one a photo can be, and never past badges.photos.maxBytes (413).
  const imageBody = [
    (req: Request, _res: unknown, next: (err?: unknown) => void) => {
      if (!(IMAGE_TYPES as readonly string[]).includes(declared(req)))
        return next(
          new HttpError(
            415,
            'unsupported_media_type',
            `send the photo as image/png or image/jpeg, not ${(req.headers['content-type'] ?? 'untyped').slice(0, 100)}`,
          ),
        );
      next();
    },
    express.raw({ type: () => true, limit: deps.photos.maxBytes }),
  ];

  router.put('/users/:ref/photo', editor, ...imageBody, async (req, res) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    try {
      res.json({ photo: await deps.photos.set(await ref(req), body, declared(req), actorOf(req)) });
    } catch (err) {
      // The CLI is told the same; over HTTP it is 413, like a body past the parser's limit.
      if ((err as { code?: string }).code === 'payload_too_large') throw new HttpError(413, 'payload_too_large', (err as Error).message);
      throw err;
    }
  });
  router.get('/users/:ref/photo', viewer, async (req, res) => {
    const photo = await deps.photos.get(await ref(req));
    if (!photo) throw notFound(`user ${String(req.params.ref)} has no photo`);
    // A photo of a person: for the caller only, never kept by a proxy or the browser.
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('ETag', `"${photo.sha256}"`);
    res.setHeader('X-Photo-Updated-At', new Date(photo.updatedAt).toISOString());
    res.type(photo.contentType).send(photo.data);
  });
  router.get('/users/:ref/photo/info', viewer, async (req, res) => {
    const photo = await deps.photos.get(await ref(req));
    if (!photo) throw notFound(`user ${String(req.params.ref)} has no photo`);
    res.json({ photo: photoInfo(photo) });
  });
  router.delete('/users/:ref/photo', editor, async (req, res) => {
    if (!(await deps.photos.remove(await ref(req), actorOf(req)))) throw notFound(`user ${String(req.params.ref)} has no photo`);
    res.status(204).end();
  });

  router.get('/badge-layouts', admin, (_req, res) => {
    const layouts = deps.badges.layoutNames().map((name) => {
      const { layout } = deps.badges.layout(name)!;
      const profiles = Object.values(deps.profiles)
        .filter((p) => p.badges?.layouts.includes(name))
        .map((p) => ({ name: p.name, default: (p.badges!.default ?? p.badges!.layouts[0]) === name }));
      return {
        name,
        ...(layout.description && { description: layout.description }),
        width: layout.width,
        height: layout.height,
        elements: layout.elements.length,
        fields: [...new Set(layout.elements.flatMap((e) => (e.type === 'text' && e.field ? [e.field] : [])))],
        photo: layout.elements.some((e) => e.type === 'photo'),
        qr: layout.elements.some((e) => e.type === 'qr'),
        profiles,
      };
    });
    res.json({ layouts });
  });
  router.get('/badge-layouts/:name/preview', viewer, async (req, res) => {
    const layout = deps.badges.layout(String(req.params.name));
    if (!layout) throw notFound(`no badge layout ${String(req.params.name)}`);
    const userRef = queryString(req, 'user', 191);
    if (!userRef) throw new HttpError(400, 'bad_request', 'name the person to fill the badge for: ?user=<id or user name>');
    const person = await deps.directory.person(userRef, viewerOf(req));
    if (!person) throw notFound(`no user ${userRef}`);
    const format = queryString(req, 'format', 8) ?? 'png';
    if (format !== 'png' && format !== 'json') throw new HttpError(400, 'bad_request', 'format must be png or json');
    const preview = await deps.badges.preview(layout, person, { mobileId: null, expires: null });
    res.setHeader('Cache-Control', 'no-store');
    if (format === 'json') res.json({ badge: { ...preview.data, png: preview.png.toString('base64') } });
    else res.type('image/png').send(preview.png);
  });
  return router;
}
