/**
 * RFC 6960 responder: answers from the certificate inventory, signed by the
 * issuing CA itself. Serials we never issued are "unknown"; held
 * certificates are "revoked" with reason certificateHold.
 */
import type { CertificateRepository } from '../store/certificates.js';
import type { CaRegistry } from './ca.js';
import { buildOcspResponse, matchesIssuer, ocspErrorResponse, OcspRequestError, parseOcspRequest, type OcspCertStatus } from './ocsp.js';
import type { RevocationReason } from './revocation.js';

export class OcspResponder {
  constructor(
    private readonly deps: {
      cas: CaRegistry;
      certificates: CertificateRepository;
      validityMs: number;
    },
  ) {}

  /** Always returns a DER OCSPResponse: errors are answered in-band, as the protocol wants. */
  async respond(requestDer: Buffer): Promise<Buffer> {
    let request;
    try {
      request = parseOcspRequest(requestDer);
    } catch (err) {
      if (err instanceof OcspRequestError) return ocspErrorResponse('malformedRequest');
      throw err;
    }
    const first = request.certIds[0];
    const ca = first && this.deps.cas.list().find((c) => matchesIssuer(first, c.cert.raw));
    if (!ca) return ocspErrorResponse('unauthorized');

    const now = new Date();
    const nextUpdate = new Date(now.getTime() + this.deps.validityMs);
    const responses = await Promise.all(
      request.certIds.map(async (certId) => {
        let status: OcspCertStatus = { kind: 'unknown' };
        if (matchesIssuer(certId, ca.cert.raw)) {
          const cert = await this.deps.certificates.get(certId.serialNumber);
          if (cert && cert.ca === ca.name) {
            status =
              cert.status === 'valid'
                ? { kind: 'good' }
                : {
                    kind: 'revoked',
                    revokedAt: new Date(cert.revokedAt ?? now.getTime()),
                    reason: (cert.revocationReason ?? 'unspecified') as RevocationReason,
                  };
          }
        }
        return { certId, status, thisUpdate: now, nextUpdate };
      }),
    );
    return buildOcspResponse({
      responderCert: ca.cert.raw,
      signer: ca.signer,
      producedAt: now,
      responses,
      ...(request.nonce && { nonce: request.nonce }),
    });
  }
}
