/** MDM events and the device → user mapping learnt from them. */
import { createHash } from 'node:crypto';
import type { Db } from './db.js';
import { insertIgnoringDuplicates, insertUnlessDuplicate, type KnexTarget, sqlOf, type SqlTarget } from './sql.js';

export interface StoredEvent {
  id: number;
  connectorId: string;
  type: string;
  vendorType: string;
  dedupeKey: string;
  deviceId: string | null;
  user: Record<string, string | undefined>;
  device: Record<string, string | undefined>;
  payload: unknown;
  occurredAt: number;
  receivedAt: number;
}

interface Row {
  id: number;
  connector_id: string;
  type: string;
  vendor_type: string;
  dedupe_key: string;
  device_id: string | null;
  user: string;
  device: string;
  payload: string;
  occurred_at: number;
  received_at: number;
}

export type NewEvent = Omit<StoredEvent, 'id' | 'receivedAt'>;

/**
 * The dedupe key as stored: a key longer than its column is kept as its
 * SHA-256, never cut short (two events whose keys share a long prefix would
 * otherwise collide and the second be dropped as a duplicate).
 */
const dedupeColumn = (key: string) => (key.length <= 191 ? key : `sha256:${createHash('sha256').update(key, 'utf8').digest('hex')}`);

// Written once per accepted event: plain SQL, prepared once (see sql.ts).
const INSERT = insertIgnoringDuplicates(
  'mdm_events',
  ['connector_id', 'type', 'vendor_type', 'dedupe_key', 'device_id', 'user', 'device', 'payload', 'occurred_at', 'received_at'],
  ['connector_id', 'dedupe_key'],
);

export class EventRepository {
  constructor(private readonly db: Db) {}

  /** Stores an event; undefined when the connector already has one with this dedupe key. */
  async insert(target: SqlTarget, e: NewEvent, now = Date.now()): Promise<number | undefined> {
    const sql = sqlOf(target);
    return insertUnlessDuplicate(sql, INSERT, [
      e.connectorId,
      e.type,
      e.vendorType.slice(0, 128),
      dedupeColumn(e.dedupeKey),
      e.deviceId,
      JSON.stringify(e.user),
      JSON.stringify(e.device),
      JSON.stringify(e.payload),
      e.occurredAt,
      now,
    ]);
  }

  async get(id: number): Promise<StoredEvent | undefined> {
    const r = (await this.db<Row>('mdm_events').where({ id }).first()) as Row | undefined;
    if (!r) return undefined;
    return {
      id: Number(r.id),
      connectorId: r.connector_id,
      type: r.type,
      vendorType: r.vendor_type,
      dedupeKey: r.dedupe_key,
      deviceId: r.device_id,
      user: JSON.parse(r.user) as StoredEvent['user'],
      device: JSON.parse(r.device) as StoredEvent['device'],
      payload: JSON.parse(r.payload) as unknown,
      occurredAt: Number(r.occurred_at),
      receivedAt: Number(r.received_at),
    };
  }

  async count(connectorId: string): Promise<number> {
    const r = (await this.db('mdm_events').where({ connector_id: connectorId }).count({ n: '*' }).first()) as { n: number | string };
    return Number(r.n);
  }

  async rememberDeviceUser(trx: KnexTarget, connectorId: string, deviceId: string, user: Record<string, unknown>, now = Date.now()): Promise<void> {
    await trx('device_users')
      .insert({ connector_id: connectorId, device_id: deviceId, user: JSON.stringify(user), updated_at: now })
      .onConflict(['connector_id', 'device_id'])
      .merge();
  }

  async deviceUser(connectorId: string, deviceId: string): Promise<Record<string, string | undefined> | undefined> {
    const r = (await this.db('device_users').where({ connector_id: connectorId, device_id: deviceId }).first()) as { user: string } | undefined;
    return r ? (JSON.parse(r.user) as Record<string, string | undefined>) : undefined;
  }
}
