/**
 * `credgate connectors list` and `credgate connectors test <id>`: the
 * connector files as the configuration names them, without a running
 * gateway, its database or its PKI.
 */
import { loadConfig } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import { listConnector, type ConnectorListing } from '../connector-listing.js';
import { testConnector } from '../connector-test.js';
import { loadConnectorFile, loadConnectorFiles, missingTemplate } from '../connectors.js';
import { StartupError } from '../errors.js';

const print = (text: string) => process.stdout.write(`${text}\n`);

const config = (opts: { config?: string }): Config => loadConfig(opts.config ? { path: opts.config } : {}).config;

/** What devices and consoles are told to use, as the gateway builds it. */
const baseUrl = (c: Config) => (c.server.publicUrl ?? `https://localhost:${c.server.port}`).replace(/\/$/, '');

function consoleAuth(c: NonNullable<ConnectorListing['console']>): string {
  const rule = (r: { fingerprint?: string; subject?: string }) =>
    [r.fingerprint && `fingerprint ${r.fingerprint}`, r.subject && `subject "${r.subject}"`].filter(Boolean).join(' and ');
  const certs = c.clientCertificates;
  return [
    ...(c.basic.length > 0 ? [`Basic as ${c.basic.join(' or ')}`] : []),
    ...(certs
      ? [`a client certificate with ${certs.allow.map(rule).join(' or ')}, chaining to ${[...certs.trust, 'auth.clientCertificates.trust'].join(' or ')}`]
      : []),
  ].join('; or ');
}

function listingLines(l: ConnectorListing): string[] {
  return [
    `${l.id} (${l.kind})  ${l.file}`,
    ...(l.endpoints.length > 0 ? l.endpoints.map((e) => `  ${e.name}: ${e.url}`) : ['  receives no webhooks']),
    ...(l.events ? [`  events ${l.events}`] : []),
    ...(l.console ? [`  console authenticates with ${consoleAuth(l.console)}`] : []),
  ];
}

export function connectorsList(opts: { config?: string; json?: boolean }): void {
  const c = config(opts);
  const listings = loadConnectorFiles(c.connectors.dir).map((l) => listConnector(l, baseUrl(c)));
  if (opts.json) print(JSON.stringify({ connectors: listings }, null, 2));
  else if (listings.length === 0) print(`no connectors in ${c.connectors.dir}; copy one from config/connectors/examples/ as <id>.yaml`);
  else for (const l of listings) print(listingLines(l).join('\n'));
}

/** Exit status 1 when a check failed; a configuration problem throws (status 2). */
export async function connectorsTest(id: string, opts: { config?: string; json?: boolean }): Promise<void> {
  const c = config(opts);
  const connector = loadConnectorFile(c.connectors.dir, id);
  const missing = missingTemplate(connector, Object.keys(c.templates));
  if (missing) throw new StartupError(missing);
  const result = await testConnector(connector);
  if (result.configuration !== undefined) throw new StartupError(result.configuration);
  if (opts.json) print(JSON.stringify(result, null, 2));
  else {
    print(`${result.id} (${result.kind})  ${connector.file}`);
    for (const check of result.checks) print(`${(check.ok ? 'ok' : 'failed').padEnd(7)} ${check.name}${check.detail ? `: ${check.detail}` : ''}`);
  }
  if (!result.ok) process.exitCode = 1;
}
