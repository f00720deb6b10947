/**
 * The files the main configuration names (TLS certificate and key, client
 * trust, CAs, the SCEP RA, the OTA signing identity and device CAs, the
 * content-signing certificates of /mobile/v1, PIV
 * trust, the SMTP server's CA), each read by the loader start-up uses, so
 * that `credgate config check` refuses exactly what `credgate serve` would.
 *
 * On a fresh clone the dev PKI does not exist yet: while the gateway writes
 * it (server.tls names its files), a missing dev PKI file is not a problem
 * but one to be written by `credgate init` or the first start, and a check
 * that needs one waits for it.
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Config } from '../config/schema.js';
import { loadCa } from '../pki/ca.js';
import { devPkiFiles } from '../pki/dev-pki.js';
import { readSmtpCa } from '../notify/email.js';
import type { SettingProblem } from './errors.js';
import { contentSigningFiles, loadContentSigning } from './content-signing.js';
import { caSources } from './issuance.js';
import { readPivTrust } from './derived.js';
import { readCertificates, signingIdentity } from './ota.js';
import { loadServerIdentity, readClientTrust, usesDevPki } from './pki-setup.js';
import { loadRa } from './scep.js';

export interface FileCheck {
  problems: SettingProblem[];
  /** Dev PKI files that are missing and will be written by `credgate init` or the first start. */
  toBeWritten: string[];
}

interface Read {
  /** The key path that names the files, to say where the setting is. */
  path: (string | number)[];
  /** The setting, as messages name it. */
  setting: string;
  /** The files the read needs. */
  files: string[];
  /** Whether it opens a private key, which needs the master key. */
  key: boolean;
  read(): unknown;
}

/**
 * `masterKey`: the key start-up would use, undefined while none exists (the
 * first start writes one), or "unusable" when it cannot be read: private keys
 * are then not opened, as every one would fail for that one reason.
 */
export function configFileProblems(config: Config, masterKey: Buffer | undefined | 'unusable'): FileCheck {
  const { problems, toBeWritten } = readProblems(config, masterKey);
  const writesPki = toBeWritten.length > 0 || masterKey === undefined;
  const sqlite = config.database.client === 'sqlite' && config.database.filename !== ':memory:';
  return {
    problems: [
      ...problems,
      ...(writesPki ? unwritable(config.pki.dir, ['pki', 'dir'], 'pki.dir') : []),
      ...(sqlite ? unwritable(dirname(config.database.filename), ['database', 'filename'], 'database.filename') : []),
    ],
    toBeWritten,
  };
}

/**
 * A directory start-up writes in (the dev PKI and master key, the SQLite
 * database) must be one this user may write, or one it may create: its
 * nearest existing ancestor is then a writable directory.
 */
function unwritable(dir: string, path: (string | number)[], setting: string): SettingProblem[] {
  let at = dir;
  while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
  const problem = (what: string) => [{ path, message: `${setting}: ${what}; start-up writes in ${dir}` }];
  if (!statSync(at).isDirectory()) return problem(`${at} is not a directory`);
  try {
    accessSync(at, constants.W_OK);
    return [];
  } catch (err) {
    return problem(`this user cannot write in ${at} (${(err as NodeJS.ErrnoException).code})`);
  }
}

function readProblems(config: Config, masterKey: Buffer | undefined | 'unusable'): FileCheck {
  const dev = new Set(Object.values(devPkiFiles(config.pki.dir)).map((p) => resolve(p)));
  const writes = usesDevPki(config);
  const missingDev = (files: string[]) => files.filter((f) => dev.has(resolve(f)) && !existsSync(f));
  const toBeWritten = new Set<string>();
  const problems: SettingProblem[] = [];
  const usable = masterKey === 'unusable' ? undefined : masterKey;
  for (const { path, setting, files, key, read } of reads(config, usable)) {
    if (key && masterKey === 'unusable') continue;
    const missing = missingDev(files);
    if (missing.length > 0 && writes) {
      for (const f of missing) toBeWritten.add(f);
      continue;
    }
    if (missing.length > 0) {
      problems.push({
        path,
        message: `${setting}: ${missing.join(' and ')} ${missing.length > 1 ? 'do' : 'does'} not exist, and the dev PKI is written only while server.tls names its files; configure ${setting}`,
      });
      continue;
    }
    try {
      read();
    } catch (err) {
      // The loaders' messages begin with the setting, or with the CA's name (CaLoadError).
      problems.push({ path, message: (err as Error).message });
    }
  }
  return { problems, toBeWritten: [...toBeWritten] };
}

function reads(config: Config, masterKey: Buffer | undefined): Read[] {
  const f = devPkiFiles(config.pki.dir);
  const { tls } = config.server;
  const trust = config.auth.clientCertificates.trust;
  const ra = config.scep.ra ?? { cert: f.scepRaCert, key: f.scepRaKey };
  const signing = config.ota.signing ?? { cert: f.otaSigningCert, key: f.otaSigningKey, chain: [f.issuingCert, f.rootCert] };
  const email = config.notify.email;
  const content = contentSigningFiles(config);
  const previous = config.mobile.contentSigning?.previous;
  return [
    { path: ['server', 'tls'], setting: 'server.tls', files: [tls.cert, tls.key], key: true, read: () => loadServerIdentity(config, masterKey) },
    ...trust.map((p, i) => ({
      path: ['auth', 'clientCertificates', 'trust', i],
      setting: `auth.clientCertificates.trust[${i}]`,
      files: [p],
      key: false,
      read: () => readClientTrust(config, i),
    })),
    ...Object.entries(caSources(config)).map(([name, source]) => ({
      path: config.pki.cas ? ['pki', 'cas', name] : ['pki', 'dir'],
      setting: config.pki.cas ? `pki.cas.${name}` : 'pki.cas',
      files: [...(source.pkcs12 ? [source.pkcs12] : [source.cert!, source.key!]), ...source.chain],
      key: !source.pkcs12,
      read: () => loadCa(name, source, masterKey),
    })),
    // A setting left out defaults to a file of the dev PKI: pki.dir is then where it is set.
    { path: config.scep.ra ? ['scep', 'ra'] : ['pki', 'dir'], setting: 'scep.ra', files: [ra.cert, ra.key], key: true, read: () => loadRa(config, masterKey) },
    ...(config.ota.enabled
      ? [
          {
            path: config.ota.signing ? ['ota', 'signing'] : ['pki', 'dir'],
            setting: 'ota.signing',
            files: [signing.cert, signing.key, ...signing.chain],
            key: true,
            read: () => signingIdentity(config, masterKey),
          },
          ...config.ota.deviceCa.map((p, i) => ({
            path: ['ota', 'deviceCa', i],
            setting: `ota.deviceCa[${i}]`,
            files: [p],
            key: false,
            read: () => readCertificates(`ota.deviceCa[${i}]`, [p]),
          })),
        ]
      : []),
    ...(config.mobile.enabled
      ? [
          {
            path: config.mobile.contentSigning ? ['mobile', 'contentSigning'] : ['pki', 'dir'],
            setting: 'mobile.contentSigning',
            files: [content.cert, content.key, ...content.chain, ...(previous ? [previous.cert, previous.key, ...previous.chain] : [])],
            key: true,
            read: () => loadContentSigning(config, masterKey),
          },
        ]
      : []),
    ...config.derivedCredentials.pivTrust.map((p, i) => ({
      path: ['derivedCredentials', 'pivTrust', i],
      setting: `derivedCredentials.pivTrust[${i}]`,
      files: [p],
      key: false,
      read: () => readPivTrust(config.derivedCredentials.pivTrust, i),
    })),
    ...(email?.ca ? [{ path: ['notify', 'email', 'ca'], setting: 'notify.email.ca', files: [email.ca], key: false, read: () => readSmtpCa(email.ca!) }] : []),
  ];
}
