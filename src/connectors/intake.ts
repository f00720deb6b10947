/**
 * Where connectors hand over normalized events. The event row and the job
 * that acts on it are written in one transaction, so an acknowledged event
 * is never lost; a redelivered event (same dedupe key) changes nothing.
 *
 * Events that arrive in the same turn of the event loop share one
 * transaction (group commit): under load a commit, with its WAL write or
 * its round trip and fsync on MySQL, costs more than the rows it carries.
 * Every caller still resolves only after its rows are committed.
 */
import type { Logger } from 'pino';
import type { JobQueue } from '../jobs/queue.js';
import type { Db } from '../store/db.js';
import type { EventRepository } from '../store/events.js';
import { transaction, type Sql } from '../store/sql.js';
import type { MdmEvent } from './connector.js';
import { eventProblem, FIELD } from './field-text.js';

export { MAX_DEVICE_ID, MAX_USER_ID } from './field-text.js';
/** Longest event type the store keeps. */
export const MAX_VENDOR_TYPE = FIELD.eventType.max;

export const EVENT_JOB = 'mdm.event';
const ACTIONABLE = new Set(['enrolled', 'unenrolled', 'wiped']);
/** Events per transaction at most; more wait for the next one. */
const MAX_BATCH = 256;

/** The event, its user and its device are kept as JSON in TEXT columns: 65,535 bytes on MySQL. */
export const MAX_JSON_BYTES = 65_535;

/** An event the store cannot keep as it is; the sender gets a 400 with this message. */
export class InvalidEventError extends Error {}

export interface Accepted {
  eventId?: number;
  duplicate: boolean;
}

interface Pending {
  event: MdmEvent;
  payload: unknown;
  resolve(a: Accepted): void;
  reject(err: unknown): void;
}

/** Why the event store cannot keep the event's JSON (a sender's mistake, answered 400), or undefined. */
function oversized(event: MdmEvent, payload: unknown): string | undefined {
  // SQLite would keep more; MySQL refuses it, so both refuse it here alike.
  for (const [what, value] of [
    ['the event', payload],
    ['its user', event.user],
    ['its device', event.device],
  ] as const) {
    const json = JSON.stringify(value);
    const bytes = json === undefined ? 0 : Buffer.byteLength(json);
    if (bytes > MAX_JSON_BYTES) return `${what} is ${bytes} bytes as JSON; at most ${MAX_JSON_BYTES} are kept`;
  }
  return undefined;
}

export class EventIntake {
  private pending: Pending[] = [];

  constructor(private readonly deps: { db: Db; events: EventRepository; queue: JobQueue; log: Logger }) {}

  accept(event: MdmEvent, payload: unknown): Promise<Accepted> {
    // Connectors screen their vendor's fields by the vendor's names; this is the line none passes.
    const problem = eventProblem(event);
    if (problem) return Promise.reject(new InvalidEventError(problem));
    let oversize: string | undefined;
    try {
      oversize = oversized(event, payload);
    } catch (err) {
      // A payload JSON cannot hold (a cycle) fails as the store would fail it: the caller's promise rejects.
      return Promise.reject(err);
    }
    if (oversize) return Promise.reject(new InvalidEventError(oversize));
    return new Promise<Accepted>((resolve, reject) => {
      this.pending.push({ event, payload, resolve, reject });
      // After the poll phase: every request that arrived with this one is in the batch by then.
      if (this.pending.length === 1) setImmediate(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending.splice(0, MAX_BATCH);
    if (this.pending.length > 0) setImmediate(() => void this.flush());
    let ids: (number | undefined)[];
    try {
      ids = await transaction(this.deps.db, async (sql) => {
        const out: (number | undefined)[] = [];
        for (const p of batch) out.push(await this.store(sql, p.event, p.payload));
        return out;
      });
    } catch (err) {
      // One event's failure must not fail the others: each goes again on its own.
      if (batch.length > 1) {
        await Promise.all(batch.map((p) => this.storeAlone(p)));
        return;
      }
      batch[0]!.reject(err);
      return;
    }
    this.settle(batch, ids);
  }

  private async storeAlone(p: Pending): Promise<void> {
    try {
      const id = await transaction(this.deps.db, (sql) => this.store(sql, p.event, p.payload));
      this.settle([p], [id]);
    } catch (err) {
      p.reject(err);
    }
  }

  private async store(sql: Sql, event: MdmEvent, payload: unknown): Promise<number | undefined> {
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
  }

  private settle(batch: Pending[], ids: (number | undefined)[]): void {
    let wake = false;
    for (const [i, { event, resolve }] of batch.entries()) {
      const eventId = ids[i];
      if (eventId === undefined) {
        resolve({ duplicate: true });
        continue;
      }
      if (ACTIONABLE.has(event.type)) wake = true;
      else this.deps.log.info({ connector: event.connectorId, eventId, vendorType: event.vendorType }, 'event stored; no action for its type');
      resolve({ eventId, duplicate: false });
    }
    if (wake) this.deps.queue.wake();
  }
}
