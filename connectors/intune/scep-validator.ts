/**
 * SCEP challenge validation by Intune: the challenge in an Intune SCEP
 * profile's request is Intune's, so Intune decides (validateRequest) before
 * anything is issued, and is told the outcome afterwards
 * (successNotification / failureNotification) so the device record shows it.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { ChallengeContext, ChallengeValidator, ChallengeVerdict, IssuedForRequest } from '../../src/protocols/scep/challenges.js';
import { SCEP_VALIDATION, type IntuneServices } from './services.js';

/** E_FAIL: Intune expects an HRESULT with a failure notification. */
const E_FAIL = -2147467259;

export class IntuneScepValidator implements ChallengeValidator {
  /** Intune checks the request's names against the SCEP profile it gave the device, renewal or not. */
  readonly decidesRenewals = true;

  constructor(private readonly deps: { services: IntuneServices; callerInfo: string; log: Logger }) {}

  async validate(ctx: ChallengeContext): Promise<ChallengeVerdict> {
    const request = { transactionId: ctx.transactionId, certificateRequest: ctx.csr.der.toString('base64'), callerInfo: this.deps.callerInfo };
    // No answer from Intune is not a verdict: the request fails without being recorded, so the device can retry.
    const answer = await this.deps.services.call(SCEP_VALIDATION, 'ScepActions/validateRequest', { request });
    const code = answer.data.code;
    if (code === 'Success') return { ok: true };
    const description = typeof answer.data.errorDescription === 'string' ? `: ${answer.data.errorDescription.slice(0, 300)}` : '';
    return { ok: false, reason: `Intune refused the request (${typeof code === 'string' ? code : 'no code'})${description}` };
  }

  async issued(ctx: ChallengeContext, cert: IssuedForRequest): Promise<void> {
    const notification = {
      transactionId: ctx.transactionId,
      certificateRequest: ctx.csr.der.toString('base64'),
      certificateThumbprint: createHash('sha1').update(cert.der).digest('hex'),
      certificateSerialNumber: cert.serial,
      certificateExpirationDateUtc: new Date(cert.notAfter).toISOString(),
      issuingCertificateAuthority: cert.issuer,
      callerInfo: this.deps.callerInfo,
      caConfiguration: cert.ca,
      certificateAuthority: cert.issuer,
    };
    await this.notify('successNotification', notification, ctx);
  }

  async failed(ctx: ChallengeContext, reason: string): Promise<void> {
    const notification = {
      transactionId: ctx.transactionId,
      certificateRequest: ctx.csr.der.toString('base64'),
      hResult: E_FAIL,
      errorDescription: reason,
      callerInfo: this.deps.callerInfo,
    };
    await this.notify('failureNotification', notification, ctx);
  }

  private async notify(action: 'successNotification' | 'failureNotification', notification: Record<string, unknown>, ctx: ChallengeContext): Promise<void> {
    const answer = await this.deps.services.call(SCEP_VALIDATION, `ScepActions/${action}`, { notification });
    if (answer.data.code !== 'Success') {
      this.deps.log.warn({ transactionId: ctx.transactionId, code: answer.data.code, requestId: answer.requestId }, `Intune did not accept the ${action}`);
    }
  }
}
