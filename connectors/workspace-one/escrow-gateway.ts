/**
 * Uploads S/MIME credentials to the Workspace ONE Escrow Gateway:
 * POST <EG>/v2/certificates over mTLS. 2xx is done; 4xx is permanent (the
 * answer is kept for the operator); 5xx, timeouts and connection errors are
 * retried by the job queue.
 */
import { Agent } from 'node:https';
import axios, { type AxiosInstance } from 'axios';
import { durationMs } from '../../src/config/duration.js';
import { DeliveryError, type CredentialSet, type DeliveryReceipt, type MdmUser } from '../../src/connectors/connector.js';
import { readCaSetting, readPkcs12Setting } from '../../src/connectors/setting-file.js';
import type { WorkspaceOneSettings } from './schema.js';

export interface EgUploadBody {
  device_uuid: string;
  user_uuid: string;
  smime_certificates: { signing?: string[]; encryption?: string[]; archived?: string[] };
}

/** What the EG addresses an upload by, when this user or device lacks it. */
export function escrowGap(user: MdmUser, device: { id: string } | undefined): string | undefined {
  if (!device?.id) return 'the Escrow Gateway addresses uploads by device UUID, and there is none';
  if (!user.id) return 'the Escrow Gateway addresses uploads by user UUID (EnrollmentUserUUID), and there is none';
  return undefined;
}

export function uploadBody(set: CredentialSet): EgUploadBody {
  const of = (pred: (c: CredentialSet['credentials'][number]) => boolean) => set.credentials.filter(pred).map((c) => c.pkcs12.toString('base64'));
  const signing = of((c) => !c.archived && c.purpose === 'signing');
  const encryption = of((c) => !c.archived && c.purpose === 'encryption');
  const archived = of((c) => c.archived);
  return {
    device_uuid: set.device?.id ?? '',
    user_uuid: set.user.id ?? '',
    smime_certificates: {
      ...(signing.length && { signing }),
      ...(encryption.length && { encryption }),
      ...(archived.length && { archived }),
    },
  };
}

export class EscrowGatewayClient {
  private readonly http: AxiosInstance;
  private readonly url: string;

  constructor(
    private readonly connectorId: string,
    settings: NonNullable<WorkspaceOneSettings['escrowGateway']>,
  ) {
    this.url = settings.url.replace(/\/$/, '');
    const agent = new Agent({
      pfx: readPkcs12Setting(settings.clientPkcs12, settings.clientPkcs12Password, 'escrowGateway.clientPkcs12'),
      passphrase: settings.clientPkcs12Password,
      ...(settings.serverCa && { ca: readCaSetting(settings.serverCa, 'escrowGateway.serverCa') }),
      keepAlive: true,
      minVersion: 'TLSv1.2',
    });
    this.http = axios.create({
      baseURL: this.url,
      httpsAgent: agent,
      timeout: durationMs(settings.timeout),
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      validateStatus: () => true,
      maxRedirects: 0,
      proxy: false,
    });
  }

  async upload(set: CredentialSet): Promise<DeliveryReceipt> {
    const gap = escrowGap(set.user, set.device);
    if (gap) throw new DeliveryError(gap, true);
    const body = uploadBody(set);
    const res = await this.http.post('/v2/certificates', body);
    if (res.status >= 200 && res.status < 300) {
      return { connectorId: this.connectorId, reference: `${body.device_uuid}/${set.deliveryId}`, deliveredAt: new Date() };
    }
    const text = typeof res.data === 'string' ? res.data : JSON.stringify(res.data);
    const message = `Escrow Gateway answered ${res.status}`;
    throw new DeliveryError(message, res.status >= 400 && res.status < 500, { status: res.status, body: text.slice(0, 2000) });
  }

  /**
   * Whether the EG takes our client certificate, over the connection uploads
   * use. Uploads are POSTs, so a GET of /v2/certificates uploads nothing. The
   * EG is assumed to answer 401 or 403 to a certificate off its
   * approved-client list and something else (405, 404) to one on it.
   */
  async check(): Promise<{ ok: boolean; detail: string }> {
    let status: number;
    try {
      status = (await this.http.get('/v2/certificates')).status;
    } catch (err) {
      const e = err as { code?: string; message?: string };
      return { ok: false, detail: `${this.url}: ${`${e.code ?? ''} ${e.message ?? ''}`.trim()}` };
    }
    if (status === 401 || status === 403)
      return { ok: false, detail: `${this.url} refused the client certificate (HTTP ${status}); put it on the Escrow Gateway's approved-client list` };
    if (status >= 500) return { ok: false, detail: `${this.url} answered HTTP ${status}` };
    return { ok: true, detail: `${this.url} accepted the client certificate (GET /v2/certificates answered ${status})` };
  }
}
