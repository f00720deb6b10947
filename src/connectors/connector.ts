/**
 * The contract between the core and vendor connectors (connectors/<vendor>/).
 * A connector turns vendor payloads into MdmEvents and pushes credential sets
 * back to the vendor; it never decides what to issue: the YAML policy does.
 */
import type { Router } from 'express';
import type { ChallengeValidator } from '../protocols/scep/challenges.js';

/** A connector file's `kind`: one of the modules src/app/connector-registry.ts lists. */
export type ConnectorKind = string;

export type MdmEventType = 'enrolled' | 'unenrolled' | 'wiped' | 'compliance-changed';

export interface MdmUser {
  id?: string;
  userName?: string;
  displayName?: string;
  email?: string;
  upn?: string;
  /** The vendor's own numeric/user id, where it differs from `id`. */
  vendorId?: string;
}

export interface MdmEvent {
  connectorId: string;
  /** `unknown`: stored and acknowledged, nothing done. */
  type: MdmEventType | 'unknown';
  /** The vendor's name for the event, as received. */
  vendorType: string;
  user: MdmUser;
  device: { id: string; serialNumber?: string; platform?: string; model?: string; udid?: string; name?: string };
  occurredAt: Date;
  /** Stable across redeliveries of the same vendor event. */
  dedupeKey: string;
}

export interface DeliveredCredential {
  serialNumber: string;
  purpose: 'signing' | 'encryption' | 'authentication' | 'device';
  pkcs12: Buffer;
  password: string;
  /** The end-entity certificate inside `pkcs12`, DER. */
  certificate: Buffer;
  /** An expired or superseded credential, sent so old mail stays readable. */
  archived: boolean;
}

export interface CredentialSet {
  deliveryId: number;
  user: MdmUser;
  device?: { id: string };
  credentials: DeliveredCredential[];
}

/**
 * Thrown by deliver(): `permanent` when retrying cannot help (the vendor
 * answered 4xx); the vendor's answer is kept for the operator.
 * `retryAfterMs`: the vendor said when to try again (429 Retry-After).
 */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
    readonly detail?: { status?: number; body?: string },
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

/** A delivered certificate to take back from the MDM. */
export interface WithdrawnCredential {
  serialNumber: string;
  /** DER. */
  certificate: Buffer;
}

export interface DeliveryReceipt {
  connectorId: string;
  /** The vendor's identifier(s) for what was delivered, enough to withdraw it. */
  reference: string;
  deliveredAt: Date;
}

/** What a connector's check found (ConnectorModule.check): one entry per thing tried, with why it failed. */
export interface HealthReport {
  ok: boolean;
  checks: { name: string; ok: boolean; detail?: string }[];
}

export interface Connector {
  readonly id: string;
  readonly kind: ConnectorKind;
  /** Inbound webhooks, mounted at /connectors/<id>/. */
  router?(): Router;
  /** Pollers and subscriptions; stop when the signal aborts. */
  start?(signal: AbortSignal): Promise<void>;
  /**
   * Whether that background work keeps what the connector promises (e.g.
   * events at least once), for /readyz: resolves to a short status, rejects
   * with the reason when it does not.
   */
  readiness?(): Promise<string>;
  deliver?(set: CredentialSet): Promise<DeliveryReceipt>;
  /**
   * Why deliver() could never succeed for a set to this user and device
   * (what the vendor addresses it by is missing), or undefined when it
   * could. Asked before anything is issued for them.
   */
  undeliverable?(to: { user: MdmUser; device: { id: string } }): Promise<string | undefined>;
  /** Fills in a user the event left incomplete (e.g. the email, from the vendor's API). */
  resolveUser?(event: MdmEvent): Promise<MdmUser>;
  /**
   * Removes from the MDM what a delivery put there: the credentials given
   * (revoked ones, on unenroll), or everything the receipt names. What is
   * already gone counts as removed.
   */
  withdraw?(ref: DeliveryReceipt, credentials?: WithdrawnCredential[]): Promise<void>;
  /** Decides SCEP enrollments for profiles that name this connector, when its module has `scepChallenges`. */
  scepValidator?(): ChallengeValidator;
}
