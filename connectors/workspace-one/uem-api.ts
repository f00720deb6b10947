/**
 * The UEM REST API, for the one thing events leave out: the user's email.
 * Every call carries aw-tenant-code and either Basic or an OAuth2
 * client-credentials token, cached until shortly before it expires.
 */
import { Agent } from 'node:https';
import axios, { type AxiosInstance } from 'axios';
import { durationMs } from '../../src/config/duration.js';
import {
  DeliveryError,
  type CredentialSet,
  type DeliveredCredential,
  type DeliveryReceipt,
  type HealthReport,
  type MdmUser,
} from '../../src/connectors/connector.js';
import { readCaSetting } from '../../src/connectors/setting-file.js';
import type { WorkspaceOneSettings } from './schema.js';

type UemSettings = NonNullable<WorkspaceOneSettings['uem']>;

const REFRESH_MARGIN_MS = 60_000;
const NO_UEM_USER_ID = 'uploadsmimecerts is addressed to the numeric EnrollmentUserId, which this user has not got';
const isUemUserId = (id: string) => /^\d+$/.test(id);
/** The API takes at most 30 archived credentials (error 6041). */
const MAX_ARCHIVED = 30;

export class UemApi {
  private readonly http: AxiosInstance;
  private token: { value: string; expiresAt: number } | undefined;

  constructor(
    private readonly connectorId: string,
    private readonly settings: UemSettings,
  ) {
    this.http = axios.create({
      baseURL: settings.url.replace(/\/$/, ''),
      timeout: durationMs(settings.timeout),
      ...(settings.serverCa && { httpsAgent: new Agent({ ca: readCaSetting(settings.serverCa, 'uem.serverCa'), keepAlive: true }) }),
      validateStatus: () => true,
      proxy: false,
    });
  }

  private async authorization(): Promise<string> {
    const { basic, oauth } = this.settings;
    if (basic) return `Basic ${Buffer.from(`${basic.username}:${basic.password}`).toString('base64')}`;
    if (this.token && this.token.expiresAt - REFRESH_MARGIN_MS > Date.now()) return `Bearer ${this.token.value}`;
    const res = await this.http.post(oauth!.tokenUrl, new URLSearchParams({ grant_type: 'client_credentials' }).toString(), {
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        Authorization: `Basic ${Buffer.from(`${oauth!.clientId}:${oauth!.clientSecret}`).toString('base64')}`,
      },
    });
    const data = res.data as { access_token?: string; expires_in?: number };
    if (res.status !== 200 || !data.access_token) throw new Error(`UEM token endpoint answered ${res.status}`);
    this.token = { value: data.access_token, expiresAt: Date.now() + (data.expires_in ?? 3600) * 1000 };
    return `Bearer ${this.token.value}`;
  }

  private get(path: string, version: 1 | 2): Promise<{ status: number; data: Record<string, unknown> }> {
    return this.call('GET', path, version);
  }

  private async call(method: 'GET' | 'POST', path: string, version: 1 | 2, body?: unknown): Promise<{ status: number; data: Record<string, unknown> }> {
    for (let attempt = 0; ; attempt++) {
      const res = await this.http.request({
        method,
        url: path,
        ...(body !== undefined && { data: body }),
        headers: {
          'aw-tenant-code': this.settings.tenantCode,
          Accept: `application/json;version=${version}`,
          ...(body !== undefined && { 'Content-Type': 'application/json' }),
          Authorization: await this.authorization(),
        },
      });
      // A token revoked early is fetched again once.
      if (res.status === 401 && this.settings.oauth && attempt === 0) {
        this.token = undefined;
        continue;
      }
      return { status: res.status, data: (res.data ?? {}) as Record<string, unknown> };
    }
  }

  /**
   * POST /api/system/users/<id>/uploadsmimecerts: the S/MIME upload for
   * consoles without an Escrow Gateway. 400 (codes 6041-6043) and 403 are
   * permanent; other failures are retried.
   */
  async uploadSmime(set: CredentialSet): Promise<DeliveryReceipt> {
    const userId = set.user.vendorId;
    if (!userId || !isUemUserId(userId)) throw new DeliveryError(NO_UEM_USER_ID, true);
    const payload = (c: DeliveredCredential) => ({ CertificatePayload: c.pkcs12.toString('base64'), Password: c.password });
    const current = (purpose: DeliveredCredential['purpose']) => set.credentials.find((c) => !c.archived && c.purpose === purpose);
    const signing = current('signing');
    const encryption = current('encryption');
    const archived = set.credentials.filter((c) => c.archived).slice(-MAX_ARCHIVED);
    const body = {
      ...(signing && { Signing: payload(signing) }),
      ...(encryption && { Encryption: payload(encryption) }),
      ...(archived.length && { Archived: archived.map(payload) }),
    };
    const res = await this.call('POST', `/api/system/users/${userId}/uploadsmimecerts`, 1, body);
    if (res.status >= 200 && res.status < 300) return { connectorId: this.connectorId, reference: `user/${userId}/${set.deliveryId}`, deliveredAt: new Date() };
    const text = JSON.stringify(res.data ?? '');
    throw new DeliveryError(`UEM uploadsmimecerts answered ${res.status}`, res.status >= 400 && res.status < 500, {
      status: res.status,
      body: text.slice(0, 2000),
    });
  }

  /**
   * Why an upload to this user would be refused for good: no numeric
   * EnrollmentUserId, or one the console does not know (uploadsmimecerts
   * answers 404). Other failures are thrown: the caller tries again later.
   */
  async uploadGap(user: MdmUser): Promise<string | undefined> {
    if (!user.vendorId || !isUemUserId(user.vendorId)) return NO_UEM_USER_ID;
    const r = await this.get(`/api/system/users/${user.vendorId}`, 1);
    if (r.status === 404) return `the console has no user ${user.vendorId} to upload to`;
    if (r.status !== 200) throw new Error(`UEM user lookup answered ${r.status}`);
    return undefined;
  }

  /** Email, UPN and user name by user UUID (v2), falling back to the device's enrollment record. */
  async lookupUser(user: MdmUser, deviceUuid: string | undefined): Promise<MdmUser> {
    if (user.id && !/^\d+$/.test(user.id)) {
      const r = await this.get(`/api/system/users/${encodeURIComponent(user.id)}`, 2);
      if (r.status === 200 && r.data.emailAddress) {
        return {
          email: String(r.data.emailAddress),
          ...(r.data.userPrincipalName ? { upn: String(r.data.userPrincipalName) } : {}),
          ...(r.data.userName ? { userName: String(r.data.userName) } : {}),
        };
      }
      if (r.status >= 500) throw new Error(`UEM user lookup answered ${r.status}`);
    }
    if (user.vendorId) {
      const r = await this.get(`/api/system/users/${encodeURIComponent(user.vendorId)}`, 1);
      if (r.status === 200 && r.data.Email) return { email: String(r.data.Email) };
      if (r.status >= 500) throw new Error(`UEM user lookup answered ${r.status}`);
    }
    if (deviceUuid) {
      const r = await this.get(`/api/mdm/devices/${encodeURIComponent(deviceUuid)}`, 2);
      const email = (r.data.enrollmentInfo as { userEmailAddress?: string } | undefined)?.userEmailAddress;
      if (r.status === 200 && email) return { email };
      if (r.status >= 500) throw new Error(`UEM device lookup answered ${r.status}`);
    }
    return {};
  }

  /**
   * The connection check: a token (with oauth), then GET /api/system/info,
   * which any admin with API access may call, with the tenant code. Nothing
   * is read about users or devices.
   */
  async check(): Promise<HealthReport['checks']> {
    const checks: HealthReport['checks'] = [];
    const failure = (err: unknown) => {
      const e = err as { code?: string; message?: string };
      return `${e.code ?? ''} ${e.message ?? ''}`.trim();
    };
    if (this.settings.oauth) {
      try {
        await this.authorization();
        checks.push({ name: 'uem token', ok: true, detail: `${this.settings.oauth.tokenUrl} issued a token` });
      } catch (err) {
        checks.push({ name: 'uem token', ok: false, detail: `${this.settings.oauth.tokenUrl}: ${failure(err)}` });
        return checks;
      }
    }
    const url = this.settings.url.replace(/\/$/, '');
    try {
      const r = await this.get('/api/system/info', 1);
      const version = typeof r.data.ProductVersion === 'string' && /^[\w .-]{1,64}$/.test(r.data.ProductVersion) ? ` (version ${r.data.ProductVersion})` : '';
      if (r.status === 200) checks.push({ name: 'uem api', ok: true, detail: `${url} answered${version}` });
      else if (r.status === 401 || r.status === 403)
        checks.push({ name: 'uem api', ok: false, detail: `${url} refused the credentials or the aw-tenant-code (HTTP ${r.status})` });
      else checks.push({ name: 'uem api', ok: false, detail: `${url}/api/system/info answered HTTP ${r.status}` });
    } catch (err) {
      checks.push({ name: 'uem api', ok: false, detail: `${url}: ${failure(err)}` });
    }
    return checks;
  }
}
