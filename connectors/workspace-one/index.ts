/**
 * Workspace ONE UEM (AirWatch): event notifications in, S/MIME credentials
 * out through the Escrow Gateway (or the UEM API's uploadsmimecerts). The
 * wire contract, what public documentation confirms of it and what is
 * assumed: docs/vendors/workspace-one.md.
 */
import express, { Router } from 'express';
import type { Connector, HealthReport, MdmEvent, MdmUser } from '../../src/connectors/connector.js';
import { InvalidEventError } from '../../src/connectors/intake.js';
import type { ConnectorContext, ConnectorModule } from '../../src/connectors/module.js';
import { fileProblems, readCaSetting, readPkcs12Setting } from '../../src/connectors/setting-file.js';
import { Refusal } from '../../src/util/refusal.js';
import { enrollmentGap } from './delivery-needs.js';
import { EscrowGatewayClient, escrowGap } from './escrow-gateway.js';
import { EventFormatError, parseBody, screenFields, toMdmEvent, type Ws1Fields } from './event.js';
import { workspaceOneSchema, type WorkspaceOneSettings } from './schema.js';
import { UemApi } from './uem-api.js';

/** An event that cannot be taken as it is: 400 bad_event, saying why. */
const badEvent = (err: Error) => new Refusal('bad_request', err.message, undefined, 'bad_event');

function create(settings: WorkspaceOneSettings, ctx: ConnectorContext): Connector {
  const eg = settings.escrowGateway && new EscrowGatewayClient(ctx.id, settings.escrowGateway);
  const uem = settings.uem && new UemApi(ctx.id, settings.uem);

  const router = (): Router => {
    const r = Router();
    r.use(ctx.inboundGuard);
    // The console's Test Connection is a GET with the same credentials.
    const ok = (_req: express.Request, res: express.Response) => void res.json({ status: 'ok', connector: ctx.id });
    r.get('/', ok);
    r.get('/events', ok);
    r.post('/events', express.text({ type: () => true, limit: ctx.bodyLimit }), async (req, res) => {
      let event: MdmEvent;
      let fields: Ws1Fields;
      try {
        const screened = screenFields(parseBody(typeof req.body === 'string' ? req.body : '', req.headers['content-type']));
        fields = screened.fields;
        event = toMdmEvent(ctx.id, fields);
        const gap = event.type === 'enrolled' ? enrollmentGap(settings, fields) : undefined;
        if (gap) throw new EventFormatError(gap);
        if (screened.dropped.length)
          ctx.log.warn(
            { vendorType: event.vendorType, device: event.device.id, left: screened.dropped },
            'departure accepted without the fields that failed the text check',
          );
      } catch (err) {
        if (err instanceof EventFormatError) throw badEvent(err);
        throw err;
      }
      let accepted;
      try {
        accepted = await ctx.intake.accept(event, fields);
      } catch (err) {
        if (err instanceof InvalidEventError) throw badEvent(err);
        throw err;
      }
      res
        .status(accepted.duplicate ? 200 : 202)
        .json({ status: accepted.duplicate ? 'duplicate' : 'accepted', ...(accepted.eventId && { eventId: accepted.eventId }) });
    });
    return r;
  };

  return {
    id: ctx.id,
    kind: 'workspace-one',
    router,
    // The schema guarantees the client the delivery mode needs.
    deliver: (set) => (settings.delivery === 'uem-upload' ? uem!.uploadSmime(set) : eg!.upload(set)),
    undeliverable: async ({ user, device }) => (settings.delivery === 'uem-upload' ? uem!.uploadGap(user) : escrowGap(user, device)),
    ...(uem && { resolveUser: (event: MdmEvent): Promise<MdmUser> => uem.lookupUser(event.user, event.device.id) }),
  };
}

/** Reaches the Escrow Gateway with the client certificate and the UEM API with its credentials, whichever are configured. */
async function check(settings: WorkspaceOneSettings, id: string): Promise<HealthReport> {
  const eg = settings.escrowGateway && new EscrowGatewayClient(id, settings.escrowGateway);
  const uem = settings.uem && new UemApi(id, settings.uem);
  const checks: HealthReport['checks'] = [...(eg ? [{ name: 'escrow gateway', ...(await eg.check()) }] : []), ...(uem ? await uem.check() : [])];
  return { ok: checks.every((c) => c.ok), checks };
}

export const workspaceOne: ConnectorModule<WorkspaceOneSettings> = {
  kind: 'workspace-one',
  schema: workspaceOneSchema,
  create,
  inbound: () => ({ endpoints: [{ name: 'events', path: 'events' }] }),
  check,
  checkFiles: ({ escrowGateway: eg, uem }) =>
    fileProblems([
      [['escrowGateway', 'clientPkcs12'], () => eg && readPkcs12Setting(eg.clientPkcs12, eg.clientPkcs12Password, 'escrowGateway.clientPkcs12')],
      [['escrowGateway', 'serverCa'], () => eg?.serverCa && readCaSetting(eg.serverCa, 'escrowGateway.serverCa')],
      [['uem', 'serverCa'], () => uem?.serverCa && readCaSetting(uem.serverCa, 'uem.serverCa')],
    ]),
};
