/**
 * Where connectors hand over normalized events. The event row and the job
 * that acts on it are written in one transaction, so an acknowledged event
 * is never lost; a redelivered event (same dedupe key) changes nothing.
 */
import type { Logger } from 'pino';
import type { JobQueue } from '../jobs/queue.js';
import type { Db } from '../store/db.js';
import type { EventRepository } from '../store/events.js';
import { transaction } from '../store/sql.js';
import type { MdmEvent } from './connector.js';

export const EVENT_JOB = 'mdm.event';
const ACTIONABLE = new Set(['enrolled', 'unenrolled', 'wiped']);

export interface Accepted {
  eventId?: number;
  duplicate: boolean;
}

export class EventIntake {
  constructor(private readonly deps: { db: Db; events: EventRepository; queue: JobQueue; log: Logger }) {}

  async accept(event: MdmEvent, payload: unknown): Promise<Accepted> {
    const eventId = await transaction(this.deps.db, async (sql) => {
      const id = await this.deps.events.insert(sql, {
        connectorId: event.connectorId,
        type: event.type,
        vendorType: event.vendorType,
        dedupeKey: event.dedupeKey,
        deviceId: event.device.id || null,
        user: { ...event.user },
        device: { ...event.device },
        payload,
        occurredAt: event.occurredAt.getTime(),
      });
      if (id !== undefined && ACTIONABLE.has(event.type)) {
        await this.deps.queue.enqueue(sql, EVENT_JOB, { eventId: id }, { dedupeKey: `event:${id}` });
      }
      return id;
    });
    if (eventId === undefined) return { duplicate: true };
    if (ACTIONABLE.has(event.type)) this.deps.queue.wake();
    else this.deps.log.info({ connector: event.connectorId, eventId, vendorType: event.vendorType }, 'event stored; no action for its type');
    return { eventId, duplicate: false };
  }
}
