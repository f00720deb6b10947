/**
 * SQLite WAL checkpoints on a worker thread. By default the connection that
 * commits also checkpoints every 1000 pages, copying them into the database
 * file and fsyncing it on the event loop: about half the time of a small
 * commit, and a stall of every request behind it. The gateway's connection
 * turns that off and a second connection on a worker thread checkpoints
 * PASSIVE (never blocking the writer) every `everyMs`.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

// CommonJS run by the worker; the driver path is resolved here so the worker needs no module resolution of its own.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.filename, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
const checkpoint = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (err) {
    parentPort.postMessage({ error: String((err && err.message) || err) });
  }
};
const timer = setInterval(checkpoint, workerData.everyMs);
parentPort.on('message', () => {
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.close();
});
`;

export interface WalCheckpointer {
  /** A last checkpoint, then the worker ends. */
  stop(): Promise<void>;
}

export function startWalCheckpointer(filename: string, opts: { everyMs?: number; onError?: (message: string) => void } = {}): WalCheckpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER, { eval: true, workerData: { driver, filename, everyMs: opts.everyMs ?? 500 } });
  worker.on('message', (m: { error?: string }) => m.error && opts.onError?.(m.error));
  worker.on('error', (err) => opts.onError?.(err.message));
  worker.unref();
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  return {
    stop() {
      worker.postMessage('stop');
      return exited;
    },
  };
}
