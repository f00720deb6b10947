/** Mobile devices by serial number: registered ahead ("known mobiles") or recorded when they collect a mobile ID. */
import type { Db } from './db.js';
import { whereVisible, type PeopleScope } from './people.js';
import type { KnexTarget } from './sql.js';

export const PLATFORMS = ['ios', 'android', 'windows', 'other'] as const;
export type Platform = (typeof PLATFORMS)[number];
export type DeviceStatus = 'registered' | 'issued' | 'cancelled';

export interface Device {
  id: string;
  serial: string;
  platform: Platform;
  model: string | null;
  osVersion: string | null;
  ownerId: string | null;
  status: DeviceStatus;
  createdAt: number;
  updatedAt: number;
}

export type DeviceFields = Pick<Device, 'serial' | 'platform' | 'model' | 'osVersion' | 'ownerId'>;

interface Row {
  id: string;
  serial: string;
  platform: Platform;
  model: string | null;
  os_version: string | null;
  owner_id: string | null;
  status: DeviceStatus;
  created_at: number;
  updated_at: number;
}

const fromRow = (r: Row): Device => ({
  id: r.id,
  serial: r.serial,
  platform: r.platform,
  model: r.model,
  osVersion: r.os_version,
  ownerId: r.owner_id,
  status: r.status,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

const toRow = (d: DeviceFields) => ({ serial: d.serial, platform: d.platform, model: d.model, os_version: d.osVersion, owner_id: d.ownerId });

export interface DeviceFilter {
  serial?: string;
  ownerId?: string;
  status?: DeviceStatus;
  after?: string;
  limit?: number;
}

export class DeviceRepository {
  constructor(private readonly db: Db) {}

  async insert(trx: KnexTarget, id: string, d: DeviceFields, status: DeviceStatus = 'registered', now = Date.now()): Promise<void> {
    await trx('devices').insert({ id, ...toRow(d), status, created_at: now, updated_at: now });
  }

  async update(trx: KnexTarget, id: string, d: DeviceFields, now = Date.now()): Promise<void> {
    await trx('devices')
      .where({ id })
      .update({ ...toRow(d), updated_at: now });
  }

  async setStatus(trx: KnexTarget, id: string, status: DeviceStatus, now = Date.now()): Promise<void> {
    await trx('devices').where({ id }).update({ status, updated_at: now });
  }

  /** With a scope: only a device whose owner is visible (one without an owner is visible to scope all only). */
  async get(id: string, trx: KnexTarget = this.db, scope?: PeopleScope): Promise<Device | undefined> {
    const r = (await whereVisible(trx<Row>('devices').where({ id }), scope, 'owner_id').first()) as Row | undefined;
    return r && fromRow(r);
  }

  async bySerial(serial: string, trx: KnexTarget = this.db, scope?: PeopleScope): Promise<Device | undefined> {
    const r = (await whereVisible(trx<Row>('devices').where({ serial }), scope, 'owner_id').first()) as Row | undefined;
    return r && fromRow(r);
  }

  async bySerials(serials: string[], trx: KnexTarget = this.db): Promise<Map<string, Device>> {
    const out = new Map<string, Device>();
    for (let i = 0; i < serials.length; i += 500) {
      const rows = (await trx<Row>('devices').whereIn('serial', serials.slice(i, i + 500))) as Row[];
      for (const r of rows) out.set(r.serial, fromRow(r));
    }
    return out;
  }

  async list(filter: DeviceFilter = {}, scope?: PeopleScope): Promise<Device[]> {
    const q = whereVisible(this.db<Row>('devices'), scope, 'owner_id')
      .orderBy('serial')
      .limit(Math.min(filter.limit ?? 100, 1000));
    if (filter.serial) q.where({ serial: filter.serial });
    if (filter.ownerId) q.where({ owner_id: filter.ownerId });
    if (filter.status) q.where({ status: filter.status });
    if (filter.after) q.where('serial', '>', filter.after);
    return ((await q) as Row[]).map(fromRow);
  }
}
