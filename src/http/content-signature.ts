/**
 * Signs every JSON answer of a router (content-signing.ts): the body is
 * serialised once, its bytes are signed, and exactly those bytes are sent
 * with the JWS-Signature header. Refusals answered through errorHandler are
 * signed too, as they pass through the same res.json.
 */
import type { RequestHandler, Response } from 'express';
import { type ContentSigning, SIGNATURE_HEADER } from '../pki/content-signing.js';

export function signedJson(signing: ContentSigning): RequestHandler {
  return (req, res, next) => {
    const plain = res.json.bind(res);
    res.json = (value: unknown): Response => {
      const body = Buffer.from(JSON.stringify(value) ?? 'null', 'utf8');
      const path = req.originalUrl.split('?')[0]!;
      signing.signBody(body, path).then(
        (signature) => {
          if (res.headersSent) return;
          res.setHeader(SIGNATURE_HEADER, signature);
          res.type('application/json').send(body);
        },
        (err: unknown) => {
          // An app must not accept an unsigned answer, so it gets none: the signer (an HSM, say) is a fault of ours.
          req.log.error({ err }, 'could not sign an Identity Agent answer');
          if (res.headersSent) return;
          res.status(503).setHeader('Retry-After', '30');
          plain({ error: 'unavailable', message: 'the answer could not be signed; try again later', requestId: req.id });
        },
      );
      return res;
    };
    next();
  };
}
