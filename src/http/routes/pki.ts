/** /pki: public CA certificates, CRLs and the OCSP responder. No authentication, by design. */
import express, { Router } from 'express';
import type { CaRegistry } from '../../pki/ca.js';
import type { CrlPublisher } from '../../pki/crl-publisher.js';
import type { OcspResponder } from '../../pki/ocsp-responder.js';
import { notFound } from '../errors.js';

const OCSP_MAX_BYTES = 64 * 1024;

export function pkiRouter(deps: { cas: CaRegistry; crls: CrlPublisher; ocsp: OcspResponder; defaultCa: string }): Router {
  const router = Router();

  // The root the default CA chains to, as iOS Safari installs it (OTA's intermediate page links here).
  router.get('/ca.cer', (_req, res) => {
    const ca = deps.cas.get(deps.defaultCa);
    if (!ca) throw notFound(`no CA named ${deps.defaultCa}`);
    res.type('application/x-x509-ca-cert').send(ca.chain.length ? ca.chain[ca.chain.length - 1] : ca.cert.raw);
  });

  router.get('/ca/:file', (req, res) => {
    const m = /^([a-z0-9-]+)\.(cer|der|pem)$/.exec(req.params.file);
    const ca = m && deps.cas.get(m[1]!);
    if (!m || !ca)
      throw notFound(
        `no CA certificate ${req.params.file}; known: ${deps.cas
          .list()
          .map((c) => `${c.name}.cer`)
          .join(', ')}`,
      );
    if (m[2] === 'pem') res.type('application/x-pem-file').send(ca.cert.toString());
    else res.type('application/pkix-cert').send(ca.cert.raw);
  });

  router.get('/:file', async (req, res, next) => {
    const m = /^([a-z0-9-]+)\.crl$/.exec(req.params.file);
    if (!m) return next();
    if (!deps.cas.get(m[1]!)) throw notFound(`no CA named ${m[1]}`);
    res.type('application/pkix-crl').send(await deps.crls.current(m[1]!));
  });

  // RFC 6960 A.1: GET carries the base64 request, URL-encoded, as the last path part(s).
  // The router has already percent-decoded each part; decoding again would read
  // "%25" as a lone "%" (and "%252B" as "+"). Whatever the base64 holds, the
  // responder answers in-band (malformedRequest), as it does for POST.
  router.get('/ocsp/*request', async (req, res) => {
    const base64 = (req.params as unknown as { request: string[] }).request.join('/');
    res.type('application/ocsp-response').send(await deps.ocsp.respond(Buffer.from(base64, 'base64')));
  });

  router.post('/ocsp', express.raw({ type: () => true, limit: OCSP_MAX_BYTES }), async (req, res) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    res.type('application/ocsp-response').send(await deps.ocsp.respond(body));
  });

  return router;
}
