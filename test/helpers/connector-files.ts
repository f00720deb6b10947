/**
 * Connector files (`<connectors.dir>/<id>.yaml`) as tests and benches write
 * them: a settings object serialised with the yaml package, built with the
 * per-vendor defaults below. A `${VAR}` string is written as it is, so the
 * gateway fills it from the environment when it loads the file
 * (src/config/load.ts), as it does in an operator's file.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { IntuneCloud } from './intune-standins.js';
import type { TestTls, TestTlsFiles } from './ws1-standins.js';

export type Settings = { [key: string]: unknown };

/** The text of a connector file; a key whose value is undefined is left out. */
export function connectorYaml(settings: Settings): string {
  // No folding: a value stays on its key's line, where an error's position points.
  return stringify(settings, { lineWidth: 0 });
}

/** Writes `<dir>/<id>.yaml`, making `dir` when it is missing; returns the file's path. */
export function writeConnectorFile(dir: string, id: string, settings: Settings): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${id}.yaml`);
  writeFileSync(file, connectorYaml(settings));
  return file;
}

/** policy.enrolled issuing both S/MIME certificates. */
export const SMIME = { signing: 'smime-signing', encryption: 'smime-encryption' };

/** inbound for a console that calls with HTTP Basic. */
export const basicInbound = (username: string, password: string): Settings => ({ basic: [{ username, password }] });

interface PolicyOptions {
  /** policy.enrolled; SMIME unless given. */
  enrolled?: Settings;
  /** policy.pkcs12: the password of what is delivered, and its format (the schema's default when left out). */
  pkcs12: { format?: string; password: string };
}

const policy = (o: PolicyOptions) => ({ enrolled: o.enrolled ?? SMIME, pkcs12: o.pkcs12 });

/**
 * A Workspace ONE connector. The console calls as ws1-events with
 * `eventsPassword`, unless `inbound` says otherwise.
 */
export function ws1Settings(
  o: PolicyOptions & ({ eventsPassword: string } | { inbound: Settings }) & { delivery?: string; escrowGateway?: Settings; uem?: Settings },
): Settings {
  return {
    kind: 'workspace-one',
    delivery: o.delivery,
    inbound: 'inbound' in o ? o.inbound : basicInbound('ws1-events', o.eventsPassword),
    policy: policy(o),
    escrowGateway: o.escrowGateway,
    uem: o.uem,
  };
}

/** escrowGateway at `url`, with the test client identity of ws1-standins.ts that the Escrow Gateway stand-in allows. */
export const escrowGatewayOf = (url: string, tls: TestTls, files: TestTlsFiles): Settings => ({
  url,
  clientPkcs12: files.clientP12,
  clientPkcs12Password: tls.client.pkcs12Password,
  serverCa: files.ca,
});

/** inbound.clientCertificates allowing the test client identity of ws1-standins.ts, by fingerprint. */
export const allowTestClient = (tls: TestTls, files: TestTlsFiles): Settings => ({ trust: [files.ca], allow: [{ fingerprint: tls.client.fingerprint256 }] });

/**
 * An Intune connector against the stand-ins of intune-standins.ts: their
 * tenant, application and hosts, and `trust` (the test CA file) for their
 * TLS. The PFX connector key goes under the key name the tests all use.
 */
export function intuneSettings(
  cloud: Pick<IntuneCloud, 'tenant' | 'clientId' | 'loginHost' | 'graphHost'>,
  o: PolicyOptions & {
    clientSecret?: string;
    trust: string;
    timeout?: string;
    polling: Settings;
    connectorPublicKey: string;
    revocation?: Settings;
    scepValidation?: Settings;
  },
): Settings {
  return {
    kind: 'intune',
    tenant: cloud.tenant,
    clientId: cloud.clientId,
    clientSecret: o.clientSecret,
    loginHost: cloud.loginHost,
    graphHost: cloud.graphHost,
    trust: [o.trust],
    timeout: o.timeout,
    policy: policy(o),
    polling: o.polling,
    pfxImport: { connectorPublicKey: o.connectorPublicKey, keyName: 'PFXEncryptionKey' },
    revocation: o.revocation,
    scepValidation: o.scepValidation,
  };
}

/** A MobileIron connector: events from the ENS `broker`, uploads through `coreApi`. */
export function mobileIronSettings(o: PolicyOptions & { broker: Settings; coreApi: Settings; scep?: Settings }): Settings {
  return { kind: 'mobileiron', policy: policy(o), broker: o.broker, coreApi: o.coreApi, scep: o.scep };
}

/** broker at `url` with its CA and the gateway's client certificate, and timers short enough for a test to see a reconnect. */
export const ensBroker = (url: string, ca: string, clientCertificate: Settings): Settings => ({
  url,
  ca,
  clientCertificate,
  clientIdPrefix: 'credgate-test-',
  keepalive: '5s',
  connectTimeout: '2s',
  reconnect: { initial: '200ms', max: '1s' },
});

/**
 * A Citrix connector: XenMobile's PKI entity calls certsrv as xm-pki with
 * `pkiPassword` (and with a client certificate when `clientCertificates` is
 * given), templates default to XenMobileUser only, and devices are polled
 * from XenMobile as credgate-api.
 */
export function citrixSettings(o: {
  pkiPassword: string;
  clientCertificates?: Settings;
  templates?: Settings;
  xenmobile: { url: string; password: string } & Settings;
}): Settings {
  return {
    kind: 'citrix',
    inbound: { ...basicInbound('xm-pki', o.pkiPassword), clientCertificates: o.clientCertificates },
    certsrv: { templates: o.templates ?? { XenMobileUser: 'tls-client' } },
    xenmobile: { login: 'credgate-api', ...o.xenmobile },
  };
}
