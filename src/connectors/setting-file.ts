/** Files named in the connector YAML, read at start-up so a wrong path names its setting. */
import { readFileSync } from 'node:fs';

export function readSetting(file: string, setting: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`${setting}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}
