/** The managed devices a connector knew at its last listing (tables of migration 010_intune). */
import type { Db } from '../../src/store/db.js';

export interface KnownManagedDevice {
  id: string;
  enrolledAt: string;
}

export class DeviceStore {
  constructor(
    private readonly db: Db,
    private readonly connectorId: string,
  ) {}

  async known(): Promise<Map<string, string>> {
    const rows = (await this.db('intune_devices').where({ connector_id: this.connectorId }).select('device_id', 'enrolled_at')) as {
      device_id: string;
      enrolled_at: string;
    }[];
    return new Map(rows.map((r) => [r.device_id, r.enrolled_at]));
  }

  async remember(device: KnownManagedDevice, now = Date.now()): Promise<void> {
    await this.db('intune_devices')
      .insert({ connector_id: this.connectorId, device_id: device.id, enrolled_at: device.enrolledAt, seen_at: now })
      .onConflict(['connector_id', 'device_id'])
      .merge();
  }

  async forget(deviceId: string): Promise<void> {
    await this.db('intune_devices').where({ connector_id: this.connectorId, device_id: deviceId }).delete();
  }

  /** When the last complete listing was taken; undefined before the first. */
  async lastListing(): Promise<number | undefined> {
    const row = (await this.db('intune_listings').where({ connector_id: this.connectorId }).first()) as { completed_at: number | string } | undefined;
    return row ? Number(row.completed_at) : undefined;
  }

  async listed(devices: number, now = Date.now()): Promise<void> {
    await this.db('intune_listings').insert({ connector_id: this.connectorId, completed_at: now, devices }).onConflict('connector_id').merge();
  }
}
