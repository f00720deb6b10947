/**
 * The master key wraps private keys at rest. Resolution order: config
 * (pki.masterKey), CREDGATE_MASTER_KEY, then <pki.dir>/master.key as
 * written by `credgate init` (mode 0600).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSecretFile } from './files.js';

const HEX_KEY = /^[0-9a-fA-F]{64}$/;

export class MasterKeyError extends Error {}

export function masterKeyPath(pkiDir: string): string {
  return join(pkiDir, 'master.key');
}

export function resolveMasterKey(opts: { configured?: string | undefined; pkiDir: string; env?: NodeJS.ProcessEnv }): Buffer | undefined {
  const env = opts.env ?? process.env;
  if (opts.configured) return Buffer.from(opts.configured, 'hex');
  const fromEnv = env.CREDGATE_MASTER_KEY;
  if (fromEnv) {
    if (!HEX_KEY.test(fromEnv.trim())) throw new MasterKeyError('CREDGATE_MASTER_KEY must be 64 hex digits (a 256-bit key)');
    return Buffer.from(fromEnv.trim(), 'hex');
  }
  const path = masterKeyPath(opts.pkiDir);
  if (!existsSync(path)) return undefined;
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new MasterKeyError(`cannot read the master key file ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (!HEX_KEY.test(text)) throw new MasterKeyError(`${path} must hold 64 hex digits (a 256-bit key)`);
  return Buffer.from(text, 'hex');
}

/** Writes a new random master key file; refuses to overwrite one. */
export function createMasterKeyFile(pkiDir: string): Buffer {
  const key = randomBytes(32);
  writeSecretFile(masterKeyPath(pkiDir), `${key.toString('hex')}\n`, { overwrite: false });
  return key;
}
