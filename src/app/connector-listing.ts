/**
 * What an operator needs to point a console at a connector: its kind and
 * file, the URLs the console calls under server.publicUrl (or how events
 * arrive instead), and how the console authenticates. Shown by
 * `credgate connectors list` and GET /api/v1/connectors, and logged at start.
 * User names and certificate rules only: never a password.
 */
import type { Logger } from 'pino';
import type { ConnectorKind } from '../connectors/connector.js';
import { redact, secretValues } from '../config/secret-values.js';
import type { LoadedConnector } from './connectors.js';

export interface ConnectorListing {
  id: string;
  kind: ConnectorKind;
  file: string;
  /** What the console calls; empty for a connector that receives no webhooks. */
  endpoints: { name: string; url: string }[];
  /** How events arrive when not through an endpoint: "over MQTT from …", "by polling …". */
  events?: string;
  /** How the console authenticates on the endpoints; absent when nothing calls in. */
  console?: {
    basic: string[];
    clientCertificates?: { trust: string[]; allow: { fingerprint?: string; subject?: string }[] };
  };
}

export function listConnector(c: LoadedConnector, baseUrl: string): ConnectorListing {
  const { module } = c;
  const secrets = secretValues(module.schema, c.settings);
  const { endpoints, events } = module.inbound(c.settings);
  const inbound = c.settings.inbound;
  const certs = inbound?.clientCertificates;
  return {
    id: c.id,
    kind: c.settings.kind,
    file: c.file,
    endpoints: endpoints.map((e) => ({ name: e.name, url: `${baseUrl.replace(/\/$/, '')}/connectors/${c.id}/${e.path}` })),
    ...(events !== undefined && { events: redact(events, secrets) }),
    ...(inbound && {
      console: {
        basic: inbound.basic.map((u) => u.username),
        ...(certs && {
          clientCertificates: {
            trust: certs.trust,
            allow: certs.allow.map((r) => ({
              ...(r.fingerprint !== undefined && { fingerprint: r.fingerprint }),
              ...(r.subject !== undefined && { subject: r.subject }),
            })),
          },
        }),
      },
    }),
  };
}

/** "connector ws1 (workspace-one) loaded; events at https://…/connectors/ws1/events" */
export function loadedMessage(l: ConnectorListing): string {
  const parts = [
    ...(l.endpoints.length > 0 ? l.endpoints.map((e) => `${e.name} at ${e.url}`) : ['receives no webhooks']),
    ...(l.events ? [`events ${l.events}`] : []),
  ];
  return `connector ${l.id} (${l.kind}) loaded; ${parts.join('; ')}`;
}

/** One line per connector, so that the log says where each console must send what. */
export function logLoadedConnectors(loaded: LoadedConnector[], baseUrl: string, log: Logger): void {
  for (const c of loaded) {
    const l = listConnector(c, baseUrl);
    log.info(
      { connector: l.id, kind: l.kind, file: l.file, endpoints: l.endpoints.map((e) => e.url), ...(l.events && { events: l.events }) },
      loadedMessage(l),
    );
  }
}
