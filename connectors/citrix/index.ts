/**
 * Citrix XenMobile / Endpoint Management: credgate is the PKI entity
 * ("Microsoft Certificate Services") XenMobile's credential providers sign
 * with, through a certsrv-compatible endpoint; OCSP (/pki/ocsp) answers
 * XenMobile's "revocation from the PKI"; a poller of the REST API revokes
 * the certificates of devices XenMobile retires or removes.
 * The wire contract, what public documentation confirms of it and what is
 * assumed: docs/vendors/citrix.md.
 */
import { Router } from 'express';
import type { Connector, HealthReport } from '../../src/connectors/connector.js';
import type { ConnectorContext, ConnectorModule } from '../../src/connectors/module.js';
import { fileProblems, readCaSetting } from '../../src/connectors/setting-file.js';
import { certsrvRouter } from './certsrv-routes.js';
import { CertsrvService } from './certsrv.js';
import { DevicePoller } from './device-poller.js';
import { citrixSchema, type CitrixSettings } from './schema.js';
import { CertsrvRequestRepository, KnownDeviceRepository } from './store.js';
import { XenMobileApi } from './xenmobile-api.js';

function create(settings: CitrixSettings, ctx: ConnectorContext): Connector {
  const templates = Object.values(settings.certsrv.templates);
  const cas = new Set(templates.map((t) => ctx.pki.caOf(t).name));
  if (cas.size > 1) ctx.log.warn({ cas: [...cas] }, 'certsrv templates issue from several CAs; certnew.cer?ReqID=CACert serves the CA of the first one');

  const certsrv = new CertsrvService({
    connectorId: ctx.id,
    settings: settings.certsrv,
    pki: ctx.pki,
    requests: new CertsrvRequestRepository(ctx.db),
    db: ctx.db,
    log: ctx.log.child({ component: 'certsrv' }),
  });
  const api = new XenMobileApi(settings.xenmobile);
  const poller = new DevicePoller({
    connectorId: ctx.id,
    api,
    known: new KnownDeviceRepository(ctx.db, ctx.id),
    intake: ctx.intake,
    settings,
    log: ctx.log.child({ component: 'xenmobile-poller' }),
  });

  return {
    id: ctx.id,
    kind: 'citrix',
    router: () => {
      const r = Router();
      r.use(ctx.inboundGuard);
      r.use('/certsrv', certsrvRouter(certsrv, { connectorId: ctx.id, bodyLimit: ctx.bodyLimit, log: ctx.log }));
      return r;
    },
    start: (signal) => poller.run(signal),
  };
}

/** Logs in to the XenMobile REST API the poller reads. */
async function check(settings: CitrixSettings): Promise<HealthReport> {
  const api = new XenMobileApi(settings.xenmobile);
  try {
    await api.login();
    return { ok: true, checks: [{ name: 'xenmobile login', ok: true, detail: `logged in to ${settings.xenmobile.url} as ${settings.xenmobile.login}` }] };
  } catch (err) {
    return { ok: false, checks: [{ name: 'xenmobile login', ok: false, detail: (err as Error).message }] };
  }
}

export const citrix: ConnectorModule<CitrixSettings> = {
  kind: 'citrix',
  schema: citrixSchema,
  create,
  inbound: (settings) => ({
    endpoints: [{ name: 'certsrv', path: 'certsrv/' }],
    events: `by polling ${settings.xenmobile.url} every ${settings.xenmobile.pollEvery} (retired and removed devices)`,
  }),
  check,
  checkFiles: ({ xenmobile }) =>
    fileProblems([[['xenmobile', 'serverCa'], () => xenmobile.serverCa && readCaSetting(xenmobile.serverCa, 'xenmobile.serverCa')]]),
  templateKeys: ({ certsrv }) => Object.entries(certsrv.templates).map(([name, template]) => [['certsrv', 'templates', name], template]),
};
