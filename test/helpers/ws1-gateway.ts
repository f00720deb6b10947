/**
 * A started gateway with Workspace ONE connectors wired to the stand-ins of
 * ws1-standins.ts (an Escrow Gateway and a UEM API over HTTPS with a test
 * CA), each taking the console's events with HTTP Basic, and what a test
 * needs to show that an event left nothing behind.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { basicInbound, escrowGatewayOf, SMIME, writeConnectorFile, ws1Settings } from './connector-files.js';
import { curl, type CurlResult } from './curl.js';
import { startTestGateway, type TestGateway } from './gateway.js';
import { tempDir } from './tmp.js';
import { makeTestTls, startEscrowGateway, startUemApi, writeTestTlsFiles, type EscrowGatewayHandle, type UemApiHandle } from './ws1-standins.js';
import { until } from './wait.js';

export const WS1_P12_PASSWORD = 'ws1-profile-password';
const CONSOLE = { username: 'console', password: 'ws1-console-password' };

export interface Ws1ConnectorSpec {
  delivery: 'escrow-gateway' | 'uem-upload';
  /** Whether the connector may look users up in the UEM API (default: yes). */
  uem?: boolean;
  /** The signing template (default smime-signing); encryption is always smime-encryption. */
  signing?: string;
}

export interface Ws1Gateway {
  gw: TestGateway;
  eg: EscrowGatewayHandle;
  uem: UemApiHandle;
  /** Posts an event body to /connectors/<connector>/events as the console does. */
  post(connector: string, body: string | Buffer, contentType?: string): Promise<CurlResult>;
  /** Rows an event can leave behind. */
  trail(): Promise<Trail>;
  /** Waits until no job is queued or running. */
  drained(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface Trail {
  events: number;
  certificates: number;
  jobs: number;
  deliveries: number;
}

export async function startWs1Gateway(connectors: Record<string, Ws1ConnectorSpec>, overrides: Record<string, unknown> = {}): Promise<Ws1Gateway> {
  const dir = tempDir();
  const tls = await makeTestTls();
  const files = writeTestTlsFiles(tls, dir);
  const eg = await startEscrowGateway({ cert: tls.server.cert, key: tls.server.key, clientCa: tls.caPem, allowedFingerprints: [tls.client.fingerprint256] });
  const uem = await startUemApi({ cert: tls.server.cert, key: tls.server.key, tenantCode: 'tenant-ws1', basic: { username: 'api', password: 'api-password' } });
  for (const [id, spec] of Object.entries(connectors)) {
    writeConnectorFile(
      join(dir, 'connectors'),
      id,
      ws1Settings({
        delivery: spec.delivery,
        inbound: basicInbound(CONSOLE.username, CONSOLE.password),
        enrolled: { ...SMIME, signing: spec.signing ?? SMIME.signing },
        pkcs12: { format: 'modern', password: WS1_P12_PASSWORD },
        escrowGateway: spec.delivery === 'escrow-gateway' ? escrowGatewayOf(eg.url, tls, files) : undefined,
        uem:
          spec.uem !== false ? { url: uem.url, tenantCode: 'tenant-ws1', basic: { username: 'api', password: 'api-password' }, serverCa: files.ca } : undefined,
      }),
    );
  }
  const gw = await startTestGateway({
    dir,
    overrides: { connectors: { dir: join(dir, 'connectors') }, jobs: { pollInterval: '50ms', backoff: { base: '50ms', max: '200ms' } }, ...overrides },
  });
  const base = `https://localhost:${gw.port}`;
  let posted = 0;
  const count = async (table: string) => Number(((await gw.db(table).count({ n: '*' }).first()) as { n: number | string }).n);
  return {
    gw,
    eg,
    uem,
    post: (connector, body, contentType = 'application/json') => {
      // From a file: an argument cannot carry the NUL bytes some bodies hold.
      const file = join(dir, `body-${++posted}`);
      writeFileSync(file, body);
      return curl(`${base}/connectors/${connector}/events`, [
        '--cacert',
        join(dir, 'certs/root-ca.pem'),
        '-u',
        `${CONSOLE.username}:${CONSOLE.password}`,
        '-H',
        `Content-Type: ${contentType}`,
        '--data-binary',
        `@${file}`,
      ]);
    },
    trail: async () => ({
      events: await count('mdm_events'),
      certificates: await count('certificates'),
      jobs: await count('jobs'),
      deliveries: await count('deliveries'),
    }),
    drained: async (timeoutMs = 60_000) => {
      await until(
        'an idle job queue',
        async () => Number((await gw.db('jobs').whereIn('status', ['queued', 'running']).count({ n: '*' }).first())?.n) === 0,
        timeoutMs,
        100,
      );
    },
    stop: async () => {
      await gw.stop();
      await eg.stop();
      await uem.stop();
    },
  };
}
