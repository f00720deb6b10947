/**
 * Event Notification Service messages to normalized MdmEvents. One message
 * names one event type and carries one or more devices; each device becomes
 * its own event, deduplicated by (device, event type, message timestamp) so
 * a redelivered message changes nothing.
 */
import { z } from 'zod';
import type { MdmEvent, MdmUser } from '../../src/connectors/connector.js';
import { FIELD, fieldProblems, type FieldProblem, type TextRule } from '../../src/connectors/field-text.js';

export class EnsMessageError extends Error {}

const TYPES: Record<string, MdmEvent['type']> = {
  'device.enrolled': 'enrolled',
  'device.retired': 'unenrolled',
  'device.wiped': 'wiped',
  'device.compliant': 'compliance-changed',
  'device.not_compliant': 'compliance-changed',
};

const text = (max: number) => z.string().trim().max(max);
const optionalText = (max: number) =>
  z
    .union([text(max), z.number().transform(String)])
    .optional()
    .nullable();

const device = z.looseObject({
  // An identifier, never a pattern: it keys events and goes into Core's device search.
  deviceGuid: text(100)
    .min(1, { message: 'deviceGuid is empty' })
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, { message: 'deviceGuid has characters no device id has (letters, digits and . _ : - only)' }),
  identifier: optionalText(200),
  iosUdid: optionalText(100),
  userId: optionalText(191), // the user id columns' width
  userUuid: optionalText(100),
  serialNumber: optionalText(100),
  manufacturer: optionalText(100),
  model: optionalText(100),
  os: optionalText(50),
  osVersion: optionalText(50),
});

const message = z.looseObject({
  timestamp: z.union([z.number().int().nonnegative(), text(64).min(1)]),
  eventType: text(64).min(1).optional(),
  devices: z.array(device).min(1, { message: 'devices is empty' }).max(1000),
});

export type EnsDevice = z.infer<typeof device>;

/** "1700000000000" / 1700000000000 (ms), seconds, or ISO-8601. */
export function parseTimestamp(value: number | string): Date {
  const n = typeof value === 'number' ? value : /^\d+$/.test(value) ? Number(value) : NaN;
  const date = Number.isFinite(n) ? new Date(n < 1e11 ? n * 1000 : n) : /^\d{4}-\d{2}-\d{2}T/.test(String(value)) ? new Date(value) : new Date(NaN);
  if (Number.isNaN(date.getTime())) throw new EnsMessageError(`timestamp ${JSON.stringify(value)} is neither epoch milliseconds nor ISO-8601`);
  return date;
}

/** The event type a topic stands for: `[<tenant>/]device/retired` -> `device.retired`. */
export function typeOfTopic(topic: string): string {
  return topic.split('/').slice(-2).join('.');
}

const present = (v: string | null | undefined) => (v === undefined || v === null || v === '' ? undefined : v);

/** The device fields that become the event's user and device (src/connectors/field-text.ts). */
const RULES: Record<string, TextRule> = {
  identifier: FIELD.deviceName,
  iosUdid: FIELD.udid,
  userId: FIELD.userName,
  userUuid: FIELD.userId,
  serialNumber: FIELD.serialNumber,
  model: FIELD.model,
  os: FIELD.platform,
};
const DEPARTURES = new Set<MdmEvent['type']>(['unenrolled', 'wiped']);

export interface ParsedMessage {
  vendorType: string;
  /** `dropped`: fields a departure was accepted without, because they failed the text check. */
  events: { event: MdmEvent; payload: Record<string, unknown>; dropped: FieldProblem[] }[];
  /**
   * Devices left out for a field that failed the text check, named by its
   * path in the message (devices.<n>.<field>). A departure is never left
   * out for a descriptive field: it goes on without it, so a user who gives
   * a device a name that fails cannot keep its certificates valid after it
   * leaves.
   */
  refused: { deviceGuid: string; field: string; problem: string }[];
}

/** Parses and validates one message; EnsMessageError says what is wrong with it. */
export function parseEnsMessage(connectorId: string, topic: string, body: Buffer): ParsedMessage {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    // JSON.parse quotes the input in its message; the log gets no message content.
    throw new EnsMessageError('malformed JSON');
  }
  const parsed = message.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new EnsMessageError(`${issue.path.join('.') || 'message'}: ${issue.message}`);
  }
  const m = parsed.data;
  // The topic is what the broker's ACL let through: a body claiming another event type is not believed.
  const topicType = typeOfTopic(topic);
  if (m.eventType !== undefined && m.eventType.toLowerCase() !== topicType.toLowerCase()) {
    throw new EnsMessageError(`eventType ${JSON.stringify(m.eventType.slice(0, 64))} does not match topic ${topic}`);
  }
  const vendorType = m.eventType ?? topicType;
  const occurredAt = parseTimestamp(m.timestamp);
  const type = TYPES[vendorType.toLowerCase()] ?? 'unknown';
  const refused: ParsedMessage['refused'] = [];
  const screened = m.devices.flatMap((received, i) => {
    const problems = fieldProblems(received, RULES);
    if (problems.length === 0) return [{ d: received, dropped: problems }];
    if (!DEPARTURES.has(type)) {
      refused.push({ deviceGuid: received.deviceGuid, field: `devices.${i}.${problems[0]!.field}`, problem: problems[0]!.problem });
      return [];
    }
    const failing = new Set(problems.map((p) => p.field));
    const d = Object.fromEntries(Object.entries(received).filter(([k]) => !failing.has(k))) as EnsDevice;
    return [{ d, dropped: problems.map((p) => ({ field: `devices.${i}.${p.field}`, problem: p.problem })) }];
  });
  return {
    vendorType,
    refused,
    events: screened.map(({ d, dropped }) => {
      const userId = present(d.userId);
      const id = present(d.userUuid) ?? userId;
      const user: MdmUser = {
        ...(id && { id }),
        ...(userId && { userName: userId, vendorId: userId }),
      };
      const deviceInfo = Object.fromEntries(
        Object.entries({
          id: d.deviceGuid,
          serialNumber: present(d.serialNumber),
          udid: present(d.iosUdid),
          platform: present(d.os),
          model: present(d.model),
          name: present(d.identifier),
        }).filter(([, v]) => v !== undefined),
      ) as MdmEvent['device'];
      return {
        event: {
          connectorId,
          type,
          vendorType,
          user,
          device: deviceInfo,
          occurredAt,
          dedupeKey: `mobileiron:${d.deviceGuid}:${vendorType}:${String(m.timestamp)}`,
        },
        payload: { topic, timestamp: m.timestamp, eventType: vendorType, device: d },
        dropped,
      };
    }),
  };
}
