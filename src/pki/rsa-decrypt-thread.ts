/**
 * RSA private-key decryption on a worker thread.
 *
 * node:crypto signs on libuv's thread pool, but privateDecrypt exists only
 * synchronously. The SCEP RA decrypts one content key per enrollment, so
 * that RSA operation ran on the event loop, and every other request waited
 * behind it; on a worker thread it runs beside them (bench/README.md, SCEP:
 * 20% more enrollments per second, a quarter off p99). The thread starts with
 * the first decryption and holds only this key.
 */
import { constants, type KeyObject } from 'node:crypto';
import { Worker } from 'node:worker_threads';

/** An RSA private key's decryptions, wherever they run (a worker thread here; an HSM could be another). */
export interface RsaDecryptor {
  /** c^d mod n as modulus-length bytes, padding left to the caller (RSA_NO_PADDING). */
  raw(ciphertext: Buffer): Promise<Buffer>;
  /** RSAES-OAEP with SHA-1, as CMS's id-RSAES-OAEP defaults to. */
  oaep(ciphertext: Buffer): Promise<Buffer>;
}

type Padding = 'raw' | 'oaep';
const PADDINGS: Record<Padding, number> = { raw: constants.RSA_NO_PADDING, oaep: constants.RSA_PKCS1_OAEP_PADDING };

// CommonJS run by the worker. Errors travel as messages only: what OpenSSL says about a bad ciphertext stays here.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { privateDecrypt } = require('node:crypto');
parentPort.on('message', ({ id, ciphertext, padding }) => {
  try {
    const plain = privateDecrypt({ key: workerData.key, padding }, ciphertext);
    parentPort.postMessage({ id, plain });
  } catch {
    parentPort.postMessage({ id });
  }
});
`;

/** Refused ciphertext (not for this key, wrong length, bad OAEP padding); deliberately says nothing more. */
export class RsaDecryptError extends Error {
  constructor() {
    super('RSA decryption failed');
    this.name = 'RsaDecryptError';
  }
}

interface Pending {
  resolve(plain: Buffer): void;
  reject(err: Error): void;
}

export class RsaDecryptThread implements RsaDecryptor {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;

  constructor(private readonly key: KeyObject) {
    if (key.type !== 'private' || key.asymmetricKeyType !== 'rsa') throw new Error('RsaDecryptThread needs an RSA private key');
  }

  raw(ciphertext: Buffer): Promise<Buffer> {
    return this.run(ciphertext, 'raw');
  }

  oaep(ciphertext: Buffer): Promise<Buffer> {
    return this.run(ciphertext, 'oaep');
  }

  /** Ends the thread; decryptions still waiting fail. A later decryption starts a new one. */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
    this.failAll(new Error('the RSA decryption thread was closed'));
  }

  private run(ciphertext: Buffer, padding: Padding): Promise<Buffer> {
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    // Held while decryptions wait, so the process waits for them; let go when idle.
    if (this.pending.size === 0) worker.ref();
    return new Promise<Buffer>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, ciphertext, padding: PADDINGS[padding] });
    });
  }

  private start(): Worker {
    const worker = new Worker(WORKER, { eval: true, workerData: { key: this.key } });
    worker.on('message', ({ id, plain }: { id: number; plain?: Uint8Array }) => {
      const waiting = this.pending.get(id);
      this.pending.delete(id);
      if (this.pending.size === 0) worker.unref();
      if (plain) waiting?.resolve(Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength));
      else waiting?.reject(new RsaDecryptError());
    });
    // A thread that dies takes its waiting decryptions with it; the next call starts another.
    const lost = (err: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.failAll(err);
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`the RSA decryption thread exited with code ${code}`)));
    // An idle thread must not keep the process alive (unref after the listeners, which ref it again).
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private failAll(err: Error): void {
    for (const waiting of this.pending.values()) waiting.reject(err);
    this.pending.clear();
  }
}
