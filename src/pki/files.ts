/** Files holding secrets are created with mode 0600, in a directory created 0700, and never silently replaced. */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export function writeSecretFile(path: string, data: string | Buffer, opts: { overwrite: boolean }): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, data, { mode: 0o600, flag: opts.overwrite ? 'w' : 'wx' });
  chmodSync(path, 0o600); // the umask may have narrowed it further; never wider
}

export function writePublicFile(path: string, data: string | Buffer): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data, { mode: 0o644 });
}
