/**
 * The XenMobile (Citrix Endpoint Management) REST API, for the device list:
 * POST /xenmobile/api/v1/authentication/login {login, password} gives an
 * auth_token, sent as the `auth_token` header on later calls and fetched
 * again once when a call answers 401 (tokens expire). Neither the password
 * nor the token is ever put into an error or a log line.
 */
import { Agent } from 'node:https';
import axios, { type AxiosInstance } from 'axios';
import { durationMs } from '../../src/config/duration.js';
import { readCaSetting } from '../../src/connectors/setting-file.js';
import type { CitrixSettings } from './schema.js';

/** A device as /device/filter lists it; field names as XenMobile spells them. */
export interface XmDevice {
  id: number | string;
  serialNumber?: string;
  userName?: string;
  platform?: string;
  deviceModel?: string;
  deviceName?: string;
  managed?: boolean;
  mdmKnown?: boolean;
  properties?: { name?: string; value?: unknown }[];
  [field: string]: unknown;
}

export class XenMobileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XenMobileError';
  }
}

const BASE = '/xenmobile/api/v1';

export class XenMobileApi {
  private readonly http: AxiosInstance;
  private token: string | undefined;

  constructor(private readonly settings: CitrixSettings['xenmobile']) {
    this.http = axios.create({
      baseURL: settings.url.replace(/\/$/, ''),
      timeout: durationMs(settings.timeout),
      ...(settings.serverCa && {
        httpsAgent: new Agent({ ca: readCaSetting(settings.serverCa, 'xenmobile.serverCa'), keepAlive: true, minVersion: 'TLSv1.2' }),
      }),
      headers: { Accept: 'application/json' },
      validateStatus: () => true,
      maxRedirects: 0,
      proxy: false,
    });
  }

  /** Transport failures become XenMobileErrors naming the call, never carrying the request (its headers hold the token). */
  private async send(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    headers: Record<string, string>,
  ): Promise<{ status: number; data: Record<string, unknown> }> {
    try {
      const res = await this.http.request({
        method,
        url: `${BASE}${path}`,
        ...(body !== undefined && { data: body }),
        headers: { ...headers, ...(body !== undefined && { 'Content-Type': 'application/json' }) },
      });
      const data = res.data && typeof res.data === 'object' ? (res.data as Record<string, unknown>) : {};
      return { status: res.status, data };
    } catch (err) {
      const e = err as { code?: string; message?: string };
      throw new XenMobileError(`XenMobile ${method} ${path} failed: ${e.code ?? e.message ?? 'unknown error'}`);
    }
  }

  async login(): Promise<void> {
    this.token = undefined;
    const res = await this.send('POST', '/authentication/login', { login: this.settings.login, password: this.settings.password }, {});
    const token = res.data.auth_token;
    if (res.status !== 200 || typeof token !== 'string' || token === '') {
      throw new XenMobileError(
        `XenMobile login as ${this.settings.login} failed: HTTP ${res.status}${res.status === 401 || res.status === 403 ? ' (check the login and password)' : ''}`,
      );
    }
    this.token = token;
  }

  private async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; data: Record<string, unknown> }> {
    if (!this.token) await this.login();
    let res = await this.send(method, path, body, { auth_token: this.token! });
    if (res.status === 401) {
      await this.login();
      res = await this.send(method, path, body, { auth_token: this.token! });
    }
    return res;
  }

  /** Every device, page by page; throws unless every page was read. */
  async listDevices(): Promise<XmDevice[]> {
    const limit = this.settings.pageSize;
    const devices: XmDevice[] = [];
    for (let start = 0; ; start += limit) {
      const res = await this.call('POST', '/device/filter', { start, limit, sortOrder: 'ASC', sortColumn: 'ID', enableCount: true });
      const page = res.data.filteredDevicesDataList;
      if (res.status !== 200 || !Array.isArray(page) || (res.data.status !== undefined && Number(res.data.status) !== 0)) {
        throw new XenMobileError(
          `XenMobile device list (start ${start}) answered HTTP ${res.status}${typeof res.data.message === 'string' ? `: ${res.data.message.slice(0, 200)}` : ''}`,
        );
      }
      for (const d of page as XmDevice[]) {
        if (d && (typeof d.id === 'number' || typeof d.id === 'string')) devices.push(d);
      }
      const total = Number(res.data.matchedRecords ?? res.data.totalCount);
      if (page.length < limit || (Number.isFinite(total) && start + page.length >= total)) return devices;
    }
  }

  /** One device's details; undefined when XenMobile no longer has it. */
  async device(id: string): Promise<XmDevice | undefined> {
    const res = await this.call('GET', `/device/${encodeURIComponent(id)}`);
    const device = res.data.device;
    if (res.status === 200 && device && typeof device === 'object') return device as XmDevice;
    // Not found: 404, or XenMobile's own non-zero status without a device. Anything else is not proof the device is gone.
    if (res.status === 404 || (res.status === 200 && res.data.status !== undefined && Number(res.data.status) !== 0)) return undefined;
    throw new XenMobileError(`XenMobile device ${id} answered HTTP ${res.status} without a device`);
  }
}
