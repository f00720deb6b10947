/**
 * Pre-generated keys, so issuing a server-generated credential does not wait
 * for RSA key generation (~7/s per core for 2048 bits). Keys are wrapped
 * under the master key in the database and refilled in the background on
 * OpenSSL's thread pool; when the pool is empty, a key is generated on demand.
 */
import { createPublicKey } from 'node:crypto';
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import type { KeyPoolRepository } from '../store/key-store.js';
import { generateKey, type KeyAlgorithm, type KeyPair } from './keys.js';
import { unwrapKey, wrapKey, type MasterKey } from './key-wrap.js';

const context = (algorithm: string) => `key-pool:${algorithm}`;

export class KeyPool {
  private readonly refilling = new Map<KeyAlgorithm, Promise<void>>();
  private stopped = false;

  constructor(
    private readonly repo: KeyPoolRepository,
    private readonly master: MasterKey,
    /** Keys to keep ready per algorithm; algorithms not listed are never pooled. */
    private readonly targets: Partial<Record<KeyAlgorithm, number>>,
    private readonly log: Logger,
    // Keygen saturates a core per key; leaving one core free keeps issuance from the pool fast while it refills.
    private readonly parallel = Math.max(1, availableParallelism() - 1),
  ) {}

  /** A fresh key pair: from the pool when one is ready, else generated now. */
  async acquire(algorithm: KeyAlgorithm): Promise<KeyPair & { pooled: boolean }> {
    const target = this.targets[algorithm] ?? 0;
    if (target > 0) {
      const row = await this.repo.take(algorithm);
      this.refill(algorithm);
      if (row) {
        const privateKey = unwrapKey(this.master, row.kekId, row.wrapped, context(algorithm));
        return { privateKey, publicKey: createPublicKey(privateKey), pooled: true };
      }
    }
    return { ...(await generateKey(algorithm)), pooled: false };
  }

  /** Starts topping up every pooled algorithm. */
  start(): void {
    for (const algorithm of Object.keys(this.targets) as KeyAlgorithm[]) this.refill(algorithm);
  }

  stop(): void {
    this.stopped = true;
  }

  /** Resolves when every refill in progress has finished (tests, benchmarks, shutdown). */
  async idle(): Promise<void> {
    while (this.refilling.size > 0) await Promise.allSettled([...this.refilling.values()]);
  }

  private refill(algorithm: KeyAlgorithm): void {
    if (this.stopped || this.refilling.has(algorithm) || !(this.targets[algorithm] ?? 0)) return;
    const run = this.fill(algorithm)
      .catch((err: unknown) => this.log.error({ err, algorithm }, 'key pool refill failed'))
      .finally(() => this.refilling.delete(algorithm));
    this.refilling.set(algorithm, run);
  }

  private async fill(algorithm: KeyAlgorithm): Promise<void> {
    const target = this.targets[algorithm] ?? 0;
    for (;;) {
      const missing = target - (await this.repo.count(algorithm));
      if (missing <= 0 || this.stopped) return;
      const batch = Math.min(missing, this.parallel);
      await Promise.all(
        Array.from({ length: batch }, async () => {
          const { privateKey } = await generateKey(algorithm);
          await this.repo.add(algorithm, { kekId: this.master.id, wrapped: wrapKey(this.master, privateKey, context(algorithm)) });
        }),
      );
    }
  }
}
