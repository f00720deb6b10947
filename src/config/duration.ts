/** Converts a validated duration string ("500ms", "30s", "5m", "1h", "7d") to milliseconds. */
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

export function durationMs(value: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(value);
  if (!m) throw new Error(`not a duration: ${JSON.stringify(value)}`);
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

/** Converts a validated size ("512kb", "1mb") to bytes. */
export function sizeBytes(value: string): number {
  const m = /^(\d+)(b|kb|mb)$/i.exec(value);
  if (!m) throw new Error(`not a size: ${JSON.stringify(value)}`);
  const unit = m[2]!.toLowerCase();
  return Number(m[1]) * (unit === 'mb' ? 1024 * 1024 : unit === 'kb' ? 1024 : 1);
}
