/**
 * Derived credentials over HTTP. /derived/ is the card holder's page: the
 * browser presents a PIV card certificate (mTLS), the page shows who the
 * card belongs to and their derived credentials, and a form post requests a
 * new one and shows its QR code. The form carries a token bound to the card,
 * so another site cannot post it with the browser's card. The admin API
 * takes a card management system's report that a card was cancelled.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import express, { Router, type Request, type Response } from 'express';
import { IdentityError } from '../../identity/errors.js';
import type { CardHolder, DerivedCredentialService } from '../../identity/derived.js';
import type { PersonRepository } from '../../store/people.js';
import { Refusal } from '../../util/refusal.js';
import type { Guard } from '../auth/authenticate.js';
import { badRequest, notFound, refusalAnswer } from '../errors.js';
import { overviewPage, qrPage, refusalPage } from '../derived-page.js';
import { actorOf, queryString } from './directory.js';

const FORM_TTL_S = 3600;

/** The certificate the client presented and the issuers it sent with it. */
function presented(req: Request): { leaf: Buffer | undefined; chain: Buffer[] } {
  const socket = req.socket as TLSSocket;
  const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate(true) : undefined;
  if (!peer?.raw) return { leaf: undefined, chain: [] };
  const chain: Buffer[] = [];
  const seen = new Set([peer.fingerprint256]);
  for (let c: DetailedPeerCertificate | undefined = peer.issuerCertificate; c?.raw && !seen.has(c.fingerprint256); c = c.issuerCertificate) {
    seen.add(c.fingerprint256);
    chain.push(c.raw);
  }
  return { leaf: peer.raw, chain };
}

class FormTokens {
  constructor(private readonly secret: Buffer) {}

  private mac(fingerprint: string, ts: string): string {
    return createHmac('sha256', this.secret).update(`derived form\n${fingerprint}\n${ts}`).digest('base64url');
  }

  make(fingerprint: string, now = Date.now()): string {
    const ts = Math.floor(now / 1000).toString(36);
    return `${ts}.${this.mac(fingerprint, ts)}`;
  }

  check(token: unknown, fingerprint: string, now = Date.now()): boolean {
    if (typeof token !== 'string' || token.length > 128) return false;
    const [ts = '', mac = ''] = token.split('.');
    const age = now / 1000 - parseInt(ts, 36);
    const want = Buffer.from(this.mac(fingerprint, ts));
    const got = Buffer.from(mac);
    return age >= 0 && age <= FORM_TTL_S && got.length === want.length && timingSafeEqual(got, want);
  }
}

function page(res: Response, status: number, body: string): void {
  res.status(status).setHeader('Cache-Control', 'no-store').type('html').send(body);
}

/** Refusals become pages (the caller is a person with a browser); anything else goes to the JSON error handler. */
async function asPage(res: Response, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (err) {
    if (!(err instanceof Refusal)) throw err;
    const answer = refusalAnswer(err);
    for (const [k, v] of Object.entries(answer.headers)) res.setHeader(k, v);
    page(res, answer.status, refusalPage(answer.status, err.message));
  }
}

export function derivedPageRouter(deps: { derived: DerivedCredentialService; formSecret: Buffer; server: string }): Router {
  const router = Router();
  const tokens = new FormTokens(deps.formSecret);
  const holder = (req: Request): Promise<CardHolder> => {
    const { leaf, chain } = presented(req);
    return deps.derived.holder(leaf, chain);
  };

  router.get('/', async (req, res) => {
    await asPage(res, async () => {
      const h = await holder(req);
      const { credentials } = await deps.derived.overview(h);
      page(res, 200, overviewPage(h, credentials, tokens.make(h.card.fingerprint)));
    });
  });

  router.post('/request', express.urlencoded({ extended: false, limit: '4kb' }), async (req, res) => {
    await asPage(res, async () => {
      const h = await holder(req);
      if (!tokens.check((req.body as Record<string, unknown> | undefined)?.token, h.card.fingerprint)) {
        throw new IdentityError('forbidden', 'this form has expired or was not sent from this page; open the page again and request from there');
      }
      const issued = await deps.derived.request(h);
      page(
        res,
        201,
        qrPage(h, {
          requestId: issued.mobileId.id,
          code: issued.code!,
          link: issued.link,
          server: deps.server,
          qrPngBase64: issued.qr!.png,
          expiresAt: issued.mobileId.expiresAt,
          supersedes: issued.supersedes,
        }),
      );
    });
  });
  return router;
}

const REPORT_FIELDS = ['certificate', 'issuer', 'serial', 'reason', 'note'];

export function derivedAdminRouter(deps: { guard: Guard; derived: DerivedCredentialService; people: PersonRepository; bodyLimit: number }): Router {
  const router = Router();
  // A card management system gets a token with the card-management role only.
  const reporter = deps.guard({ methods: ['client-cert', 'bearer'], roles: ['admin', 'card-management'] });
  const admin = deps.guard({ methods: ['client-cert', 'bearer'], roles: ['admin'] });

  router.post('/derived-credentials/piv-cancelled', reporter, express.json({ limit: deps.bodyLimit }), async (req, res) => {
    const b: unknown = req.body ?? {};
    if (!b || typeof b !== 'object' || Array.isArray(b)) throw badRequest('expected a JSON object');
    const unknown = Object.keys(b).filter((k) => !REPORT_FIELDS.includes(k));
    if (unknown.length) throw badRequest(`unknown field ${unknown.join(', ')}; fields: ${REPORT_FIELDS.join(', ')}`);
    const report: Record<string, string> = {};
    for (const [k, v] of Object.entries(b)) {
      if (typeof v !== 'string' || v.length === 0 || v.length > 16_384) throw badRequest(`${k} must be a string of 1 to 16384 characters`);
      report[k] = v;
    }
    const caller = { actor: actorOf(req), name: req.user!.name, roles: req.user!.roles };
    res.json(await deps.derived.cardCancelled(caller, report));
  });

  // What the timer does every mobile.renewal.checkEvery, now: finish superseding, then send due re-derive notices.
  router.post('/derived-credentials/rederive-notices', admin, async (_req, res) => {
    const settled = await deps.derived.settle();
    res.json({ settled, ...(await deps.derived.sendRederiveNotices()) });
  });

  router.get('/derived-credentials', admin, async (req, res) => {
    const ref = queryString(req, 'user', 191);
    if (ref === undefined) throw badRequest('give ?user=<id or user name>');
    const person = await deps.people.find(ref);
    if (!person) throw notFound(`no user ${ref}`);
    res.json({ derivedCredentials: await deps.derived.listFor(person.id) });
  });
  return router;
}
