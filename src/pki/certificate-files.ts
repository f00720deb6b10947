/**
 * Files that settings name (trust anchors, chains, CA bundles, PKCS#12
 * client identities), read with messages that name the file and say what is
 * wrong with it, so that start-up and `credgate config check` refuse a file
 * TLS would otherwise take without a word (Node ignores a CA bundle that
 * holds no certificate).
 */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { pemCertificates } from './ca.js';

/** The file's bytes; a missing or unreadable file is named with the system's code (ENOENT, EACCES...). */
export function readNamedFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** The DER of every certificate in a PEM file; one at least, each of which parses. */
export function readCertificateFile(path: string): Buffer[] {
  const text = readNamedFile(path).toString('utf8');
  let certs: Buffer[];
  try {
    certs = pemCertificates(text);
  } catch (err) {
    throw new Error(`${path}: a certificate in it does not parse (${(err as Error).message.split('\n')[0]})`);
  }
  if (certs.length === 0) throw new Error(`${path} holds no PEM certificate`);
  return certs;
}

/** A PEM bundle a setting names, as text, once it is known to hold certificates that parse; errors begin with the setting. */
export function readCertificateSetting(path: string, setting: string): string {
  try {
    readCertificateFile(path);
  } catch (err) {
    throw new Error(`${setting}: ${(err as Error).message}`);
  }
  return readFileSync(path, 'utf8');
}

/** A PKCS#12 file that opens with its password, as a TLS client identity would use it. */
export function readPkcs12File(path: string, password: string): Buffer {
  const pfx = readNamedFile(path);
  try {
    createSecureContext({ pfx, passphrase: password });
  } catch {
    // OpenSSL's reason (mac verify failure, unsupported algorithm...) is not needed to fix it, and never the password.
    throw new Error(`${path} is not a PKCS#12 file that opens with its password`);
  }
  return pfx;
}
