/**
 * Workspace ONE event notifications (JSON, or XML with root <Eventlog>) to
 * normalized MdmEvents. EventId names the event type (every enrollment is
 * 148), so deliveries are told apart by (EventId, device, EventTime).
 */
import { XMLParser } from 'fast-xml-parser';
import type { MdmEvent } from '../../src/connectors/connector.js';
import { FIELD, fieldProblems, type FieldProblem, type TextRule } from '../../src/connectors/field-text.js';
import { xmlReferences } from './xml-references.js';

export class EventFormatError extends Error {}

export type Ws1Fields = Record<string, string>;

const BY_ID: Record<string, MdmEvent['type']> = { '148': 'enrolled', '39': 'unenrolled', '229': 'wiped', '178': 'compliance-changed' };
const BY_NAME: Record<string, MdmEvent['type']> = {
  mdmenrollmentcomplete: 'enrolled',
  breakmdmconfirmed: 'unenrolled',
  deviceenterprisewiperequested: 'wiped',
  compromisedstatuschanged: 'compliance-changed',
  compliancestatuschanged: 'compliance-changed',
};

// Entity references are decoded by xml-references.ts alone: XML's own, never a DOCTYPE's (no XXE).
const xml = new XMLParser({ parseTagValue: false, trimValues: true, ignoreAttributes: true, processEntities: true, entityDecoder: xmlReferences });

/** Reads the body as JSON or XML (by Content-Type, else by its first character) into string fields. */
export function parseBody(body: string, contentType: string | undefined): Ws1Fields {
  const text = body.trim();
  if (text === '') throw new EventFormatError('empty body; expected a JSON or XML event');
  const isXml = contentType ? /xml/i.test(contentType) : text.startsWith('<');
  let record: unknown;
  if (isXml) {
    try {
      const doc = xml.parse(text, true) as Record<string, unknown>;
      record = doc.Eventlog ?? doc.EventLog;
    } catch (err) {
      throw new EventFormatError(`malformed XML: ${(err as Error).message.split('\n')[0]}`);
    }
    if (!record || typeof record !== 'object') throw new EventFormatError('expected an XML document with root element <Eventlog>');
  } else {
    try {
      record = JSON.parse(text);
    } catch (err) {
      throw new EventFormatError(`malformed JSON: ${(err as Error).message}`);
    }
    if (!record || typeof record !== 'object' || Array.isArray(record)) throw new EventFormatError('expected a JSON object');
  }
  const fields: Ws1Fields = {};
  for (const [k, v] of Object.entries(record as Record<string, unknown>)) {
    if (v === null || v === undefined) continue;
    if (typeof v === 'object') throw new EventFormatError(`field ${k} must be a plain value`);
    fields[k] = String(v).trim();
  }
  return fields;
}

/** ISO-8601 (up to 7 fractional digits) or the older "/Date(1368076195887)/". */
export function parseEventTime(value: string | undefined): Date {
  if (!value) throw new EventFormatError('EventTime is missing');
  const legacy = /^\/Date\((-?\d+)([+-]\d{4})?\)\/$/.exec(value);
  const date = legacy ? new Date(Number(legacy[1])) : /^\d{4}-\d{2}-\d{2}T/.test(value) ? new Date(value) : new Date(NaN);
  if (Number.isNaN(date.getTime())) throw new EventFormatError(`EventTime ${JSON.stringify(value)} is not an ISO-8601 or /Date(ms)/ time`);
  return date;
}

export function eventType(fields: Ws1Fields): MdmEvent['type'] {
  const byId = fields.EventId ? BY_ID[fields.EventId] : undefined;
  if (byId) return byId;
  const name = (fields.EventType ?? '').replace(/\s+/g, '').toLowerCase();
  return BY_NAME[name] ?? 'unknown';
}

const present = (v: string | undefined) => (v === undefined || v === '' ? undefined : v);

/** The fields that become the event's type, user and device. */
const RULES: Record<string, TextRule> = {
  EventType: FIELD.eventType,
  DeviceUUID: FIELD.deviceId,
  DeviceId: FIELD.deviceId,
  EnrollmentUserUUID: FIELD.userId,
  EnrollmentUserId: FIELD.vendorUserId,
  EnrollmentUserName: FIELD.userName,
  EnrollmentEmailAddress: FIELD.email,
  DeviceFriendlyName: FIELD.deviceName,
  SerialNumber: FIELD.serialNumber,
  Udid: FIELD.udid,
  Platform: FIELD.platform,
};
const DEVICE_IDS = new Set(['DeviceUUID', 'DeviceId']);

/**
 * The fields an event may use (src/connectors/field-text.ts). An event that
 * is refused for a failing field is refused whole (EventFormatError naming
 * it), except a departure: it keeps its device id, which must pass, and
 * loses the failing fields, so a user who gives a device a name that fails
 * cannot keep its certificates valid after it leaves.
 */
export function screenFields(fields: Ws1Fields): { fields: Ws1Fields; dropped: FieldProblem[] } {
  const problems = fieldProblems(Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== '')), RULES);
  if (problems.length === 0) return { fields, dropped: [] };
  const type = eventType(fields);
  const refused = problems.find((p) => (type !== 'unenrolled' && type !== 'wiped') || DEVICE_IDS.has(p.field));
  if (refused) throw new EventFormatError(`${refused.field}: ${refused.problem}`);
  const dropped = new Set(problems.map((p) => p.field));
  return { fields: Object.fromEntries(Object.entries(fields).filter(([k]) => !dropped.has(k))), dropped: problems };
}

export function toMdmEvent(connectorId: string, fields: Ws1Fields): MdmEvent {
  if (!fields.EventId && !fields.EventType) throw new EventFormatError('neither EventId nor EventType is present');
  if (fields.EventId && !/^\d+$/.test(fields.EventId)) throw new EventFormatError(`EventId must be an integer, got ${JSON.stringify(fields.EventId)}`);
  const type = eventType(fields);
  const deviceId = present(fields.DeviceUUID) ?? present(fields.DeviceId);
  if (!deviceId && type !== 'unknown') throw new EventFormatError('DeviceUUID and DeviceId are both missing');
  const occurredAt = parseEventTime(fields.EventTime);
  const user = {
    id: present(fields.EnrollmentUserUUID) ?? present(fields.EnrollmentUserId),
    vendorId: present(fields.EnrollmentUserId),
    userName: present(fields.EnrollmentUserName),
    email: present(fields.EnrollmentEmailAddress),
  };
  return {
    connectorId,
    type,
    vendorType: fields.EventType ?? `EventId ${fields.EventId}`,
    user: Object.fromEntries(Object.entries(user).filter(([, v]) => v !== undefined)),
    device: Object.fromEntries(
      Object.entries({
        id: deviceId ?? '',
        serialNumber: present(fields.SerialNumber),
        udid: present(fields.Udid),
        platform: present(fields.Platform),
        name: present(fields.DeviceFriendlyName),
      }).filter(([, v]) => v !== undefined),
    ) as MdmEvent['device'],
    occurredAt,
    dedupeKey: `${fields.EventId ?? fields.EventType}:${deviceId ?? '-'}:${fields.EventTime}`,
  };
}
