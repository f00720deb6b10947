/** Credential sets on their way to an MDM. The wrapped payload is erased once delivered. */
import type { Knex } from 'knex';
import type { Db } from './db.js';
import { sqlOf, type SqlTarget } from './sql.js';

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface DeliveryRecord {
  id: number;
  connectorId: string;
  eventId: number | null;
  deviceId: string | null;
  userId: string | null;
  status: DeliveryStatus;
  serials: string[];
  kekId: string | null;
  wrappedPayload: string | null;
  receipt: unknown;
  lastError: string | null;
  expiresAt: number | null;
  renews: number | null;
  renewedAt: number | null;
  createdAt: number;
  deliveredAt: number | null;
}

interface Row {
  id: number;
  connector_id: string;
  event_id: number | null;
  device_id: string | null;
  user_id: string | null;
  status: DeliveryStatus;
  serials: string;
  kek_id: string | null;
  wrapped_payload: string | null;
  receipt: string | null;
  last_error: string | null;
  expires_at: number | null;
  renews: number | null;
  renewed_at: number | null;
  created_at: number;
  delivered_at: number | null;
}

const num = (v: number | null) => (v === null ? null : Number(v));

const fromRow = (r: Row): DeliveryRecord => ({
  id: Number(r.id),
  connectorId: r.connector_id,
  eventId: r.event_id === null ? null : Number(r.event_id),
  deviceId: r.device_id,
  userId: r.user_id,
  status: r.status,
  serials: JSON.parse(r.serials) as string[],
  kekId: r.kek_id,
  wrappedPayload: r.wrapped_payload,
  receipt: r.receipt === null ? null : (JSON.parse(r.receipt) as unknown),
  lastError: r.last_error,
  expiresAt: num(r.expires_at),
  renews: num(r.renews),
  renewedAt: num(r.renewed_at),
  createdAt: Number(r.created_at),
  deliveredAt: r.delivered_at === null ? null : Number(r.delivered_at),
});

/** A delivery's sealed payload is bound to its connector and device (AAD), so it cannot be moved to another row. */
export const deliveryContext = (connectorId: string, deviceId: string | null): string => `delivery:${connectorId}:${deviceId ?? '-'}`;

// Plain SQL (sql.ts), so a delivery can commit in the issuer's transaction with the certificate it carries.
const INSERT =
  'INSERT INTO deliveries (connector_id, event_id, device_id, user_id, status, serials, kek_id, wrapped_payload, expires_at, renews, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';

export class DeliveryRepository {
  constructor(private readonly db: Db) {}

  /** Records a set to deliver (and, for a renewal, that the set it renews is renewed) in the caller's transaction. */
  async create(
    target: SqlTarget,
    d: Pick<DeliveryRecord, 'connectorId' | 'eventId' | 'deviceId' | 'userId' | 'serials' | 'kekId' | 'wrappedPayload' | 'expiresAt' | 'renews'>,
    now = Date.now(),
  ): Promise<number> {
    const sql = sqlOf(target);
    const id = await sql.insert(INSERT, [
      d.connectorId,
      d.eventId,
      d.deviceId,
      d.userId,
      'pending',
      JSON.stringify(d.serials),
      d.kekId,
      d.wrappedPayload,
      d.expiresAt,
      d.renews,
      now,
    ]);
    if (d.renews !== null) await sql.run('UPDATE deliveries SET renewed_at = ? WHERE id = ?', [now, d.renews]);
    return id!;
  }

  /** Sets still holding a payload sealed under a master key other than `kekId` (master-key rotation). */
  async sealedUnder(notKekId: string): Promise<DeliveryRecord[]> {
    return ((await this.db<Row>('deliveries').whereNotNull('wrapped_payload').whereNot({ kek_id: notKekId })) as Row[]).map(fromRow);
  }

  async reseal(trx: Knex.Transaction, id: number, sealed: { kekId: string; wrappedPayload: string }): Promise<void> {
    await trx('deliveries').where({ id }).update({ kek_id: sealed.kekId, wrapped_payload: sealed.wrappedPayload });
  }

  /** Delivered sets whose credentials expire before `before` and that nothing has renewed yet. */
  async dueForRenewal(connectorId: string, before: number, limit = 500): Promise<DeliveryRecord[]> {
    const rows = (await this.db<Row>('deliveries')
      .where({ connector_id: connectorId, status: 'delivered' })
      .whereNull('renewed_at')
      .andWhere('expires_at', '<', before)
      .orderBy('expires_at')
      .limit(limit)) as Row[];
    return rows.map(fromRow);
  }

  async get(id: number): Promise<DeliveryRecord | undefined> {
    const r = (await this.db<Row>('deliveries').where({ id }).first()) as Row | undefined;
    return r ? fromRow(r) : undefined;
  }

  async byEvent(eventId: number): Promise<DeliveryRecord | undefined> {
    const r = (await this.db<Row>('deliveries').where({ event_id: eventId }).first()) as Row | undefined;
    return r ? fromRow(r) : undefined;
  }

  /** The sets the MDM holds for one device, oldest first. */
  async deliveredTo(connectorId: string, deviceId: string): Promise<DeliveryRecord[]> {
    return ((await this.db<Row>('deliveries').where({ connector_id: connectorId, device_id: deviceId, status: 'delivered' }).orderBy('id')) as Row[]).map(
      fromRow,
    );
  }

  async list(connectorId: string): Promise<DeliveryRecord[]> {
    return ((await this.db<Row>('deliveries').where({ connector_id: connectorId }).orderBy('id')) as Row[]).map(fromRow);
  }

  async markDelivered(id: number, receipt: unknown, now = Date.now()): Promise<void> {
    await this.db('deliveries')
      .where({ id })
      .update({ status: 'delivered', receipt: JSON.stringify(receipt), delivered_at: now, wrapped_payload: null, last_error: null });
  }

  /** Keeps the wrapped payload, so an operator can retry once the MDM side is fixed. */
  async markFailed(id: number, error: string): Promise<void> {
    await this.db('deliveries')
      .where({ id })
      .update({ status: 'failed', last_error: error.slice(0, 4000) });
  }
}
