/**
 * Intune's own services for third-party CAs (SCEP request validation, the
 * PKI connector's revocation queue). Their addresses are published as
 * endpoints of the Intune service principal in Graph; they are discovered
 * once, cached, and discovered again after a connection or DNS failure.
 */
import { randomUUID } from 'node:crypto';
import type { AxiosInstance } from 'axios';
import type { OAuthClient } from '../../src/connectors/oauth-client.js';
import { bodyText, isConnectionFailure, send, type Graph } from './graph.js';

/** The Intune service principal (a fixed Microsoft application id). */
const INTUNE_APP_ID = '0000000a-0000-0000-c000-000000000000';

export const SCEP_VALIDATION = { provider: 'ScepRequestValidationFEService', apiVersion: '2018-02-20' } as const;
export const PKI_CONNECTOR = { provider: 'PkiConnectorFEService', apiVersion: '5019-05-05' } as const;
type Service = typeof SCEP_VALIDATION | typeof PKI_CONNECTOR;

export interface ServiceAnswer {
  status: number;
  data: Record<string, unknown>;
  /** The client-request-id sent, for support cases with Microsoft. */
  requestId: string;
}

export class IntuneServiceError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'IntuneServiceError';
  }
}

export class IntuneServices {
  private endpoints: Promise<Map<string, string>> | undefined;

  constructor(private readonly deps: { graph: Graph; http: AxiosInstance; tokens: OAuthClient; scope: string; callerInfo: string }) {}

  /** The service's base URI (provider names compare case-insensitively). */
  async uri(service: Service): Promise<string> {
    this.endpoints ??= this.discover().catch((err: unknown) => {
      this.endpoints = undefined; // a failed discovery is not cached
      throw err;
    });
    const uri = (await this.endpoints).get(service.provider.toLowerCase());
    if (!uri) throw new IntuneServiceError(`the Intune service principal lists no ${service.provider} endpoint (is Intune licensed for this tenant?)`);
    return uri;
  }

  forget(): void {
    this.endpoints = undefined;
  }

  private async discover(): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    for await (const page of this.deps.graph.list(`/v1.0/servicePrincipals/appId=${INTUNE_APP_ID}/endpoints`)) {
      for (const e of page) {
        if (typeof e.providerName !== 'string' || typeof e.uri !== 'string') continue;
        // The token for these services must only go to https endpoints.
        if (!e.uri.startsWith('https://')) continue;
        found.set(e.providerName.toLowerCase(), e.uri.replace(/\/+$/, ''));
      }
    }
    return found;
  }

  /**
   * POSTs JSON to <service uri>/<action> with the headers Intune expects;
   * after a connection failure the address is discovered again, once.
   */
  async post(service: Service, action: string, body: unknown): Promise<ServiceAnswer> {
    const requestId = randomUUID();
    for (let attempt = 0; ; attempt++) {
      const base = await this.uri(service);
      try {
        const res = await this.deps.tokens.withToken(this.deps.scope, (token) =>
          send(this.deps.http, {
            method: 'POST',
            url: `${base}/${action}`,
            data: body,
            headers: {
              Authorization: `Bearer ${token}`,
              'Content-Type': 'application/json',
              Accept: 'application/json',
              'client-request-id': requestId,
              'api-version': service.apiVersion,
              'User-Agent': this.deps.callerInfo,
            },
          }),
        );
        const data = res.data && typeof res.data === 'object' ? (res.data as Record<string, unknown>) : {};
        return { status: res.status, data, requestId };
      } catch (err) {
        if (attempt === 0 && isConnectionFailure(err)) {
          this.forget();
          continue;
        }
        throw err;
      }
    }
  }

  /** post() that must answer 2xx. */
  async call(service: Service, action: string, body: unknown): Promise<ServiceAnswer> {
    const answer = await this.post(service, action, body);
    if (answer.status < 200 || answer.status >= 300) {
      throw new IntuneServiceError(
        `${service.provider} answered ${answer.status} to ${action} (client-request-id ${answer.requestId}): ${bodyText(answer.data).slice(0, 300)}`,
        answer.status,
      );
    }
    return answer;
  }
}
