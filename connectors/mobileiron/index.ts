/**
 * MobileIron Core / Ivanti EPMM and Ivanti Neurons for MDM: device events in
 * over the Event Notification Service (MQTT), user-provided PKCS#12 files
 * out to Core's REST API v2. Core also enrolls at our SCEP server (a
 * static-challenge profile) in Centralized mode. The wire contract, what
 * public documentation confirms of it and what is assumed:
 * docs/vendors/mobileiron.md.
 */
import { Agent } from 'node:https';
import axios from 'axios';
import type { Connector, HealthReport, MdmEvent, MdmUser } from '../../src/connectors/connector.js';
import { withoutCredentials } from '../../src/config/secret-values.js';
import { InvalidEventError } from '../../src/connectors/intake.js';
import type { ConnectorContext, ConnectorModule } from '../../src/connectors/module.js';
import { CoreApi } from './core-api.js';
import { fileProblems, readCaSetting } from '../../src/connectors/setting-file.js';
import { probeBroker } from './broker-check.js';
import { brokerTopics, EnsSubscriber, loadBrokerTls } from './ens-subscriber.js';
import { EnsMessageError, parseEnsMessage } from './event.js';
import { mobileIronSchema, type MobileIronSettings } from './schema.js';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Asks the SCEP URL entered in Core for its capabilities, as Core would. */
async function probeScep(scep: { url: string; serverCa?: string | undefined }): Promise<{ ok: boolean; detail: string }> {
  try {
    const res = await axios.get(scep.url, {
      params: { operation: 'GetCACaps' },
      timeout: 10_000,
      responseType: 'text',
      validateStatus: () => true,
      proxy: false,
      ...(scep.serverCa && { httpsAgent: new Agent({ ca: readCaSetting(scep.serverCa, 'scep.serverCa') }) }),
    });
    return res.status === 200 && /POSTPKIOperation/.test(String(res.data))
      ? { ok: true, detail: `${scep.url} answers GetCACaps` }
      : { ok: false, detail: `${scep.url} answered ${res.status}` };
  } catch (err) {
    return { ok: false, detail: `${scep.url}: ${(err as Error).message}` };
  }
}

function create(settings: MobileIronSettings, ctx: ConnectorContext): Connector {
  const core = new CoreApi(ctx.id, settings.coreApi);
  const issues = settings.policy.enrolled.signing !== undefined || settings.policy.enrolled.encryption !== undefined;
  const tls = loadBrokerTls(settings.broker);

  const onMessage = async (topic: string, payload: Buffer): Promise<void> => {
    let parsed;
    try {
      parsed = parseEnsMessage(ctx.id, topic, payload);
    } catch (err) {
      if (!(err instanceof EnsMessageError)) throw err;
      // Acknowledged and dropped: redelivering a message that cannot be read would not make it readable.
      ctx.log.warn({ topic, reason: err.message, bytes: payload.length }, 'ENS message ignored');
      return;
    }
    for (const r of parsed.refused) {
      ctx.log.warn(
        { topic, vendorType: parsed.vendorType, device: r.deviceGuid, field: r.field, reason: r.problem },
        'ENS device ignored: a field failed the text check',
      );
    }
    for (const { event, payload: stored, dropped } of parsed.events) {
      if (dropped.length)
        ctx.log.warn(
          { topic, vendorType: parsed.vendorType, device: event.device.id, left: dropped },
          'ENS departure accepted without the fields that failed the text check',
        );
      const gap = event.type === 'enrolled' && issues ? core.uploadGap(event.user) : undefined;
      if (gap) {
        // Left out before it is stored: Core could never take its credentials, so none are issued.
        ctx.log.warn(
          { topic, vendorType: parsed.vendorType, device: event.device.id, reason: gap },
          'ENS enrollment ignored: its credentials could not be delivered',
        );
        continue;
      }
      let accepted;
      try {
        accepted = await ctx.intake.accept(event, stored);
      } catch (err) {
        if (!(err instanceof InvalidEventError)) throw err;
        ctx.log.warn({ topic, vendorType: parsed.vendorType, reason: err.message }, 'ENS event ignored');
        continue;
      }
      ctx.log.info(
        { topic, vendorType: parsed.vendorType, device: event.device.id, ...accepted },
        accepted.duplicate ? 'ENS event already received' : 'ENS event accepted',
      );
    }
  };

  const resolveUser = async (event: MdmEvent): Promise<MdmUser> => {
    const found = await core.lookupUser(event.device.id);
    if (found.email) return found;
    const userId = event.user.vendorId;
    return settings.emailFromUserId && userId && EMAIL.test(userId) ? { email: userId } : {};
  };

  const subscriber = new EnsSubscriber(settings.broker, tls, onMessage, ctx.log);
  return {
    id: ctx.id,
    kind: 'mobileiron',
    start: (signal) => subscriber.start(signal),
    readiness: async () => subscriber.readiness(),
    deliver: (set) => core.upload(set),
    undeliverable: async ({ user }) => core.uploadGap(user),
    resolveUser,
  };
}

/** The broker with the subscriber's certificate and topics, Core's API with its credentials, and the SCEP URL entered in Core. */
async function check(settings: MobileIronSettings, id: string): Promise<HealthReport> {
  const tls = loadBrokerTls(settings.broker);
  const core = new CoreApi(id, settings.coreApi);
  const checks = [
    { name: 'broker', ...(await probeBroker(settings.broker, tls)) },
    { name: 'core-api', ...(await core.ping()) },
    ...(settings.scep?.url ? [{ name: 'scep', ...(await probeScep({ url: settings.scep.url, serverCa: settings.scep.serverCa })) }] : []),
  ];
  return { ok: checks.every((c) => c.ok), checks };
}

export const mobileIron: ConnectorModule<MobileIronSettings> = {
  kind: 'mobileiron',
  schema: mobileIronSchema,
  create,
  inbound: (settings) => ({ endpoints: [], events: `over MQTT from ${withoutCredentials(settings.broker.url)} (${brokerTopics(settings.broker).join(', ')})` }),
  check,
  checkFiles: ({ broker, coreApi, scep }) =>
    fileProblems([
      [['broker'], () => loadBrokerTls(broker)],
      [['coreApi', 'serverCa'], () => coreApi.serverCa && readCaSetting(coreApi.serverCa, 'coreApi.serverCa')],
      [['scep', 'serverCa'], () => scep?.serverCa && readCaSetting(scep.serverCa, 'scep.serverCa')],
    ]),
  scepProfiles: ({ scep }) => (scep ? [{ path: ['scep', 'profile'], profile: scep.profile, reason: "Core's Centralized SCEP sends one shared password" }] : []),
};
