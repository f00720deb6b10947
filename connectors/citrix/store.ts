/**
 * The Citrix connector's rows (migration 013): certsrv requests by request id,
 * and the XenMobile devices the poller has seen.
 */
import type { Db } from '../../src/store/db.js';
import type { Sql } from '../../src/store/sql.js';

export interface CertsrvRequest {
  id: number;
  connectorId: string;
  serial: string;
  adcsTemplate: string;
  template: string;
  requester: string;
  deviceId: string | null;
  createdAt: number;
}

interface RequestRow {
  id: number;
  connector_id: string;
  serial: string;
  adcs_template: string;
  template: string;
  requester: string;
  device_id: string | null;
  created_at: number;
}

const INSERT_REQUEST = `INSERT INTO citrix_certsrv_requests (connector_id, serial, adcs_template, template, requester, device_id, created_at)
  VALUES (?, ?, ?, ?, ?, ?, ?)`;

export class CertsrvRequestRepository {
  constructor(private readonly db: Db) {}

  /** Records an issued request inside the issuance transaction; returns its request id. */
  async insert(sql: Sql, r: Omit<CertsrvRequest, 'id' | 'createdAt'>, now = Date.now()): Promise<number> {
    const id = await sql.insert(INSERT_REQUEST, [
      r.connectorId,
      r.serial,
      r.adcsTemplate.slice(0, 128),
      r.template,
      r.requester.slice(0, 191),
      r.deviceId?.slice(0, 191) ?? null,
      now,
    ]);
    return id!;
  }

  /** A request of this connector; another connector's is as unknown as a missing one. */
  async get(connectorId: string, id: number): Promise<CertsrvRequest | undefined> {
    const r = (await this.db<RequestRow>('citrix_certsrv_requests').where({ connector_id: connectorId, id }).first()) as RequestRow | undefined;
    return (
      r && {
        id: Number(r.id),
        connectorId: r.connector_id,
        serial: r.serial,
        adcsTemplate: r.adcs_template,
        template: r.template,
        requester: r.requester,
        deviceId: r.device_id,
        createdAt: Number(r.created_at),
      }
    );
  }
}

export type DeviceState = 'active' | 'retired' | 'gone';

export interface KnownDevice {
  xmId: string;
  state: DeviceState;
  departures: number;
  device: Record<string, unknown>;
}

export class KnownDeviceRepository {
  constructor(
    private readonly db: Db,
    private readonly connectorId: string,
  ) {}

  async all(): Promise<Map<string, KnownDevice>> {
    const rows = (await this.db('citrix_devices').where({ connector_id: this.connectorId })) as {
      xm_id: string;
      state: DeviceState;
      departures: number;
      device: string;
    }[];
    return new Map(
      rows.map((r) => [r.xm_id, { xmId: r.xm_id, state: r.state, departures: Number(r.departures), device: JSON.parse(r.device) as Record<string, unknown> }]),
    );
  }

  async save(d: KnownDevice, now = Date.now()): Promise<void> {
    const row = { connector_id: this.connectorId, xm_id: d.xmId, state: d.state, departures: d.departures, device: JSON.stringify(d.device), updated_at: now };
    await this.db('citrix_devices').insert(row).onConflict(['connector_id', 'xm_id']).merge(['state', 'departures', 'device', 'updated_at']);
  }
}
