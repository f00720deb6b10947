/**
 * Microsoft Intune: enrollments found by polling managed devices, S/MIME
 * credentials delivered as imported PKCS certificates, SCEP challenges
 * validated by Intune, and Intune's revocation requests carried out in our
 * CA. What each does, and on what authority: connectors/intune/README.md.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { durationMs } from '../../src/config/duration.js';
import type { Connector, HealthReport, MdmEvent, MdmUser } from '../../src/connectors/connector.js';
import type { ConnectorContext, ConnectorModule } from '../../src/connectors/module.js';
import { fileProblems, readCaSetting } from '../../src/connectors/setting-file.js';
import { OAuthClient, type ClientCredential } from '../../src/connectors/oauth-client.js';
import { readConnectorKey } from './connector-key.js';
import { ManagedDevicePoller, MANAGED_DEVICES } from './device-poller.js';
import { DeviceStore } from './device-store.js';
import { Graph, GraphError, intuneHttp } from './graph.js';
import { PfxCollection } from './pfx-collection.js';
import { PfxImporter } from './pfx-import.js';
import { PfxWithdrawal } from './pfx-withdrawal.js';
import { RevocationPoller } from './revocation-poller.js';
import { IntuneScepValidator } from './scep-validator.js';
import { intuneSchema, type IntuneSettings } from './schema.js';
import { IntuneServices, PKI_CONNECTOR, SCEP_VALIDATION } from './services.js';

/** The app's credential; a certificate file that is missing, unreadable or not the key's is named. */
function credential(settings: IntuneSettings): ClientCredential {
  if (settings.clientSecret !== undefined) return { secret: settings.clientSecret };
  const { cert, key, passphrase } = settings.clientCertificate!;
  let certificate: X509Certificate;
  let privateKey: KeyObject;
  try {
    certificate = new X509Certificate(readFileSync(cert));
  } catch (err) {
    throw new Error(`clientCertificate.cert: ${cert} is not a readable PEM certificate (${(err as Error).message.split('\n')[0]})`);
  }
  try {
    privateKey = createPrivateKey({ key: readFileSync(key), ...(passphrase !== undefined && { passphrase }) });
  } catch {
    throw new Error(`clientCertificate.key: ${key} is not a PEM private key, or its passphrase is wrong or missing`);
  }
  if (privateKey.asymmetricKeyType !== 'rsa' || !certificate.checkPrivateKey(privateKey)) {
    throw new Error(`clientCertificate.key: ${key} is not the RSA key of ${cert} (client assertions are signed RS256)`);
  }
  return { certificate, key: privateKey };
}

/** Microsoft's side: HTTP with the configured trust, the app's tokens, Graph, and the Intune services it lists. */
function microsoft(settings: IntuneSettings): { tokens: OAuthClient; graph: Graph; services: IntuneServices } {
  const http = intuneHttp(settings);
  const tokens = new OAuthClient({
    tokenUrl: `${settings.loginHost}/${settings.tenant}/oauth2/v2.0/token`,
    clientId: settings.clientId,
    credential: credential(settings),
    http,
  });
  const graph = new Graph(http, tokens, settings);
  return { tokens, graph, services: new IntuneServices({ graph, http, tokens, scope: settings.intuneScope, callerInfo: settings.scepValidation.callerInfo }) };
}

/** A Graph token, a page of managedDevices, and the Intune endpoints the SCEP validation (and revocation) use. */
async function check(settings: IntuneSettings): Promise<HealthReport> {
  const { tokens, graph, services } = microsoft(settings);
  const checks: HealthReport['checks'] = [];
  const step = async (name: string, run: () => Promise<string | undefined>) => {
    try {
      checks.push({ name, ok: true, ...(await run().then((detail) => detail && { detail })) });
    } catch (err) {
      checks.push({ name, ok: false, detail: (err as Error).message });
    }
  };
  await step('token', async () => void (await tokens.token(graph.scope)));
  await step(
    'managedDevices',
    async () => `${((await graph.get(`${MANAGED_DEVICES}&$top=1`)).value as unknown[] | undefined)?.length ?? 0} device(s) on the first page`,
  );
  await step('scepValidation endpoint', () => services.uri(SCEP_VALIDATION));
  if (settings.revocation.enabled) await step('pkiConnector endpoint', () => services.uri(PKI_CONNECTOR));
  return { ok: checks.every((c) => c.ok), checks };
}

function create(settings: IntuneSettings, ctx: ConnectorContext): Connector {
  const { graph, services } = microsoft(settings);
  const callerInfo = settings.scepValidation.callerInfo;

  /** Mail, UPN and display name from Entra ID; {} for a user Graph does not know. */
  const lookupUser = async (userId: string): Promise<MdmUser> => {
    const res = await graph.request('GET', `/v1.0/users/${encodeURIComponent(userId)}?$select=mail,userPrincipalName,displayName`);
    if (res.status === 404) return {};
    if (res.status !== 200) throw new GraphError(`Graph answered ${res.status} to the user lookup of ${userId}`, res.status, '', res.retryAfterMs);
    const s = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
    return Object.fromEntries(
      Object.entries({ email: s(res.data.mail), upn: s(res.data.userPrincipalName), displayName: s(res.data.displayName) }).filter(([, v]) => v !== undefined),
    ) as MdmUser;
  };

  const devices = new ManagedDevicePoller({
    connectorId: ctx.id,
    graph,
    store: new DeviceStore(ctx.db, ctx.id),
    intake: ctx.intake,
    initialSync: settings.polling.initialSync,
    unenrollGuard: settings.polling.unenrollGuard,
    log: ctx.log,
  });
  const collection = new PfxCollection(graph);
  const importer = new PfxImporter({
    connectorId: ctx.id,
    collection,
    settings: settings.pfxImport,
    connectorKey: readConnectorKey(settings.pfxImport.connectorPublicKey),
    lookupUser,
  });
  const withdrawal = new PfxWithdrawal({ collection, lookupUser });
  const validator = new IntuneScepValidator({ services, callerInfo, log: ctx.log });
  const revocations = new RevocationPoller({
    connectorId: ctx.id,
    services,
    ca: ctx.pki.revoker,
    issuedThrough: (serial) => ctx.pki.issuedThrough(serial),
    maxRequests: settings.revocation.maxRequests,
    log: ctx.log,
  });

  return {
    id: ctx.id,
    kind: 'intune',
    async start(signal) {
      await Promise.all([
        devices.run(durationMs(settings.polling.interval), signal),
        settings.revocation.enabled ? revocations.run(durationMs(settings.revocation.interval), signal) : undefined,
      ]);
    },
    deliver: (set) => importer.deliver(set),
    undeliverable: ({ user }) => importer.undeliverable(user),
    withdraw: (ref, credentials) => withdrawal.withdraw(ref, credentials),
    resolveUser: (event: MdmEvent) => (event.user.id ? lookupUser(event.user.id) : Promise.resolve({})),
    scepValidator: () => validator,
  };
}

export const intune: ConnectorModule<IntuneSettings> = {
  kind: 'intune',
  schema: intuneSchema,
  create,
  inbound: (settings) => ({ endpoints: [], events: `by polling managedDevices at ${settings.graphHost} every ${settings.polling.interval}` }),
  check,
  scepChallenges: { vendor: 'Intune' },
  checkFiles: (settings) =>
    fileProblems([
      [['clientCertificate'], () => credential(settings)],
      ...settings.trust.map((p, i): [(string | number)[], () => unknown] => [['trust', i], () => readCaSetting(p, `trust[${i}]`)]),
    ]),
};
