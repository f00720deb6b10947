/**
 * Runs one connector's checks against its vendor (ConnectorModule.check),
 * for `credgate connectors test` and POST /api/v1/connectors/{id}/test. The
 * result repeats no secret of the connector's settings, whatever the vendor
 * or a client library put into a reason.
 */
import type { ConnectorKind, HealthReport } from '../connectors/connector.js';
import { redact, secretValues } from '../config/secret-values.js';
import type { LoadedConnector } from './connectors.js';

export interface ConnectorTestResult {
  id: string;
  kind: ConnectorKind;
  ok: boolean;
  checks: HealthReport['checks'];
  /** Why no check could run: a setting that makes no client (a file missing, a passphrase wrong). */
  configuration?: string;
}

export async function testConnector(c: LoadedConnector): Promise<ConnectorTestResult> {
  const { module } = c;
  const secrets = secretValues(module.schema, c.settings);
  const head = { id: c.id, kind: c.settings.kind };
  let report: HealthReport;
  try {
    report = await module.check(c.settings, c.id);
  } catch (err) {
    return { ...head, ok: false, checks: [], configuration: redact(`${c.file} ${(err as Error).message}`, secrets) };
  }
  const checks = report.checks.map(({ name, ok, detail }) => ({ name, ok, ...(detail !== undefined && { detail: redact(detail, secrets) }) }));
  return { ...head, ok: report.ok && checks.every((x) => x.ok), checks };
}
