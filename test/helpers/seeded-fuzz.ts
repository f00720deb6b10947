/**
 * Seeded randomness and byte mutations for fuzz tests: a run is replayed by
 * giving its seed again, so a failure found once can be found every time.
 */

/** mulberry32: a small seeded generator of numbers in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed from `variable` when set (to replay a run), else `fallback`. */
export function seedFrom(variable: string, fallback: number): number {
  const given = process.env[variable];
  if (given === undefined || given === '') return fallback;
  const n = Number(given);
  if (!Number.isSafeInteger(n)) throw new Error(`${variable} must be an integer, got ${JSON.stringify(given)}`);
  return n;
}

export const pick = <T>(r: () => number, items: readonly T[]): T => items[Math.floor(r() * items.length)]!;

export const randomBytesFrom = (r: () => number, n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256)));

/** One random change to DER-ish bytes: flipped bytes, a cut, an insertion, a nudged length, a repeated run. */
export function mutateBytes(der: Buffer, r: () => number): Buffer {
  const out = Buffer.from(der);
  const at = () => Math.floor(r() * out.length);
  switch (Math.floor(r() * 5)) {
    case 0: {
      for (let n = 1 + Math.floor(r() * 8); n > 0; n--) out[at()] = Math.floor(r() * 256);
      return out;
    }
    case 1:
      return out.subarray(0, at());
    case 2: {
      const i = at();
      return Buffer.concat([out.subarray(0, i), Buffer.from(Array.from({ length: 1 + Math.floor(r() * 16) }, () => Math.floor(r() * 256))), out.subarray(i)]);
    }
    case 3: {
      // Lengths are where parsers break: nudge a byte that follows a common tag.
      const tags = [...out.keys()].filter((i) => [0x30, 0x31, 0x04, 0xa0, 0x02, 0x06].includes(out[i]!) && i + 1 < out.length);
      const i = tags[Math.floor(r() * tags.length)]! + 1;
      out[i] = [0x80, 0x81, 0x84, 0xff, 0x00, out[i]! + 1, out[i]! - 1][Math.floor(r() * 7)]! & 0xff;
      return out;
    }
    default: {
      const i = at();
      const j = Math.min(out.length, i + Math.floor(r() * 64));
      return Buffer.concat([out.subarray(0, j), out.subarray(i, j), out.subarray(j)]);
    }
  }
}
