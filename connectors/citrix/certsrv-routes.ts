/**
 * certsrv web enrollment at /connectors/<id>/certsrv/, the URL XenMobile's
 * PKI entity is given as its "web enrollment service root URL":
 *
 *   POST certfnsh.asp  Mode=newreq, CertRequest, CertAttrib -> issued or denied page
 *   GET  certnew.cer?ReqID=<n>|CACert&Enc=b64|bin           -> the certificate
 *   GET  certnew.p7b?ReqID=<n>|CACert&Enc=b64|bin           -> it with its chain (PKCS#7)
 *   GET  certcarc.asp, GET /                                -> CA page, landing page
 *
 * Like ADCS, a refused request and a fetch that finds nothing are 200 pages
 * whose disposition message says why (certsrv clients read the page, and take
 * a 4xx for a transport failure); a certificate comes with the bare media type
 * ADCS sends, which certsrv clients compare whole. Query names are read in
 * any case, as ASP reads them (clients send Enc and ENC). A body over the
 * limit is 413.
 */
import express, { Router, type ErrorRequestHandler, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { certsOnly } from '../../src/pki/cms/signed-data.js';
import { caPage, deniedPage, fetchErrorPage, issuedPage, landingPage, REQUEST_NOT_FOUND } from './certsrv-pages.js';
import type { CertificateWithChain, CertsrvService } from './certsrv.js';

/** A 16384-bit RSA request is under 8 KiB as form-encoded base64; a form far larger is not one. */
const FORM_LIMIT = 64 * 1024;

const pem = (label: string, der: Buffer) =>
  Buffer.from(`-----BEGIN ${label}-----\r\n${der.toString('base64').replace(/.{64}/g, '$&\r\n').replace(/\r\n$/, '')}\r\n-----END ${label}-----\r\n`, 'ascii');

/** Every value of a query parameter, its name matched in any case. */
function queryValues(req: Request, name: string): string[] {
  const lower = name.toLowerCase();
  return Object.entries(req.query)
    .filter(([k]) => k.toLowerCase() === lower)
    .flatMap(([, v]) => (Array.isArray(v) ? v : [v]))
    .map(String);
}

function requesterOf(req: Request): string {
  const p = req.user!;
  return p.certificate ? `${p.name} (client certificate ${p.certificate.subject})` : `${p.name} (${p.method})`;
}

export function certsrvRouter(service: CertsrvService, opts: { connectorId: string; bodyLimit: number; log: Logger }): Router {
  const r = Router();
  const html = (res: Response, status: number, body: string) => void res.status(status).type('html').send(body);

  r.get('/', (_req, res) => html(res, 200, landingPage(opts.connectorId)));
  r.get('/certcarc.asp', (_req, res) => html(res, 200, caPage()));
  r.get('/certfnsh.asp', (_req, res) => html(res, 200, deniedPage('submit the request with POST (Mode=newreq, CertRequest, CertAttrib)')));

  r.post('/certfnsh.asp', express.urlencoded({ extended: false, limit: Math.min(opts.bodyLimit, FORM_LIMIT), parameterLimit: 32 }), async (req, res) => {
    const form = (req.body ?? {}) as Record<string, unknown>;
    const outcome = await service.submit(form, requesterOf(req));
    html(res, 200, outcome.issued ? issuedPage(outcome.requestId) : deniedPage(outcome.reason));
  });

  /** ReqID=<n> or ReqID=CACert (Renewal=0, the only CA certificate there is). */
  const lookup = async (req: Request, res: Response): Promise<CertificateWithChain | undefined> => {
    const id = queryValues(req, 'ReqID').join(',');
    if (id.toLowerCase() === 'cacert') {
      const renewal = queryValues(req, 'Renewal').join(',');
      if (renewal === '' || renewal === '0') return service.caCertificate();
      html(res, 200, fetchErrorPage(`CA certificate renewal ${renewal.slice(0, 16)} does not exist; this CA has no renewals (certcarc.asp: nRenewals=0)`));
      return undefined;
    }
    const found = /^\d{1,15}$/.test(id) ? await service.certificate(Number(id)) : undefined;
    if (!found) html(res, 200, fetchErrorPage(`Requested entry not found: request ID "${id.slice(0, 32)}" is unknown to this CA`, REQUEST_NOT_FOUND));
    return found;
  };
  const encoding = (req: Request, res: Response): 'b64' | 'bin' | undefined => {
    const given = queryValues(req, 'Enc');
    const enc = given.length === 0 ? 'bin' : given.join(',').toLowerCase();
    if (enc === 'b64' || enc === 'bin') return enc;
    html(res, 400, fetchErrorPage(`unknown encoding Enc=${enc.slice(0, 16)}: use Enc=b64 (PEM) or Enc=bin (DER)`));
    return undefined;
  };
  const send = (res: Response, type: string, file: string, body: Buffer) => {
    // Bytes under a header set as it is: express adds "; charset=utf-8" to a string body, and certsrv clients compare the type whole.
    res.status(200).setHeader('Content-Type', type);
    res.setHeader('Content-Disposition', `attachment; filename="${file}"`);
    res.send(body);
  };

  r.get('/certnew.cer', async (req, res) => {
    const enc = encoding(req, res);
    const found = enc && (await lookup(req, res));
    if (found) send(res, 'application/pkix-cert', 'certnew.cer', enc === 'b64' ? pem('CERTIFICATE', found.der) : found.der);
  });
  r.get('/certnew.p7b', async (req, res) => {
    const enc = encoding(req, res);
    const found = enc && (await lookup(req, res));
    if (!found) return;
    const p7 = certsOnly([found.der, ...found.chain.filter((c) => !c.equals(found.der))]);
    send(res, 'application/x-pkcs7-certificates', 'certnew.p7b', enc === 'b64' ? pem('PKCS7', p7) : p7);
  });

  // A form that is too large or not form-encoded gets the page a certsrv client reads, not JSON.
  const formErrors: ErrorRequestHandler = (err, _req, res, next) => {
    const e = err as { type?: string; status?: number; limit?: number };
    if (e.type === 'entity.too.large')
      return html(res, 413, deniedPage(`the request form exceeds ${e.limit ?? FORM_LIMIT} bytes; a certificate request is far smaller`));
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500)
      return html(res, e.status, deniedPage(`the request form could not be read: ${(err as Error).message}`));
    next(err);
  };
  r.use(formErrors);
  return r;
}
