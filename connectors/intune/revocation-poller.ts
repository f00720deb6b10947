/**
 * Revocations Intune asks for (a certificate's device was retired or wiped,
 * an admin revoked it in the console): downloaded from the PKI connector
 * service, carried out in our CA, and answered per request with Intune's
 * CARequestErrorCodes so Intune stops resending the ones that are settled.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { StatusChangeError } from '../../src/pki/revoker.js';
import type { RevocationReason } from '../../src/pki/revocation.js';
import { normalizeSerialHex } from '../../src/pki/x509-der.js';
import { PKI_CONNECTOR, type IntuneServices } from './services.js';

/** Intune's CARequestErrorCodes (0 success; 4000-4007 permanent; 4100-4103 worth retrying). */
export const CA_REQUEST = {
  none: 0,
  parameterDataInvalid: 4002,
  certificateNotFound: 4004,
  retryableServiceException: 4100,
} as const;

/** A service that keeps handing out full batches must not keep the poller busy forever. */
const MAX_BACK_TO_BACK = 10;

export interface RevocationRequest {
  requestContext: string;
  serialNumber: string;
  issuerName?: string | null;
  caConfiguration?: string | null;
}

export interface RevocationResult {
  requestContext: string;
  succeeded: boolean;
  errorCode: number;
  errorMessage: string;
}

/** What the poller needs of our CA. */
export interface CaRevoker {
  revoke(serial: string, reason: RevocationReason, actor: string, note?: string): Promise<unknown>;
}

export class RevocationPoller {
  constructor(
    private readonly deps: {
      connectorId: string;
      services: IntuneServices;
      ca: CaRevoker;
      /** Intune may revoke only what was issued through this connector (see ConnectorPki.issuedThrough). */
      issuedThrough(serial: string): Promise<boolean>;
      maxRequests: number;
      log: Logger;
    },
  ) {}

  /** One download-revoke-upload round; returns the results it uploaded. */
  async round(): Promise<RevocationResult[]> {
    const { services, maxRequests } = this.deps;
    const answer = await services.call(PKI_CONNECTOR, 'CertificateAuthorityRequests/downloadRevocationRequests', {
      downloadParameters: { maxRequests, issuerName: null },
    });
    const requests = Array.isArray(answer.data.value) ? (answer.data.value as RevocationRequest[]) : [];
    if (requests.length === 0) return [];
    const results: RevocationResult[] = [];
    for (const r of requests) {
      if (typeof r?.requestContext !== 'string') continue; // nothing to answer it by
      results.push(await this.revoke(r));
    }
    const upload = await services.call(PKI_CONNECTOR, 'CertificateAuthorityRequests/uploadRevocationResults', { results });
    if (upload.data.value !== true) throw new Error(`Intune did not accept the revocation results (client-request-id ${upload.requestId})`);
    this.deps.log.info({ requests: requests.length, revoked: results.filter((x) => x.succeeded).length }, 'Intune revocation requests answered');
    return results;
  }

  private async revoke(r: RevocationRequest): Promise<RevocationResult> {
    const result = (errorCode: number, errorMessage = ''): RevocationResult => ({
      requestContext: r.requestContext,
      succeeded: errorCode === CA_REQUEST.none,
      errorCode,
      errorMessage,
    });
    let serial: string;
    try {
      serial = normalizeSerialHex(String(r.serialNumber ?? '').replace(/[\s:]/g, ''));
    } catch {
      return result(CA_REQUEST.parameterDataInvalid, `serial number ${JSON.stringify(r.serialNumber)} is not hexadecimal`);
    }
    try {
      // Any other certificate of the CA (another connector's, an admin's client certificate) is not Intune's to revoke; it is answered as unknown, saying nothing about whether it exists.
      if (!(await this.deps.issuedThrough(serial))) {
        this.deps.log.warn({ serial }, 'Intune asked to revoke a certificate not issued through this connector; refused');
        return result(CA_REQUEST.certificateNotFound, `no certificate with serial ${serial} was issued through this connector`);
      }
      // Intune's requests carry no reason code.
      await this.deps.ca.revoke(serial, 'unspecified', `connector:${this.deps.connectorId}`, 'revocation requested by Intune');
      return result(CA_REQUEST.none);
    } catch (err) {
      if (err instanceof StatusChangeError && err.kind === 'not_found')
        return result(CA_REQUEST.certificateNotFound, `no certificate with serial ${serial} was issued here`);
      // Revoked before (by us or an earlier request): what Intune asked for is true.
      if (err instanceof StatusChangeError && err.kind === 'conflict') return result(CA_REQUEST.none);
      if (err instanceof StatusChangeError) return result(CA_REQUEST.parameterDataInvalid, err.message);
      this.deps.log.error({ serial, error: (err as Error).message }, 'revocation requested by Intune failed; Intune will ask again');
      return result(CA_REQUEST.retryableServiceException, 'the CA could not record the revocation; retry later');
    }
  }

  /** Rounds every `intervalMs` until the signal aborts; a full batch is followed at once by another (a few times at most). */
  async run(intervalMs: number, signal: AbortSignal): Promise<void> {
    let backToBack = 0;
    while (!signal.aborted) {
      let full = false;
      try {
        full = (await this.round()).length >= this.deps.maxRequests;
      } catch (err) {
        this.deps.log.error({ error: (err as Error).message }, 'Intune revocation round failed; retried at the next interval');
      }
      backToBack = full ? backToBack + 1 : 0;
      if (!full || backToBack >= MAX_BACK_TO_BACK) {
        backToBack = 0;
        await sleep(intervalMs, undefined, { signal }).catch(() => undefined);
      }
    }
  }
}
