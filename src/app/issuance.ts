/**
 * Builds the issuance core from configuration: CAs, templates, key pool,
 * issuer, revocation, CRL publisher and OCSP responder.
 */
import type { Logger } from 'pino';
import type { CaConfig, Config } from '../config/schema.js';
import { durationMs } from '../config/duration.js';
import { EscrowedKeys } from '../identity/escrowed-keys.js';
import { UnmanagedCertificates } from '../identity/unmanaged-certificates.js';
import { CaLoadError, CaRegistry, loadCa } from '../pki/ca.js';
import { CrlPublisher } from '../pki/crl-publisher.js';
import { devPkiFiles } from '../pki/dev-pki.js';
import { Issuer, type Template } from '../pki/issuer.js';
import { KeyPool } from '../pki/key-pool.js';
import { KeyRecovery } from '../pki/key-recovery.js';
import { masterKeyOf, type MasterKey } from '../pki/key-wrap.js';
import { OcspResponder } from '../pki/ocsp-responder.js';
import { Revoker } from '../pki/revoker.js';
import { AuditRepository } from '../store/audit.js';
import { CertificateRepository } from '../store/certificates.js';
import { CrlStateRepository } from '../store/crl-state.js';
import type { Db } from '../store/db.js';
import { EscrowRepository, KeyPoolRepository } from '../store/key-store.js';
import { PersonRepository } from '../store/people.js';
import { UnmanagedCertificateRepository } from '../store/unmanaged-certificates.js';
import { refuse, StartupError, type SettingProblem } from './errors.js';

export interface Issuance {
  master: MasterKey;
  cas: CaRegistry;
  issuer: Issuer;
  revoker: Revoker;
  crls: CrlPublisher;
  ocsp: OcspResponder;
  recovery: KeyRecovery;
  /** Whose escrowed keys are whose, on every path that issues them. */
  escrowedKeys: EscrowedKeys;
  /** Certificates issued elsewhere, uploaded with their keys for a person. */
  unmanaged: UnmanagedCertificates;
  keyPool: KeyPool;
  certificates: CertificateRepository;
  audit: AuditRepository;
  start(): void;
  stop(): void;
}

/** With no `pki.cas`, the dev PKI's issuing CA serves as the CA named "dev". */
export function caSources(config: Config): Record<string, CaConfig> {
  if (config.pki.cas) return config.pki.cas;
  const f = devPkiFiles(config.pki.dir);
  return { dev: { cert: f.issuingCert, key: f.issuingKey, chain: [f.rootCert], crl: { validity: '7d', refreshBefore: '1d' } } };
}

export function templatesFrom(config: Config): Record<string, Template> {
  return Object.fromEntries(Object.entries(config.templates).map(([name, t]) => [name, { ...t, validityMs: durationMs(t.validity) }]));
}

/** Every template must issue from a configured CA: its own `ca`, else pki.defaultCa. */
export function templateCaProblems(config: Config): SettingProblem[] {
  const names = Object.keys(caSources(config));
  return Object.entries(config.templates).flatMap(([name, t]) => {
    const ca = t.ca ?? config.pki.defaultCa;
    if (names.includes(ca)) return [];
    const where = t.ca ? `templates.${name}.ca` : `templates.${name} (through pki.defaultCa)`;
    return [{ path: t.ca ? ['templates', name, 'ca'] : ['pki', 'defaultCa'], message: `${where}: no CA named "${ca}" (configured: ${names.join(', ')})` }];
  });
}

/** The issuance core, which the core services (feature.ts) carry; the pki feature (pki.ts) serves and runs it. */
export function buildIssuance({ config, db, masterKey, baseUrl, log }: { config: Config; db: Db; masterKey: Buffer; baseUrl: string; log: Logger }): Issuance {
  const sources = caSources(config);
  let cas: CaRegistry;
  try {
    cas = new CaRegistry(Object.entries(sources).map(([name, source]) => loadCa(name, source, masterKey)));
  } catch (err) {
    if (err instanceof CaLoadError) throw new StartupError(err.message);
    throw err;
  }
  refuse(templateCaProblems(config));
  const templates = templatesFrom(config);

  const master = masterKeyOf(masterKey);
  const certificates = new CertificateRepository(db);
  const audit = new AuditRepository(db);
  const escrow = new EscrowRepository(db);
  const crlState = new CrlStateRepository(db);
  const keyPool = new KeyPool(new KeyPoolRepository(db), master, config.pki.keyPool, log.child({ component: 'key-pool' }));
  const timing = (ca: string) => {
    const crl = sources[ca]?.crl ?? { validity: '7d', refreshBefore: '1d' };
    return { validityMs: durationMs(crl.validity), refreshBeforeMs: durationMs(crl.refreshBefore) };
  };
  const crls = new CrlPublisher({ db, cas, certificates, state: crlState, timing, log: log.child({ component: 'crl' }) });
  const issuer = new Issuer({
    db,
    cas,
    defaultCa: config.pki.defaultCa,
    templates,
    keyPolicy: config.pki.keyPolicy,
    keyPool,
    master,
    certificates,
    escrow,
    audit,
    urls: {
      crl: (ca) => `${baseUrl}/pki/${ca}.crl`,
      ocsp: () => `${baseUrl}/pki/ocsp`,
      caIssuers: (ca) => `${baseUrl}/pki/ca/${ca}.cer`,
    },
    log,
  });
  let timer: NodeJS.Timeout | undefined;
  const uploads = new UnmanagedCertificateRepository(db);
  const recovery = new KeyRecovery({ db, cas, certificates, escrow, audit, master, unmanaged: uploads });
  const people = new PersonRepository(db);
  return {
    master,
    cas,
    issuer,
    revoker: new Revoker({ db, certificates, crlState, crls, audit, log }),
    crls,
    ocsp: new OcspResponder({ cas, certificates, validityMs: durationMs(config.pki.ocsp.validity) }),
    recovery,
    escrowedKeys: new EscrowedKeys({ db, people, certificates }),
    unmanaged: new UnmanagedCertificates({
      db,
      people,
      certificates,
      escrow,
      unmanaged: uploads,
      recovery,
      audit,
      master,
      cas,
      log: log.child({ component: 'unmanaged-certificates' }),
    }),
    keyPool,
    certificates,
    audit,
    start() {
      keyPool.start();
      // CRLs are re-signed before nextUpdate even when nothing is revoked.
      const every = Math.min(...cas.list().map((c) => timing(c.name).refreshBeforeMs / 4), 15 * 60_000);
      timer = setInterval(() => void crls.refreshDue(), Math.max(every, 1000));
      timer.unref();
      void crls.refreshDue();
    },
    stop() {
      clearInterval(timer);
      keyPool.stop();
    },
  };
}
