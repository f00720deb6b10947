/**
 * /scep and /scep/<profile> (RFC 8894 §4): GetCACaps, GetCACert and
 * PKIOperation by POST (raw DER, whatever content type the client sends)
 * or GET (base64 `message`). Unauthenticated at the HTTP level by design:
 * the challenge or the renewal signature inside the message decides.
 *
 * Served on node's own request/response, ahead of express: express's
 * router, helmet and body parsing took about 0.4 ms of the event loop's
 * time per enrollment, an eighth of the gateway's CPU at full load
 * (bench/README.md, SCEP). helmet's headers are for pages a browser
 * renders; SCEP answers are DER and short text for SCEP clients, so they
 * get nosniff, HSTS over TLS (as helmet sets it) and a request id only. Request logging and metrics are the
 * same as express's.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import getRawBody from 'raw-body';
import { CA_CAPS, type ScepProfile, type ScepService } from '../protocols/scep/service.js';
import { Busy } from '../util/admission.js';
import { badRequest, errorReply, HttpError, notFound } from './errors.js';
import { assignRequestId, logWhenFinished } from './request-logging.js';
import type { RequestObserver } from './request-metrics.js';

// A PKCSReq with an RSA-4096 key and a long chain is under 16 KiB.
const MAX_MESSAGE_BYTES = 256 * 1024;

const HSTS = 'max-age=31536000; includeSubDomains';

/** /scep, /scep/ or /scep/<profile>[/], any case of "scep" as express matched it. */
const PATH = /^\/scep(?:\/([^/]*))?\/?$/i;

export interface ScepEndpoint {
  /** Whether the request is for /scep; the rest goes to the express app. */
  handles(req: IncomingMessage): boolean;
  serve(req: IncomingMessage, res: ServerResponse): void;
}

export function scepEndpoint(deps: { scep: ScepService; log: Logger; observe?: RequestObserver }): ScepEndpoint {
  const { scep, log } = deps;

  const profileOf = (segment: string | undefined): ScepProfile => {
    let name = 'default';
    if (segment) {
      try {
        name = decodeURIComponent(segment);
      } catch {
        throw badRequest('the SCEP profile in the path is not valid percent-encoding');
      }
    }
    const profile = scep.profile(name);
    if (!profile) throw notFound(`no SCEP profile "${name}"`);
    return profile;
  };

  const send = (res: ServerResponse, type: string, body: Buffer | string) => {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    // No ETag: every CertRep is unique and uncacheable, hashing it would be wasted.
    res.writeHead(200, { 'Content-Type': type, 'Content-Length': bytes.length }).end(bytes);
  };

  const pkiOperation = async (res: ServerResponse, answer: Promise<Buffer>) => {
    try {
      send(res, 'application/x-pki-message', await answer);
    } catch (err) {
      // Too many waiting already: SCEP clients and MDMs retry on 503.
      if (err instanceof Busy) throw new HttpError(503, 'busy', 'the SCEP server is busy; try again shortly', { 'Retry-After': '1' });
      throw err;
    }
  };
  const operate = (res: ServerResponse, profile: ScepProfile, der: Buffer) => {
    if (der.length === 0) throw badRequest('PKIOperation needs a message');
    return pkiOperation(res, scep.pkiOperation(profile, der));
  };
  // A SCEP client understands a CertRep, not an HTTP error: an oversized message gets a signed FAILURE.
  const tooLarge = (res: ServerResponse) => pkiOperation(res, scep.refuse('badMessageCheck'));

  const get = async (res: ServerResponse, profile: ScepProfile, query: URLSearchParams) => {
    const operation = query.get('operation') ?? '';
    switch (operation) {
      case 'GetCACaps':
        return send(res, 'text/plain; charset=utf-8', CA_CAPS.join('\n'));
      case 'GetCACert':
        return send(res, 'application/x-x509-ca-ra-cert', scep.caCertificates(profile));
      case 'PKIOperation': {
        // Form decoding turns an unescaped '+' of the base64 into a space.
        const message = (query.get('message') ?? '').replace(/ /g, '+');
        if (message.length > (MAX_MESSAGE_BYTES * 4) / 3) return tooLarge(res);
        return operate(res, profile, Buffer.from(message, 'base64'));
      }
      default:
        throw badRequest(`unsupported SCEP operation "${operation}"; supported: GetCACaps, GetCACert, PKIOperation`);
    }
  };

  const post = async (req: IncomingMessage, res: ServerResponse, profile: ScepProfile, query: URLSearchParams) => {
    const operation = query.get('operation') ?? '';
    if (operation !== 'PKIOperation') throw badRequest(`POST supports operation=PKIOperation, not "${operation}"`);
    const encoding = req.headers['content-encoding'];
    if (encoding && encoding.toLowerCase() !== 'identity')
      throw new HttpError(415, 'unsupported_encoding', `content encoding "${encoding}" is not supported; send the DER as it is`);
    let der: Buffer;
    try {
      der = await getRawBody(req, { limit: MAX_MESSAGE_BYTES, ...(req.headers['content-length'] !== undefined && { length: req.headers['content-length'] }) });
    } catch (err) {
      // Other body errors (aborted, shorter than Content-Length) are client errors errorReply words as express does.
      if ((err as { type?: string }).type === 'entity.too.large') return tooLarge(res);
      throw err;
    }
    return operate(res, profile, der);
  };

  const fail = (res: ServerResponse, requestId: string, err: unknown) => {
    const reply = errorReply(err, requestId);
    if (reply.internal) log.error({ err, requestId }, 'unhandled error');
    // Headers already written (the answer was on its way): all that is left is to end it.
    if (res.headersSent) return res.end();
    const json = JSON.stringify(reply.body);
    res.writeHead(reply.status, { ...reply.headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(json) }).end(json);
  };

  return {
    handles: (req) => {
      const url = req.url ?? '';
      return url.length >= 5 && url[0] === '/' && url.slice(1, 5).toLowerCase() === 'scep' && (url.length === 5 || url[5] === '/' || url[5] === '?');
    },
    serve: (req, res) => {
      const url = req.url ?? '/';
      const queryAt = url.indexOf('?');
      const path = queryAt < 0 ? url : url.slice(0, queryAt);
      const match = PATH.exec(path);
      const route = match?.[1] ? '/scep/:profile' : '/scep/';
      const start = process.hrtime.bigint();
      const requestId = assignRequestId(req, res);
      res.setHeader('X-Content-Type-Options', 'nosniff');
      if ((req.socket as TLSSocket).encrypted) res.setHeader('Strict-Transport-Security', HSTS);
      logWhenFinished(log, req, res, { id: requestId, url: loggedUrl(path, queryAt < 0 ? '' : url.slice(queryAt + 1)) });
      if (deps.observe) {
        const observe = deps.observe;
        res.once('finish', () => observe(req.method ?? '', match ? route : 'unmatched', res.statusCode, start));
      }
      const handle = async () => {
        if (!match) throw notFound(`no route for ${req.method ?? ''} ${path}`);
        const method = req.method ?? '';
        if (method !== 'GET' && method !== 'HEAD' && method !== 'POST')
          throw new HttpError(405, 'method_not_allowed', `${method} is not a SCEP method; use GET or POST`, { Allow: 'GET, HEAD, POST' });
        const profile = profileOf(match[1]);
        const query = new URLSearchParams(queryAt < 0 ? '' : url.slice(queryAt + 1));
        return method === 'POST' ? post(req, res, profile, query) : get(res, profile, query);
      };
      handle().catch((err: unknown) => fail(res, requestId, err));
    },
  };
}

/**
 * The access log's URL: the path and the operation only. A GET PKIOperation's
 * `message` is a client's whole envelope; logged, it would hand anyone who
 * reads the logs a ciphertext to attack, and it says nothing an operator needs.
 */
function loggedUrl(path: string, query: string): string {
  const operation = new URLSearchParams(query).get('operation');
  return operation === null ? path : `${path}?operation=${encodeURIComponent(operation.slice(0, 32))}`;
}
