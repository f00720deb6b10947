/** Files named in the connector YAML, read at start-up so a wrong path names its setting. */
import { readFileSync } from 'node:fs';
import { readCertificateSetting, readPkcs12File } from '../pki/certificate-files.js';

export function readSetting(file: string, setting: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`${setting}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** A CA bundle (PEM) for outbound TLS: TLS would take a file without certificates silently and then trust nothing. */
export function readCaSetting(file: string, setting: string): Buffer {
  return Buffer.from(readCertificateSetting(file, setting));
}

/** A PKCS#12 client identity, checked to open with its password now rather than at the first connection. */
export function readPkcs12Setting(file: string, password: string, setting: string): Buffer {
  try {
    return readPkcs12File(file, password);
  } catch (err) {
    throw new Error(`${setting}: ${(err as Error).message}`);
  }
}

/** An unusable file, at the key path of the setting that names it. */
export interface FileProblem {
  path: (string | number)[];
  message: string;
}

/**
 * Runs each read, collecting the errors: every unusable file of a connector
 * at once. A read that has nothing to do (an optional setting left out)
 * returns undefined.
 */
export function fileProblems(reads: [path: (string | number)[], read: () => unknown][]): FileProblem[] {
  return reads.flatMap(([path, read]) => {
    try {
      read();
      return [];
    } catch (err) {
      return [{ path, message: (err as Error).message }];
    }
  });
}
