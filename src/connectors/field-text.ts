/**
 * The check every vendor field passes before it may reach a certificate
 * name, a delivery or the store. MDM consoles pass on what they hold, and
 * users can edit much of it (a device's name, a display name). Text with a
 * character no name may carry (../util/unsafe-text.ts) is refused, never
 * repaired, and the refusal names the field and the character but never
 * repeats the value.
 */
import { z } from 'zod';
import { EMAIL_ADDRESS } from '../util/email-address.js';
import { unsafeCharacter } from '../util/unsafe-text.js';
import type { MdmEvent, MdmUser } from './connector.js';

export interface TextRule {
  /** How the field is named in a refusal. */
  what: string;
  /** In UTF-16 code units, which never undercounts the characters a column holds. */
  max: number;
  email?: boolean;
}

const EMAIL = z.email({ pattern: EMAIL_ADDRESS });

/** Why `value` may not be used as this field, or undefined when it may. */
export function textProblem(value: unknown, rule: TextRule): string | undefined {
  if (typeof value !== 'string') return `${rule.what} is not text`;
  if (value.length > rule.max) return `${rule.what} is ${value.length} characters long; at most ${rule.max} are accepted`;
  const bad = unsafeCharacter(value);
  if (bad) return `${rule.what} has ${bad.description}`;
  if (rule.email && !EMAIL.safeParse(value).success) return `${rule.what} is not an address of the form name@domain.example`;
  return undefined;
}

/** Longest device and user id the store keeps (its columns' width). */
export const MAX_DEVICE_ID = 191;
export const MAX_USER_ID = 191;

/**
 * The fields of a normalized event. Limits are the store's where it has one
 * (ids, the event type), else those of the people directory
 * (src/identity/directory.ts) and RFC 5321 §4.5.3.1.3 for addresses.
 */
export const FIELD = {
  userId: { what: 'user id', max: MAX_USER_ID },
  vendorUserId: { what: 'vendor user id', max: MAX_USER_ID },
  userName: { what: 'user name', max: 191 },
  displayName: { what: 'display name', max: 256 },
  email: { what: 'email address', max: 254, email: true },
  upn: { what: 'user principal name', max: 256 },
  deviceId: { what: 'device id', max: MAX_DEVICE_ID },
  serialNumber: { what: 'serial number', max: 64 },
  udid: { what: 'device UDID', max: 128 },
  platform: { what: 'platform', max: 64 },
  model: { what: 'device model', max: 128 },
  deviceName: { what: 'device name', max: 256 },
  eventType: { what: 'event type', max: 128 },
} satisfies Record<string, TextRule>;

const USER: Record<keyof MdmUser, TextRule> = {
  id: FIELD.userId,
  vendorId: FIELD.vendorUserId,
  userName: FIELD.userName,
  displayName: FIELD.displayName,
  email: FIELD.email,
  upn: FIELD.upn,
};

const DEVICE: Record<keyof MdmEvent['device'], TextRule> = {
  id: FIELD.deviceId,
  serialNumber: FIELD.serialNumber,
  udid: FIELD.udid,
  platform: FIELD.platform,
  model: FIELD.model,
  name: FIELD.deviceName,
};

export interface FieldProblem {
  field: string;
  problem: string;
}

/** Every field of `values` that fails its rule; fields without a rule, and absent (undefined or null) ones, are not looked at. */
export function fieldProblems(values: Record<string, unknown>, rules: Record<string, TextRule>): FieldProblem[] {
  const out: FieldProblem[] = [];
  for (const [field, value] of Object.entries(values)) {
    const rule = rules[field];
    if (!rule || value === undefined || value === null) continue;
    const problem = textProblem(value, rule);
    if (problem) out.push({ field, problem });
  }
  return out;
}

/** Every key of `values` gets a rule: a template may name any attribute ({{user.x}}), so none passes unchecked. */
const everyKey = (values: object, known: Record<string, TextRule>): Record<string, TextRule> =>
  Object.fromEntries(Object.keys(values).map((k) => [k, known[k] ?? { what: k, max: 256 }]));

/** The first problem of a user's fields (from an event or a vendor lookup). */
export const userProblem = (user: MdmUser): string | undefined => fieldProblems({ ...user }, everyKey(user, USER))[0]?.problem;

/** The first problem of a normalized event's user, device and event type. */
export function eventProblem(event: MdmEvent): string | undefined {
  return (
    userProblem(event.user) ?? fieldProblems({ ...event.device }, everyKey(event.device, DEVICE))[0]?.problem ?? textProblem(event.vendorType, FIELD.eventType)
  );
}
