/**
 * Makes sure the master key and the TLS identity exist before serving. When
 * the TLS paths are the dev PKI's own, a missing PKI is generated; paths an
 * operator configured elsewhere must exist.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
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
  return createMasterKeyFile(config.pki.dir);
}

/** The TLS identity is the dev PKI's own (as shipped), so the dev PKI is generated when missing. */
export const usesDevPki = (config: Config) => {
  const f = devPkiFiles(config.pki.dir);
  return resolve(config.server.tls.cert) === resolve(f.serverCert) && resolve(config.server.tls.key) === resolve(f.serverKey);
};

/** Returns the dev PKI files this call generated (none when they all existed, or the PKI is the operator's). */
export async function ensurePki(config: Config, masterKey: Buffer, log: Logger): Promise<string[]> {
  if (!usesDevPki(config)) return [];
  const { created } = await ensureDevPki({ dir: config.pki.dir, masterKey, ...config.pki.devPki });
  if (created.length > 0) log.info({ files: created }, 'generated development PKI');
  return created;
}

export function loadTlsIdentity(config: Config, masterKey: Buffer): TlsIdentity {
  const { cert, key } = config.server.tls;
  for (const [name, path] of [
    ['server.tls.cert', cert],
    ['server.tls.key', key],
    ...config.auth.clientCertificates.trust.map((p, i) => [`auth.clientCertificates.trust[${i}]`, p] as const),
  ] as const) {
    if (!existsSync(path)) throw new StartupError(`${name}: ${path} does not exist; fix the path or run \`credgate init\` for a dev PKI`);
  }
  try {
    return {
      certChainPem: readFileSync(cert, 'utf8'),
      key: readKeyFile(key, masterKey),
      clientCaPem: config.auth.clientCertificates.trust.map((p) => readFileSync(p, 'utf8')),
    };
  } catch (err) {
    throw new StartupError((err as Error).message);
  }
}
