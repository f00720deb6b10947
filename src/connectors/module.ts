/**
 * How a vendor connector plugs in: a schema for its YAML file and a factory.
 * The composition root (src/app) lists the modules; the core never imports them.
 */
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { Connector, ConnectorKind } from './connector.js';
import type { EventIntake } from './intake.js';
import type { InboundSettings, PolicySettings } from './settings.js';

export interface ConnectorContext {
  id: string;
  log: Logger;
  intake: EventIntake;
  /** Authenticates the console on this connector's routes, per its `inbound` settings. */
  inboundGuard: RequestHandler;
  bodyLimit: number;
}

/** Every connector file has these; vendors add their own keys. */
export interface ConnectorSettings {
  kind: ConnectorKind;
  inbound: InboundSettings;
  policy: PolicySettings;
}

export interface ConnectorModule<S extends ConnectorSettings = ConnectorSettings> {
  kind: ConnectorKind;
  schema: z.ZodType<S>;
  create(settings: S, ctx: ConnectorContext): Connector;
}
