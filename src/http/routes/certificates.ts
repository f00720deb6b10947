/**
 * /api/v1/certificates and /api/v1/audit: issue, list, revoke, hold,
 * release, and recover escrowed keys. The inventory also lists certificates
 * issued elsewhere that were uploaded for a person (`unmanaged`), which the
 * Revoker refuses to revoke, hold or release. Keys generated here are returned once,
 * as PKCS#12 with a generated password, and not kept unless escrowed.
 *
 * The inventory is per person where a certificate names its holder
 * (user_id): listing and reading need the view-people right, and every
 * route but issuing and the audit reaches only certificates of people in
 * the caller's operator scope (src/identity/scope.ts); a certificate of
 * no person is in scope all only. One out of scope is answered as an
 * unknown serial. Issuing (any user id) and the audit (it names everyone)
 * need scope all.
 */
import { randomBytes } from 'node:crypto';
import express, { Router, type Request } from 'express';
import type { Issuer } from '../../pki/issuer.js';
import type { KeyRecovery } from '../../pki/key-recovery.js';
import { certificatePem } from '../../pki/pem.js';
import { buildPkcs12, type Pkcs12Format } from '../../pki/pkcs12.js';
import { REVOCATION_REASONS, type RevocationReason } from '../../pki/revocation.js';
import { StatusChangeError, type Revoker } from '../../pki/revoker.js';
import type { OperatorScope } from '../../identity/scope.js';
import type { AuditRepository } from '../../store/audit.js';
import { CERTIFICATE_STATUSES, type CertificateRepository, type CertificateStatus } from '../../store/certificates.js';
import type { Guard } from '../auth/authenticate.js';
import { badRequest, notFound } from '../errors.js';

export interface CertificateRouteDeps {
  /** Route guards bound to the admin allowlist and strategies. */
  guard: Guard;
  bodyLimit: number;
  issuer: Issuer;
  revoker: Revoker;
  recovery: KeyRecovery;
  certificates: CertificateRepository;
  audit: AuditRepository;
  scope: OperatorScope;
}

const SERIAL = /^[0-9a-fA-F]{2,40}$/;

const str = (v: unknown, name: string, opts: { required?: boolean; max?: number } = {}): string | undefined => {
  if (v === undefined || v === null) {
    if (opts.required) throw badRequest(`${name} is required`);
    return undefined;
  }
  if (typeof v !== 'string' || v.length > (opts.max ?? 256)) throw badRequest(`${name} must be a string of at most ${opts.max ?? 256} characters`);
  return v;
};

const obj = (v: unknown, name: string): Record<string, unknown> | undefined => {
  if (v === undefined) return undefined;
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw badRequest(`${name} must be an object`);
  return v as Record<string, unknown>;
};

function serialParam(req: Request): string {
  const serial = String(req.params.serial);
  if (!SERIAL.test(serial)) throw badRequest('serial must be hexadecimal');
  return serial.toLowerCase();
}

function format(v: unknown): Pkcs12Format {
  const f = str(v, 'format') ?? 'modern';
  if (f !== 'modern' && f !== 'apple') throw badRequest('format must be "modern" (AES-256) or "apple" (3DES, for iOS)');
  return f;
}

export function certificateRouter(deps: CertificateRouteDeps): Router {
  const router = Router();
  router.use(express.json({ limit: deps.bodyLimit }));
  const admin = deps.guard({ methods: ['client-cert', 'bearer'], roles: ['admin'] });
  const scopedAdmin = deps.guard({ methods: ['client-cert', 'bearer'], roles: ['admin'], scoped: true });
  const viewer = deps.guard({ methods: ['client-cert', 'bearer'], roles: deps.scope.rolesWith('view-people'), scoped: true });
  const recoveryOfficer = deps.guard({ methods: ['client-cert', 'bearer'], roles: ['key-recovery'], scoped: true });
  const actor = (req: Request) => `${req.user!.method}:${req.user!.name}`;
  const filterOf = (req: Request) => deps.scope.filter({ actor: actor(req), name: req.user!.name, roles: req.user!.roles });
  /** Refuses a certificate out of the caller's scope exactly as the action refuses an unknown one. */
  const inScope = async (req: Request, serial: string, unknown: () => Error): Promise<void> => {
    const filter = await filterOf(req);
    if (filter !== 'all' && !(await deps.certificates.get(serial, undefined, filter))) throw unknown();
  };

  router.post('/certificates', admin, async (req, res) => {
    const body = obj(req.body ?? {}, 'body') ?? {};
    const template = str(body.template, 'template', { required: true })!;
    const csr = str(body.csr, 'csr', { max: 64 * 1024 });
    const p12Format = format(body.format);
    const issued = await deps.issuer.issue({
      template,
      data: { user: obj(body.user, 'user') ?? {}, device: obj(body.device, 'device') ?? {} },
      ...(csr !== undefined && { csr }),
      userId: str(body.userId, 'userId') ?? null,
      deviceId: str(body.deviceId, 'deviceId') ?? null,
      actor: actor(req),
      ...(str(body.reason, 'reason') && { reason: String(body.reason) }),
    });
    const out: Record<string, unknown> = {
      certificate: issued.record,
      chainPem: issued.chain.map(certificatePem).join(''),
    };
    if (issued.privateKey) {
      const password = randomBytes(18).toString('base64url');
      out.pkcs12 = buildPkcs12({
        key: issued.privateKey,
        cert: issued.der,
        chain: issued.chain,
        password,
        friendlyName: issued.record.subject,
        format: p12Format,
      }).toString('base64');
      out.pkcs12Password = password;
    }
    res.status(201).setHeader('Cache-Control', 'no-store').json(out);
  });

  router.get('/certificates', viewer, async (req, res) => {
    const q = req.query;
    const status = str(q.status, 'status');
    if (status !== undefined && !CERTIFICATE_STATUSES.includes(status as CertificateStatus))
      throw badRequest(`status must be one of ${CERTIFICATE_STATUSES.join(', ')}`);
    const expiring = str(q.expiringBefore, 'expiringBefore');
    const expiringMs = expiring === undefined ? undefined : Date.parse(expiring);
    if (expiringMs !== undefined && Number.isNaN(expiringMs)) throw badRequest('expiringBefore must be an ISO 8601 date');
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw badRequest('limit must be 1-1000');
    const unmanaged = str(q.unmanaged, 'unmanaged');
    if (unmanaged !== undefined && unmanaged !== 'true' && unmanaged !== 'false')
      throw badRequest('unmanaged must be true (only certificates issued elsewhere) or false (only those issued here)');
    const list = await deps.certificates.list(
      {
        ...(unmanaged !== undefined && { unmanaged: unmanaged === 'true' }),
        ...(str(q.user, 'user') && { userId: String(q.user) }),
        ...(str(q.device, 'device') && { deviceId: String(q.device) }),
        ...(status && { status: status as CertificateStatus }),
        ...(str(q.ca, 'ca') && { ca: String(q.ca) }),
        ...(str(q.template, 'template') && { template: String(q.template) }),
        ...(expiringMs !== undefined && { expiringBefore: expiringMs }),
        ...(str(q.after, 'after') && { after: String(q.after).toLowerCase() }),
        limit,
      },
      await filterOf(req),
    );
    res.json({ certificates: list, next: list.length === limit ? list[list.length - 1]!.serial : null });
  });

  router.get('/certificates/:serial', viewer, async (req, res) => {
    const cert = await deps.certificates.get(serialParam(req), undefined, await filterOf(req));
    if (!cert) throw notFound(`no certificate with serial ${req.params.serial}`);
    res.json({ certificate: cert });
  });

  const statusChange = (fn: (serial: string, req: Request) => Promise<unknown>) => async (req: Request, res: import('express').Response) => {
    const serial = serialParam(req);
    // The words of Revoker's own refusal (src/pki/revoker.ts) for a serial it does not know.
    await inScope(req, serial, () => new StatusChangeError('not_found', `no certificate with serial ${serial}`));
    res.json({ certificate: await fn(serial, req) });
  };

  router.post(
    '/certificates/:serial/revoke',
    scopedAdmin,
    statusChange((serial, req) => {
      const body = obj(req.body ?? {}, 'body') ?? {};
      const reason = (str(body.reason, 'reason') ?? 'unspecified') as RevocationReason;
      if (!REVOCATION_REASONS.includes(reason)) throw badRequest(`reason must be one of ${REVOCATION_REASONS.join(', ')}`);
      return deps.revoker.revoke(serial, reason, actor(req), str(body.note, 'note', { max: 512 }));
    }),
  );
  router.post(
    '/certificates/:serial/hold',
    scopedAdmin,
    statusChange((serial, req) => deps.revoker.hold(serial, actor(req), str(obj(req.body ?? {}, 'body')?.note, 'note', { max: 512 }))),
  );
  router.post(
    '/certificates/:serial/release',
    scopedAdmin,
    statusChange((serial, req) => deps.revoker.release(serial, actor(req), str(obj(req.body ?? {}, 'body')?.note, 'note', { max: 512 }))),
  );

  router.post('/certificates/:serial/recover-key', recoveryOfficer, async (req, res) => {
    const body = obj(req.body ?? {}, 'body') ?? {};
    const reason = str(body.reason, 'reason', { required: true, max: 512 })!;
    await inScope(req, serialParam(req), () => notFound(`no escrowed key for certificate ${req.params.serial}`));
    const recovered = await deps.recovery.recover(serialParam(req), actor(req), reason, format(body.format));
    if (!recovered) throw notFound(`no escrowed key for certificate ${req.params.serial}`);
    res.setHeader('Cache-Control', 'no-store').json({ pkcs12: recovered.pkcs12.toString('base64'), pkcs12Password: recovered.password });
  });

  router.get('/audit', admin, async (req, res) => {
    const q = req.query;
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw badRequest('limit must be 1-1000');
    const entries = await deps.audit.list({
      ...(str(q.subjectType, 'subjectType') && { subjectType: String(q.subjectType) }),
      ...(str(q.subjectId, 'subjectId') && { subjectId: String(q.subjectId) }),
      ...(str(q.action, 'action') && { action: String(q.action) }),
      ...(str(q.actor, 'actor') && { actor: String(q.actor) }),
      limit,
    });
    res.json({ entries });
  });

  return router;
}
