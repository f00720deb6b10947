/**
 * How a vendor connector plugs in: a schema for its YAML file, a factory,
 * and optional hooks for what it needs of the core. One list,
 * src/app/connector-registry.ts, names the modules; nothing else under src/
 * imports them or knows their kinds.
 */
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { CertificateAuthority } from '../pki/ca.js';
import type { Issuer } from '../pki/issuer.js';
import type { Revoker } from '../pki/revoker.js';
import type { AuditRepository } from '../store/audit.js';
import type { CertificateRepository } from '../store/certificates.js';
import type { Db } from '../store/db.js';
import type { Connector, ConnectorKind, HealthReport } from './connector.js';
import type { EventIntake } from './intake.js';
import type { ConnectorPolicy } from './pipeline.js';
import type { FileProblem } from './setting-file.js';
import type { InboundSettings } from './settings.js';

/**
 * Issuance for a connector that is its MDM's CA front (Citrix certsrv): the
 * MDM sends requests, the connector's YAML maps them to templates.
 */
export interface ConnectorPki {
  issuer: Issuer;
  certificates: CertificateRepository;
  /** The CA a template issues from. */
  caOf(template: string): CertificateAuthority;
  /** Revocations the MDM asks for (Intune relays them from its console). */
  revoker: Revoker;
  /** For decisions the connector takes itself, e.g. a request refused for its names. */
  audit: AuditRepository;
  /**
   * Whether the certificate was issued through this connector: by its own
   * pipeline or CA front, or by a SCEP profile whose challenges it validates.
   * An MDM may ask to revoke those, and only those.
   */
  issuedThrough(serial: string): Promise<boolean>;
}

export interface ConnectorContext {
  id: string;
  log: Logger;
  intake: EventIntake;
  /** Authenticates the console on this connector's routes, per its `inbound` settings. */
  inboundGuard: RequestHandler;
  bodyLimit: number;
  /** For the connector's own tables (its migration lives in src/store/migrations). */
  db: Db;
  pki: ConnectorPki;
}

/** Every connector file has these; vendors add their own keys. */
export interface ConnectorSettings {
  kind: ConnectorKind;
  /** Absent for connectors that receive no webhooks (e.g. events over MQTT); their guard refuses every request. */
  inbound?: InboundSettings;
  /** The shared `policy` block (settings.ts), or one a vendor schema derives from its own keys. */
  policy: ConnectorPolicy;
}

/** How the console reaches a connector, for `credgate connectors list` and the start-up log. */
export interface ConnectorInbound {
  /** What the console calls, relative to /connectors/<id>/, each named for what it is (`events`, `certsrv`). */
  endpoints: { name: string; path: string }[];
  /** How events arrive when not through an endpoint, completing "events …": "over MQTT from …", "by polling …". */
  events?: string;
}

/**
 * A SCEP profile the MDM enrolls its devices at itself with one shared
 * challenge (MobileIron Core's Centralized SCEP): start-up stops unless the
 * profile exists and has challenge { static: ... }.
 */
export interface ScepProfileUse {
  /** Where the connector file names the profile. */
  path: (string | number)[];
  profile: string;
  /** Why one shared challenge, as the operator reads it: "Core's Centralized SCEP sends one shared password". */
  reason: string;
}

export interface ConnectorModule<S extends ConnectorSettings = ConnectorSettings> {
  kind: ConnectorKind;
  schema: z.ZodType<S>;
  create(settings: S, ctx: ConnectorContext): Connector;
  inbound(settings: S): ConnectorInbound;
  /**
   * Checks the settings against the vendor (credentials, reachability) with
   * clients of its own, so that a connector can be tried without a gateway
   * (`credgate connectors test`) and a running one is tested afresh rather
   * than through its cached tokens. Rejects, naming the setting, only when
   * the settings cannot make a client (a file missing, a passphrase wrong);
   * what the vendor answers is a failed check.
   */
  check(settings: S, id: string): Promise<HealthReport>;
  /**
   * Reads the files the settings name (certificates, keys, PKCS#12, CA
   * bundles) as `create` will, without building anything: every unusable
   * one, so that `credgate config check` and start-up report them all.
   */
  checkFiles?(settings: S): FileProblem[];
  /**
   * Present when the connector decides SCEP enrollments (its Connector's
   * scepValidator): a profile hands it its challenges with
   * challenge { connector: <id> }, or { <kind>: <id> }, which also requires
   * the connector to be of this kind. `vendor` names it in messages.
   */
  scepChallenges?: { vendor: string };
  /** The SCEP profiles the MDM enrolls at with one shared challenge. */
  scepProfiles?(settings: S): ScepProfileUse[];
  /**
   * Where the file names the templates of a `policy` the schema derives
   * from the vendor's own keys (Citrix: certsrv.templates), so that a
   * missing template is reported at the key that names it.
   */
  templateKeys?(settings: S): [path: (string | number)[], template: string][];
}
