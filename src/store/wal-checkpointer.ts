/**
 * SQLite WAL checkpoints on a worker thread. By default the connection that
 * commits also checkpoints every 1000 pages, copying them into the database
 * file and fsyncing it on the event loop: about half the time of a small
 * commit, and a stall of every request behind it. The gateway's connection
 * turns that off and a second connection on a worker thread checkpoints
 * PASSIVE (never blocking the writer) every `everyMs`.
 *
 * A PASSIVE checkpoint alone does not bound the WAL: SQLite starts the WAL
 * over only when a writer finds every frame already copied, and under a
 * steady stream of commits some frame always arrived during the copy, so
 * the file grows without end (gigabytes in minutes of intake), and every
 * commit extending it costs the kernel fresh zeroed blocks. Once the WAL
 * holds more than `restartFrames` frames, the worker follows its PASSIVE
 * pass with a RESTART: that copies the few frames written meanwhile and
 * holds writers back for that short moment (they wait in their busy
 * handler), after which the next commit starts the WAL from its beginning
 * and overwrites blocks the file already has. `journal_size_limit` trims
 * the file after a burst.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

// CommonJS run by the worker; the driver path is resolved here so the worker needs no module resolution of its own.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.filename, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
db.pragma('journal_size_limit = ' + workerData.journalSizeLimit);
const checkpoint = () => {
  try {
    const [passive] = db.pragma('wal_checkpoint(PASSIVE)');
    if (passive && passive.log > workerData.restartFrames) db.pragma('wal_checkpoint(RESTART)');
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

/** Frames (pages) the WAL may hold before a checkpoint restarts it: 4096 pages of 4 KiB are 16 MiB. */
export const RESTART_FRAMES = 4096;
/** What the WAL file is trimmed back to after a burst. */
export const JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024;

export interface WalCheckpointer {
  /** A last checkpoint, then the worker ends. */
  stop(): Promise<void>;
}

export function startWalCheckpointer(
  filename: string,
  opts: { everyMs?: number; restartFrames?: number; onError?: (message: string) => void } = {},
): WalCheckpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: { driver, filename, everyMs: opts.everyMs ?? 500, restartFrames: opts.restartFrames ?? RESTART_FRAMES, journalSizeLimit: JOURNAL_SIZE_LIMIT },
  });
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
