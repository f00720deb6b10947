/**
 * The contract between the core and vendor connectors (connectors/<vendor>/).
 * A connector turns vendor payloads into MdmEvents and pushes credential sets
 * back to the vendor; it never decides what to issue: the YAML policy does.
 */
import type { Router } from 'express';

export type ConnectorKind = 'workspace-one' | 'intune' | 'mobileiron' | 'citrix';

export type MdmEventType = 'enrolled' | 'unenrolled' | 'wiped' | 'compliance-changed';

export interface MdmEvent {
  connectorId: string;
  type: MdmEventType;
  user: { id?: string; userName?: string; email?: string; upn?: string };
  device: { id: string; serialNumber?: string; platform?: string; model?: string; udid?: string };
  occurredAt: Date;
  /** Stable across redeliveries of the same vendor event. */
  dedupeKey: string;
}

export interface DeliveredCredential {
  serialNumber: string;
  purpose: 'signing' | 'encryption' | 'authentication' | 'device';
  pkcs12: Buffer;
  password: string;
  archived: boolean;
}

export interface CredentialSet {
  user: { id: string; email?: string; upn?: string };
  device?: { id: string };
  credentials: DeliveredCredential[];
}

export interface DeliveryReceipt {
  connectorId: string;
  /** The vendor's identifier(s) for what was delivered, enough to withdraw it. */
  reference: string;
  deliveredAt: Date;
}

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
  deliver?(set: CredentialSet): Promise<DeliveryReceipt>;
  withdraw?(ref: DeliveryReceipt): Promise<void>;
  check?(): Promise<HealthReport>;
}
