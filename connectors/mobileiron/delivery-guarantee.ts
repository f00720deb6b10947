/**
 * What the broker must grant for Event Notification Service messages to
 * arrive at least once (MQTT 3.1.1): QoS 1 on every topic, since a SUBACK
 * return code of 0 makes the subscription at most once and 0x80 refuses it
 * (section 3.9.3); and, with a persistent session, the session still there
 * when the subscriber comes back (CONNACK Session Present, section 3.2.2.2),
 * or what was published meanwhile and what was not yet acknowledged is gone.
 */

/** The QoS every ENS subscription asks for and needs. */
export const REQUIRED_QOS = 1;

/** A topic whose SUBACK return code falls short of REQUIRED_QOS. */
export interface Shortfall {
  topic: string;
  /** The SUBACK return code: a QoS below 1, or 0x80 (refused). */
  code: number;
}

export const isRefusal = (code: number) => (code & 0x80) !== 0;

/** A return code as an operator reads it. */
export const describeGrant = (code: number) => (isRefusal(code) ? `refused (SUBACK 0x${code.toString(16)})` : `QoS ${code}`);

/** The topics, in the order subscribed, that the SUBACK's return codes leave short of QoS 1; a missing code counts as a refusal. */
export function shortfalls(topics: readonly string[], codes: readonly number[]): Shortfall[] {
  return topics.flatMap((topic, i) => {
    const code = codes[i] ?? 0x80;
    return isRefusal(code) || code < REQUIRED_QOS ? [{ topic, code }] : [];
  });
}

/** "device/enrolled: QoS 0, device/wiped: refused (SUBACK 0x80)" */
export const describeShortfalls = (s: readonly Shortfall[]) => s.map((x) => `${x.topic}: ${describeGrant(x.code)}`).join(', ');
