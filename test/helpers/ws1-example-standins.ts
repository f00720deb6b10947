/**
 * The Workspace ONE side of README.md's connector example, stood in for:
 * the Escrow Gateway and the UEM API with its OAuth token endpoint of
 * ws1-standins.ts, taking the values the example exports (tenant code,
 * OAuth client id and secret), and the operator's own files (the Escrow
 * Gateway's client certificate as a PKCS#12 opened by the exported
 * password, and the CA of its TLS certificate). The copy of
 * config/connectors/examples/workspace-one.yaml in a checkout is pointed
 * at them; README.md itself is never changed.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './tmp.js';
import { issueTestClient, issueTestServer, makeTestCa, startEscrowGateway, startUemApi, type EscrowGatewayHandle, type UemApiHandle } from './ws1-standins.js';

export const WS1_EXAMPLE = 'config/connectors/examples/workspace-one.yaml';

/** The variables the example file names that the stand-ins must accept. */
const NEEDED = ['WS1_EG_CLIENT_PASSWORD', 'WS1_TENANT_CODE', 'WS1_OAUTH_CLIENT_ID', 'WS1_OAUTH_CLIENT_SECRET'] as const;

/** Vendor addresses and operator files as the example file names them. */
const EG_URL = 'https://eg.example.com';
const UEM_URL = 'https://as1234.awmdm.com';
const TOKEN_URL = 'https://na.uemauth.workspaceone.com/connect/token';
const EG_CLIENT_P12 = '/etc/credgate/ws1-eg-client.p12';
const EG_CA = '/etc/credgate/ws1-eg-ca.pem';

export interface Ws1ExampleStandins {
  eg: EscrowGatewayHandle;
  uem: UemApiHandle;
  /**
   * The stand-ins' CA (PEM file). The example gives the UEM API no
   * serverCa, since the vendor's hosts have publicly trusted certificates;
   * processes trust the stand-ins' CA instead as NODE_EXTRA_CA_CERTS.
   */
  caFile: string;
  stop(): Promise<void>;
}

/**
 * The text of the example file with its vendor addresses and operator files
 * replaced by the stand-ins' and their files (each must be named there).
 */
export function pointWs1Example(text: string, to: { eg: EscrowGatewayHandle; uem: UemApiHandle; clientP12: string; caFile: string }): string {
  for (const [from, by] of [
    [TOKEN_URL, to.uem.tokenUrl],
    [EG_URL, to.eg.url],
    [UEM_URL, to.uem.url],
    [EG_CLIENT_P12, to.clientP12],
    [EG_CA, to.caFile],
  ] as const) {
    assert.ok(text.includes(from), `${WS1_EXAMPLE} names ${from}`);
    text = text.replaceAll(from, by);
  }
  return text;
}

/**
 * Starts the stand-ins with `values` (the example's exported variables)
 * and points the copy of the example file in `checkout` at them.
 */
export async function standInForWs1Example(checkout: string, values: Record<string, string>): Promise<Ws1ExampleStandins> {
  for (const v of NEEDED) assert.ok(values[v] !== undefined, `README.md's Workspace ONE example exports ${v}`);
  const ca = await makeTestCa('Stand-in Workspace ONE CA');
  const [server, client] = await Promise.all([issueTestServer(ca), issueTestClient(ca, 'credgate-ws1-connector', values.WS1_EG_CLIENT_PASSWORD)]);
  const eg = await startEscrowGateway({ cert: server.cert, key: server.key, clientCa: ca.pem, allowedFingerprints: [client.fingerprint256] });
  const uem = await startUemApi({
    cert: server.cert,
    key: server.key,
    tenantCode: values.WS1_TENANT_CODE!,
    oauth: { clientId: values.WS1_OAUTH_CLIENT_ID!, clientSecret: values.WS1_OAUTH_CLIENT_SECRET! },
  });

  const operator = tempDir('credgate-operator-');
  const caFile = join(operator, 'ws1-eg-ca.pem');
  const clientP12 = join(operator, 'ws1-eg-client.p12');
  writeFileSync(caFile, ca.pem);
  writeFileSync(clientP12, client.pkcs12, { mode: 0o600 });

  const file = join(checkout, WS1_EXAMPLE);
  writeFileSync(file, pointWs1Example(readFileSync(file, 'utf8'), { eg, uem, clientP12, caFile }));

  return {
    eg,
    uem,
    caFile,
    stop: async () => {
      await Promise.all([eg.stop(), uem.stop()]);
    },
  };
}
