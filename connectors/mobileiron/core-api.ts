/**
 * Core's REST API v2 (HTTP Basic, an admin with the API role; every call
 * carries adminDeviceSpaceId). Uploads put one PKCS#12 per user into a
 * User-Provided certificate enrollment setting, each a multipart call with
 * the session Core asks such calls to carry (core-session.ts): 2xx is done,
 * 5xx, 408, 429 and network failures are retried by the job queue, a 401 or
 * 403 to a call on an earlier session opens a new one and tries once more,
 * any other 4xx is permanent with Core's answer kept for the operator.
 *
 * Core keeps one PKCS#12 per user per setting, so only current credentials
 * are uploaded: an archived (superseded) encryption credential would replace
 * the current one. Devices keep the older keys they already have.
 */
import { Agent } from 'node:https';
import axios, { isAxiosError, type AxiosInstance, type AxiosResponse } from 'axios';
import { durationMs } from '../../src/config/duration.js';
import { DeliveryError, type CredentialSet, type DeliveryReceipt, type MdmUser } from '../../src/connectors/connector.js';
import { readCaSetting } from '../../src/connectors/setting-file.js';
import { CoreSession } from './core-session.js';
import type { MobileIronSettings } from './schema.js';

type CoreApiSettings = MobileIronSettings['coreApi'];
type Purpose = keyof CoreApiSettings['upload']['ceSettingNames'];

const RETRYABLE_4XX = new Set([408, 429]);

const ownerOf = (user: MdmUser) => user.vendorId ?? user.userName;

/** The failure without axios's request config (it holds the Authorization header). */
function networkError(what: string, err: unknown): Error {
  if (isAxiosError(err)) return new Error(`${what} failed: ${err.code ?? ''} ${err.message}`.replace(/\s+/g, ' '));
  return err instanceof Error ? err : new Error(String(err));
}

export class CoreApi {
  private readonly http: AxiosInstance;
  private readonly session: CoreSession;

  constructor(
    private readonly connectorId: string,
    private readonly settings: CoreApiSettings,
  ) {
    this.http = axios.create({
      baseURL: settings.url.replace(/\/$/, ''),
      timeout: durationMs(settings.timeout),
      auth: { username: settings.basic.username, password: settings.basic.password },
      params: { adminDeviceSpaceId: settings.adminDeviceSpaceId },
      httpsAgent: new Agent({ ...(settings.serverCa && { ca: readCaSetting(settings.serverCa, 'coreApi.serverCa') }), keepAlive: true, minVersion: 'TLSv1.2' }),
      validateStatus: () => true,
      maxRedirects: 0,
      proxy: false,
    });
    this.session = new CoreSession(this.http, settings.upload.session, settings.pingPath);
  }

  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw networkError(what, err);
    }
  }

  /** Why Core could not take an upload for this user: it files credentials under the owner's userId. */
  uploadGap(user: MdmUser): string | undefined {
    return ownerOf(user) ? undefined : 'Core files credentials under the userId of their owner, and the event named none';
  }

  /** One multipart POST per current credential, to the enrollment setting of its purpose. */
  async upload(set: CredentialSet): Promise<DeliveryReceipt> {
    const { upload } = this.settings;
    const userId = ownerOf(set.user);
    if (!userId) throw new DeliveryError(this.uploadGap(set.user)!, true);
    const done: string[] = [];
    for (const c of set.credentials.filter((x) => !x.archived)) {
      const setting = upload.ceSettingNames[c.purpose as Purpose];
      if (!setting) throw new DeliveryError(`no Core enrollment setting is configured for ${c.purpose} credentials (coreApi.upload.ceSettingNames)`, true);
      const form = () => {
        const f = new FormData();
        f.append(upload.fields.file, new Blob([c.pkcs12], { type: 'application/x-pkcs12' }), `${c.serialNumber}.p12`);
        f.append(upload.fields.password, c.password);
        f.append(upload.fields.userId, userId);
        f.append(upload.fields.ceSettingName, setting);
        return f;
      };
      const res = await this.postMultipart(form);
      if (res.status < 200 || res.status >= 300) {
        const body = (typeof res.data === 'string' ? res.data : (JSON.stringify(res.data) ?? '')).slice(0, 2000);
        const message = `Core answered ${res.status} to the ${c.purpose} upload for ${userId}`;
        if (res.status >= 400 && res.status < 500 && !RETRYABLE_4XX.has(res.status)) throw new DeliveryError(message, true, { status: res.status, body });
        throw new Error(`${message}: ${body.slice(0, 200)}`);
      }
      done.push(`${setting}:${c.serialNumber}`);
    }
    return { connectorId: this.connectorId, reference: `${userId}/${done.join(',')}`, deliveredAt: new Date() };
  }

  /** A multipart POST to the upload path with the session's headers; once more on a new session when an earlier one is refused. */
  private async postMultipart(form: () => FormData): Promise<AxiosResponse> {
    const post = async () => {
      const { headers, fresh } = await this.call('Core upload session', () => this.session.headers());
      return { res: await this.call('Core upload', () => this.http.post(this.settings.upload.path, form(), { headers })), fresh };
    };
    let { res, fresh } = await post();
    if ((res.status === 401 || res.status === 403) && !fresh) {
      this.session.forget();
      ({ res } = await post());
    }
    this.session.observe(res);
    return res;
  }

  /**
   * The email of the device's user through Core's device search (assumed:
   * GET /api/v2/devices?query=<field>="<guid>"&fields=<field>,<emailField>,
   * answering { results: [{ "<field>": ..., "<emailField>": ... }] }). Only
   * the result that is this device counts: a search matching more loosely
   * must not hand another user's address to this one. No such result leaves
   * the user as it was; 5xx and network errors are thrown so the job retries.
   */
  async lookupUser(deviceGuid: string): Promise<MdmUser> {
    const lookup = this.settings.userLookup;
    if (!lookup) return {};
    const res = await this.call('Core user lookup', () =>
      this.http.get(lookup.path, {
        params: {
          adminDeviceSpaceId: this.settings.adminDeviceSpaceId,
          query: `${lookup.deviceField}="${deviceGuid.replace(/"/g, '')}"`,
          fields: `${lookup.deviceField},${lookup.emailField}`,
        },
      }),
    );
    if (res.status >= 500) throw new Error(`Core user lookup answered ${res.status}`);
    if (res.status !== 200) return {};
    const results = (res.data as { results?: unknown } | undefined)?.results;
    const mine = (Array.isArray(results) ? results : []).filter(
      (r): r is Record<string, unknown> =>
        typeof r === 'object' && r !== null && String((r as Record<string, unknown>)[lookup.deviceField] ?? '').toLowerCase() === deviceGuid.toLowerCase(),
    );
    const email = mine.length === 1 ? mine[0]![lookup.emailField] : undefined;
    return typeof email === 'string' && email.includes('@') ? { email } : {};
  }

  /** An authenticated GET that proves the URL, the TLS trust and the credentials. */
  async ping(): Promise<{ ok: boolean; detail: string }> {
    try {
      const res = await this.call('Core API', () => this.http.get(this.settings.pingPath));
      if (res.status >= 200 && res.status < 300) {
        const session = await this.call('Core API', () => this.session.describe());
        return { ok: true, detail: `${this.settings.pingPath} answered ${res.status}${session ? `; ${session}` : ''}` };
      }
      if (res.status === 401 || res.status === 403) return { ok: false, detail: `credentials rejected (${res.status}); the admin needs the API role` };
      return { ok: false, detail: `${this.settings.pingPath} answered ${res.status}` };
    } catch (err) {
      return { ok: false, detail: (err as Error).message };
    }
  }
}
