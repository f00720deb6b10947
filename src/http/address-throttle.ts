/**
 * Slows guessing by source address: an address that fails too often within
 * a window is refused (429) until the window ends, before its secret is even
 * compared. HTTP Basic logins (basic.ts) and Identity Agent session starts
 * (routes/mobile-agent.ts) each keep one. Counted per instance: behind a load
 * balancer each gateway keeps its own.
 */
export class AddressThrottle {
  private readonly failures = new Map<string, { count: number; since: number }>();

  constructor(
    private readonly limit = 20,
    private readonly windowMs = 60_000,
    /** Addresses tracked at most; the oldest go first (a spread-out guesser cannot exhaust memory). */
    private readonly capacity = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds until `address` may try again; 0 when it may now. */
  retryAfter(address: string): number {
    const f = this.failures.get(address);
    if (!f) return 0;
    const left = f.since + this.windowMs - this.now();
    if (left <= 0) {
      this.failures.delete(address);
      return 0;
    }
    return f.count >= this.limit ? Math.ceil(left / 1000) : 0;
  }

  /** Counts a failure; true when this one used up the address's allowance. */
  fail(address: string): boolean {
    const t = this.now();
    const f = this.failures.get(address);
    if (!f || t - f.since >= this.windowMs) {
      this.failures.delete(address);
      this.failures.set(address, { count: 1, since: t });
      if (this.failures.size > this.capacity) this.failures.delete(this.failures.keys().next().value!);
      return this.limit <= 1;
    }
    f.count += 1;
    return f.count === this.limit;
  }
}
