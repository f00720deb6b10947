/**
 * The broker half of `credgate connectors test`: connects with the
 * subscriber's certificate but a client id of its own, so the running
 * subscriber's session is left alone and each subscription gets its own
 * copy of a message; subscribes to the topics as the subscriber does and
 * reports what the SUBACK granted (delivery-guarantee.ts). With
 * `session: persistent` it then reconnects with the same id and reports
 * whether the broker kept the session, and finally connects with a clean
 * session, which discards the probe's own (MQTT 3.1.1 section 3.1.2.4).
 *
 * A broker that grants every subscription and filters by its ACL on
 * delivery, as Mosquitto does, cannot be told apart here from one whose
 * ACL lets the certificate read the topics. Nor can a session that expires
 * after the gateway was away for a while (persistent_client_expiration):
 * the probe is away for a moment only.
 */
import mqtt, { type IConnackPacket, type MqttClient } from 'mqtt';
import { durationMs } from '../../src/config/duration.js';
import { withoutCredentials } from '../../src/config/secret-values.js';
import { describeShortfalls, isRefusal, REQUIRED_QOS, shortfalls } from './delivery-guarantee.js';
import { brokerOptions, brokerTopics, uniqueClientId, type BrokerTls } from './ens-subscriber.js';
import type { MobileIronSettings } from './schema.js';

type BrokerSettings = MobileIronSettings['broker'];
type Opened = { client: MqttClient; connack: IConnackPacket } | { error: string };

/** One connection: its client and CONNACK, or why there is none. */
function open(settings: BrokerSettings, tls: BrokerTls, clientId: string, clean: boolean): Promise<Opened> {
  return new Promise((resolve) => {
    const client = mqtt.connect(settings.url, { ...brokerOptions(settings, tls, clientId), clean });
    let lastError: string | undefined;
    const closed = () => client.end(true, {}, () => resolve({ error: lastError ?? 'connection closed' }));
    client.on('error', (err) => (lastError = err.message));
    client.once('close', closed);
    client.once('connect', (connack) => {
      client.off('close', closed);
      resolve({ client, connack });
    });
  });
}

const close = (client: MqttClient) => new Promise<void>((resolve) => client.end(false, {}, () => resolve()));

/** The SUBACK's return codes, refusals included; rejects when none arrives. */
function subscribe(client: MqttClient, topics: string[], timeoutMs: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no SUBACK within ${timeoutMs} ms`)), timeoutMs);
    // mqtt.js reports a refusal as an error, with the SUBACK beside it.
    client.subscribe(topics, { qos: REQUIRED_QOS }, (err, _grants, suback) => {
      clearTimeout(timer);
      const codes = suback?.granted as number[] | undefined;
      if (codes) resolve(codes);
      else reject(err ?? new Error('no SUBACK'));
    });
  });
}

export async function probeBroker(settings: BrokerSettings, tls: BrokerTls): Promise<{ ok: boolean; detail: string }> {
  const broker = withoutCredentials(settings.url);
  const topics = brokerTopics(settings);
  const persistent = settings.session === 'persistent';
  const clientId = uniqueClientId(settings.clientIdPrefix);
  const first = await open(settings, tls, clientId, !persistent);
  if ('error' in first) return { ok: false, detail: `${broker}: ${first.error}` };
  try {
    let codes: number[];
    try {
      codes = await subscribe(first.client, topics, durationMs(settings.connectTimeout));
    } catch (err) {
      return { ok: false, detail: `${broker}: subscribing failed: ${(err as Error).message}` };
    } finally {
      await close(first.client);
    }
    const short = shortfalls(topics, codes);
    const refused = short.filter((x) => isRefusal(x.code)).map((x) => x.topic);
    if (refused.length)
      return { ok: false, detail: `${broker} refused the subscription to ${refused.join(', ')}; the broker's ACL must let this certificate read them` };
    if (short.length) {
      return {
        ok: false,
        detail: `${broker} granted ${describeShortfalls(short)}: their events would arrive at most once; the broker must allow QoS ${REQUIRED_QOS} (Mosquitto: max_qos)`,
      };
    }
    const subscribed = `connected to ${broker}; subscribed to ${topics.join(', ')} at QoS ${REQUIRED_QOS}`;
    if (!persistent)
      return { ok: true, detail: `${subscribed}; clean session (broker.session: clean), so what is unacknowledged when the connection drops is lost` };
    const again = await open(settings, tls, clientId, false);
    if ('error' in again) return { ok: false, detail: `${broker}: reconnecting failed: ${again.error}` };
    await close(again.client);
    return again.connack.sessionPresent
      ? { ok: true, detail: `${subscribed}; the broker kept the session across a reconnect` }
      : {
          ok: false,
          detail: `${broker} kept no session for ${clientId} across a reconnect: events published while the gateway is disconnected would be lost; the broker must keep persistent sessions`,
        };
  } finally {
    if (persistent) {
      const discard = await open(settings, tls, clientId, true);
      if (!('error' in discard)) await close(discard.client);
    }
  }
}
