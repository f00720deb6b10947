/**
 * Makes sure the master key and the TLS identity exist before serving. When
 * the TLS paths are the dev PKI's own, a missing PKI is generated; paths an
 * operator configured elsewhere must exist.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { X509Certificate, type KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { readCertificateFile, readCertificateSetting } from '../pki/certificate-files.js';
import { devPkiFiles, ensureDevPki } from '../pki/dev-pki.js';
import { readKeyFile } from '../pki/key-files.js';
import { createMasterKeyFile, MasterKeyError, masterKeyPath, resolveMasterKey } from '../pki/master-key.js';
import { StartupError } from './errors.js';

export interface TlsIdentity {
  certChainPem: string;
  key: KeyObject;
  clientCaPem: string[];
}

export function loadMasterKey(config: Config, opts: { create: boolean }): Buffer {
  try {
    const existing = resolveMasterKey({ configured: config.pki.masterKey, pkiDir: config.pki.dir });
    if (existing) return existing;
  } catch (err) {
    if (err instanceof MasterKeyError) throw new StartupError(err.message);
    throw err;
  }
  if (!opts.create) {
    throw new StartupError(`no master key: set pki.masterKey or CREDGATE_MASTER_KEY, or run \`credgate init\` to write ${masterKeyPath(config.pki.dir)}`);
  }
  // A new key would not open the keys already there, and would take the place of the one that does.
  const orphaned = masterKeyMismatch(config, undefined);
  if (orphaned) throw new StartupError(orphaned);
  try {
    return createMasterKeyFile(config.pki.dir);
  } catch (err) {
    throw notWritten(err, config.pki.dir);
  }
}

/** A file of pki.dir that could not be written (a directory in the way, no permission, a read-only disk) is the operator's to fix. */
function notWritten(err: unknown, dir: string): Error {
  const e = err as NodeJS.ErrnoException;
  if (e.code === undefined || e.path === undefined) return err as Error;
  return new StartupError(`pki.dir: cannot write ${e.path} (${e.code}); make ${dir} a directory this user can write, or set pki.dir`);
}

/**
 * Whether the master key start-up would use opens the dev PKI's keys: one
 * line for a master key file that went missing or a key from elsewhere,
 * rather than one per key file. `masterKey` is undefined while there is none
 * (start-up would write a new one).
 */
export function masterKeyMismatch(config: Config, masterKey: Buffer | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const f = devPkiFiles(config.pki.dir);
  // A key file that cannot be read at all is reported by the check of its own setting.
  const encrypted = (p: string) => {
    try {
      return readFileSync(p).includes('ENCRYPTED');
    } catch {
      return false;
    }
  };
  const sample = [f.issuingKey, f.rootKey, f.serverKey, f.scepRaKey, f.otaSigningKey, f.contentSigningKey].find((p) => existsSync(p) && encrypted(p));
  if (sample === undefined) return undefined;
  try {
    readKeyFile(sample, masterKey);
    return undefined;
  } catch {
    const file = masterKeyPath(config.pki.dir);
    if (masterKey === undefined)
      return `${file} is missing, and the keys in ${config.pki.dir}/ are encrypted under the master key it held; restore it, or set CREDGATE_MASTER_KEY to that key`;
    const source = config.pki.masterKey ? 'pki.masterKey' : env.CREDGATE_MASTER_KEY ? 'CREDGATE_MASTER_KEY' : file;
    return `the master key of ${source} does not open the keys in ${config.pki.dir}/ (${sample} and the others of the dev PKI), which were written under another; use the key they were written with`;
  }
}

/** Whether the gateway writes the dev PKI's missing files: while server.tls names its files. */
export const usesDevPki = (config: Config) => {
  const f = devPkiFiles(config.pki.dir);
  return resolve(config.server.tls.cert) === resolve(f.serverCert) && resolve(config.server.tls.key) === resolve(f.serverKey);
};

/** Returns the dev PKI files this call generated (none when they all existed, or the PKI is the operator's). */
export async function ensurePki(config: Config, masterKey: Buffer, log: Logger): Promise<string[]> {
  if (!usesDevPki(config)) return [];
  let created: string[];
  try {
    ({ created } = await ensureDevPki({ dir: config.pki.dir, masterKey, ...config.pki.devPki }));
  } catch (err) {
    // A key of the dev PKI that does not open (another master key) is named by readKeyFile.
    const e = notWritten(err, config.pki.dir);
    throw e instanceof StartupError || !(e instanceof Error) ? e : new StartupError(`pki.dir: ${e.message}`);
  }
  if (created.length > 0) log.info({ files: created }, 'generated development PKI');
  return created;
}

/** The server certificate chain and the key that belongs to its first certificate. */
export function loadServerIdentity(config: Config, masterKey: Buffer | undefined): Omit<TlsIdentity, 'clientCaPem'> {
  const { cert, key } = config.server.tls;
  let first: Buffer;
  let privateKey: KeyObject;
  try {
    first = readCertificateFile(cert)[0]!;
  } catch (err) {
    throw new StartupError(`server.tls.cert: ${(err as Error).message}`);
  }
  try {
    privateKey = readKeyFile(key, masterKey);
  } catch (err) {
    throw new StartupError(`server.tls.key: ${(err as Error).message}`);
  }
  if (!new X509Certificate(first).checkPrivateKey(privateKey))
    throw new StartupError(`server.tls.key: ${key} is not the key of the first certificate in ${cert}`);
  return { certChainPem: readFileSync(cert, 'utf8'), key: privateKey };
}

/** The PEM of one CA file of auth.clientCertificates.trust, which must hold certificates that parse. */
export function readClientTrust(config: Config, i: number): string {
  try {
    return readCertificateSetting(config.auth.clientCertificates.trust[i]!, `auth.clientCertificates.trust[${i}]`);
  } catch (err) {
    throw new StartupError((err as Error).message);
  }
}

export function loadTlsIdentity(config: Config, masterKey: Buffer): TlsIdentity {
  return { ...loadServerIdentity(config, masterKey), clientCaPem: config.auth.clientCertificates.trust.map((_, i) => readClientTrust(config, i)) };
}
