/**
 * /api/v1/users/{ref}/certificates: a person's certificates issued
 * elsewhere, uploaded with their keys (src/identity/unmanaged-certificates.ts).
 * The upload is JSON (`pkcs12` in base64, `password`, `purpose`) or
 * multipart/form-data (a `pkcs12` file part and the same fields), as a
 * browser form or `curl -F` sends it. The password is used once, to open
 * the file, and is neither kept nor logged (the logger redacts `password`).
 */
import express, { Router, type Request } from 'express';
import type { UnmanagedCertificates } from '../../identity/unmanaged-certificates.js';
import { UNMANAGED_PURPOSES } from '../../identity/unmanaged-certificates.js';
import { MAX_PKCS12_BYTES } from '../../pki/pkcs12-reader.js';
import type { CertificatePurpose } from '../../pki/presets.js';
import type { Guard } from '../auth/authenticate.js';
import { badRequest, HttpError } from '../errors.js';
import { actorOf } from './directory.js';

const SERIAL = /^[0-9a-fA-F]{2,40}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const MAX_PASSWORD = 1024;
/** Base64 of the largest file accepted, and room for the other fields. */
const MAX_BODY = Math.ceil(MAX_PKCS12_BYTES / 3) * 4 + 8 * 1024;

interface Fields {
  pkcs12: Buffer;
  password: string;
  purpose: CertificatePurpose;
  note?: string;
}

function field(v: unknown, name: string, max: number, required = true): string | undefined {
  if (v === undefined || v === null) {
    if (required) throw badRequest(`${name} is required`);
    return undefined;
  }
  if (typeof v !== 'string' || v.length > max) throw badRequest(`${name} must be a string of at most ${max} characters`);
  return v;
}

function purposeOf(v: unknown): CertificatePurpose {
  const p = field(v, 'purpose', 32)!;
  if (!UNMANAGED_PURPOSES.includes(p as CertificatePurpose)) throw badRequest(`purpose must be one of ${UNMANAGED_PURPOSES.join(', ')}`);
  return p as CertificatePurpose;
}

function tooLarge(bytes: number): HttpError {
  return new HttpError(413, 'payload_too_large', `the PKCS#12 file is ${bytes} bytes; at most ${MAX_PKCS12_BYTES} are accepted`);
}

function fromJson(body: unknown): Fields {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('send a JSON object with pkcs12 (base64), password and purpose');
  const b = body as Record<string, unknown>;
  const encoded = field(b.pkcs12, 'pkcs12', MAX_BODY)!.replace(/\s+/g, '');
  if (!BASE64.test(encoded) || encoded.length % 4 !== 0) throw badRequest('pkcs12 must be the file in base64');
  const pkcs12 = Buffer.from(encoded, 'base64');
  if (pkcs12.length > MAX_PKCS12_BYTES) throw tooLarge(pkcs12.length);
  const note = field(b.note, 'note', 512, false);
  return { pkcs12, password: field(b.password, 'password', MAX_PASSWORD)!, purpose: purposeOf(b.purpose), ...(note !== undefined && { note }) };
}

async function fromMultipart(req: Request): Promise<Fields> {
  let form: FormData;
  try {
    // The body was read whole (express.raw, bounded); the WHATWG parser built into node splits it.
    form = await new Response(req.body as Buffer, { headers: { 'content-type': String(req.headers['content-type']) } }).formData();
  } catch {
    throw badRequest('the multipart/form-data body cannot be read');
  }
  const file = form.get('pkcs12');
  if (file === null) throw badRequest('the pkcs12 part (the file) is required');
  const pkcs12 = typeof file === 'string' ? Buffer.from(file, 'binary') : Buffer.from(await file.arrayBuffer());
  if (pkcs12.length > MAX_PKCS12_BYTES) throw tooLarge(pkcs12.length);
  const text = (name: string) => {
    const v = form.get(name);
    if (v !== null && typeof v !== 'string') throw badRequest(`${name} must be a text field, not a file`);
    return v ?? undefined;
  };
  const note = field(text('note'), 'note', 512, false);
  return { pkcs12, password: field(text('password'), 'password', MAX_PASSWORD)!, purpose: purposeOf(text('purpose')), ...(note !== undefined && { note }) };
}

export function unmanagedCertificatesRouter(deps: { guard: Guard; unmanaged: UnmanagedCertificates }): Router {
  const router = Router();
  const admin = deps.guard({ methods: ['client-cert', 'bearer'], roles: ['admin'] });
  const body = [express.json({ limit: MAX_BODY }), express.raw({ type: 'multipart/form-data', limit: MAX_BODY })];
  const ref = (req: Request) => {
    const r = String(req.params.ref);
    if (r.length > 191) throw badRequest('the user reference is longer than 191 characters');
    return r;
  };

  router.post('/users/:ref/certificates', admin, ...body, async (req, res) => {
    let fields: Fields;
    if (req.is('application/json')) fields = fromJson(req.body);
    else if (req.is('multipart/form-data')) fields = await fromMultipart(req);
    else throw badRequest('send the upload as application/json or multipart/form-data');
    const { warnings, ...certificate } = await deps.unmanaged.upload(actorOf(req), ref(req), fields);
    res
      .status(201)
      .setHeader('Cache-Control', 'no-store')
      .json({ certificate, ...(warnings && { warnings }) });
  });

  router.get('/users/:ref/certificates', admin, async (req, res) => {
    res.json({ certificates: await deps.unmanaged.list(ref(req)) });
  });

  router.delete('/users/:ref/certificates/:serial', admin, express.json({ limit: 4096 }), async (req, res) => {
    const serial = String(req.params.serial);
    if (!SERIAL.test(serial)) throw badRequest('serial must be hexadecimal');
    const note = field((req.body as Record<string, unknown> | undefined)?.note, 'note', 512, false);
    res.json({ certificate: await deps.unmanaged.remove(actorOf(req), ref(req), serial, note), deleted: true });
  });

  return router;
}
