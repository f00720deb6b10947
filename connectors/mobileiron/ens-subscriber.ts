/**
 * The MQTT side of the Event Notification Service: a TLS connection with a
 * client certificate, QoS 1 subscriptions made on every connect, and
 * at-least-once handling. A message is acknowledged (PUBACK) only after its
 * handler resolved, i.e. after its events were committed; when the handler
 * throws, the connection is dropped without the acknowledgement so the
 * broker delivers the message again on the resumed session.
 *
 * That promise holds only while the broker grants QoS 1 on every topic and
 * keeps the persistent session between connections (delivery-guarantee.ts):
 * a lower grant, a refused topic or a lost session is logged at error and
 * makes readiness() fail until a later connect finds it whole again.
 *
 * Reconnects are ours, not mqtt.js's (its reconnectPeriod is a fixed
 * interval): exponential backoff with full jitter, reset by a successful
 * connect.
 */
import { createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { durationMs } from '../../src/config/duration.js';
import { withoutCredentials } from '../../src/config/secret-values.js';
import { retryDelayMs } from '../../src/jobs/backoff.js';
import { readCaSetting, readSetting } from '../../src/connectors/setting-file.js';
import { describeShortfalls, isRefusal, REQUIRED_QOS, shortfalls } from './delivery-guarantee.js';
import type { MobileIronSettings } from './schema.js';

type BrokerSettings = MobileIronSettings['broker'];

export type MessageHandler = (topic: string, payload: Buffer) => Promise<void>;

/** Topics with the Neurons tenant prefix applied. */
export const brokerTopics = (s: BrokerSettings): string[] => s.topics.map((t) => (s.tenantPrefix ? `${s.tenantPrefix}/${t}` : t));

/** The PEM material of the broker connection, read and checked once at start-up. */
export interface BrokerTls {
  cert: Buffer;
  key: Buffer;
  passphrase?: string;
  ca?: Buffer;
}

/** Reads the certificate, key and CA; a file that is missing, a wrong passphrase or a key that is not the certificate's is named. */
export function loadBrokerTls(s: BrokerSettings): BrokerTls {
  const read = (file: string, setting: string) => readSetting(file, `broker.${setting}`);
  const { clientCertificate: cc } = s;
  const tls: BrokerTls = {
    cert: read(cc.cert, 'clientCertificate.cert'),
    key: read(cc.key, 'clientCertificate.key'),
    ...(s.ca && { ca: readCaSetting(s.ca, 'broker.ca') }),
  };
  if (cc.passphrase !== undefined) tls.passphrase = cc.passphrase;
  let key;
  try {
    key = createPrivateKey({ key: tls.key, ...(cc.passphrase !== undefined && { passphrase: cc.passphrase }) });
  } catch {
    throw new Error(`broker.clientCertificate.key: ${cc.key} is not a PEM private key, or its passphrase is wrong or missing`);
  }
  let cert;
  try {
    cert = new X509Certificate(tls.cert);
  } catch {
    throw new Error(`broker.clientCertificate.cert: ${cc.cert} is not a PEM certificate`);
  }
  if (!cert.checkPrivateKey(key)) throw new Error(`broker.clientCertificate: ${cc.key} is not the key of ${cc.cert}`);
  return tls;
}

/** TLS and MQTT options shared by the subscriber and the connection check. */
export function brokerOptions(s: BrokerSettings, tls: BrokerTls, clientId: string): IClientOptions {
  return {
    clientId,
    protocolVersion: 4,
    keepalive: Math.round(durationMs(s.keepalive) / 1000),
    connectTimeout: durationMs(s.connectTimeout),
    reconnectPeriod: 0,
    resubscribe: false,
    ...tls,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
  } as IClientOptions;
}

/** A client id no other connection shares: the configured prefix and 12 random hex digits. */
export const uniqueClientId = (prefix: string) => `${prefix}${randomBytes(6).toString('hex')}`;

export class EnsSubscriber {
  /** One id for the life of this process (or the configured one), so reconnects resume the broker session. */
  readonly clientId: string;
  /** broker.url as logged: a user and password in it are not. */
  private readonly broker: string;
  private client: MqttClient | undefined;
  private attempts = 0;
  private lastError: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The broker acknowledged a persistent session for clientId in this process: every later connect must find it. */
  private hadSession = false;
  /** The SUBACK of the current connection arrived. */
  private subscribed = false;
  /** Why delivery is not at least once, as found by the latest connect and SUBACK. */
  private shortfall: string | undefined;

  constructor(
    private readonly settings: BrokerSettings,
    private readonly tls: BrokerTls,
    private readonly handle: MessageHandler,
    private readonly log: Logger,
  ) {
    this.clientId = settings.clientId ?? uniqueClientId(settings.clientIdPrefix);
    this.broker = withoutCredentials(settings.url);
  }

  get connected(): boolean {
    return this.client?.connected === true;
  }

  /**
   * For /readyz: a short status while messages arrive at least once (or will,
   * once connected: a persistent session keeps them meanwhile); throws with
   * the reason while the broker's grant or a lost session breaks that.
   */
  readiness(): string {
    if (this.shortfall) throw new Error(this.shortfall);
    return this.connected && this.subscribed ? 'subscribed' : 'connecting';
  }

  /** Connects and keeps reconnecting until the signal aborts; resolves once the connection is closed. */
  start(signal: AbortSignal): Promise<void> {
    const topics = brokerTopics(this.settings);
    const persistent = this.settings.session === 'persistent';
    const client = mqtt.connect(this.settings.url, { ...brokerOptions(this.settings, this.tls, this.clientId), clean: !persistent });
    this.client = client;
    const backoff = { baseMs: durationMs(this.settings.reconnect.initial), maxMs: durationMs(this.settings.reconnect.max) };
    const where = { broker: this.broker, clientId: this.clientId };

    client.handleMessage = (packet, done) => {
      this.handle(packet.topic, packet.payload as Buffer).then(
        () => done(),
        (err: unknown) => {
          if (packet.qos === 0)
            this.log.error({ err, topic: packet.topic, qos: 0 }, 'ENS message not handled and lost: it came at QoS 0, so the broker will not deliver it again');
          else this.log.error({ err, topic: packet.topic }, 'ENS message not handled; reconnecting so the broker delivers it again');
          done(err as Error);
          client.stream.destroy();
        },
      );
    };
    client.on('connect', (connack) => {
      this.attempts = 0;
      this.lastError = undefined;
      this.subscribed = false;
      this.log.info({ ...where, sessionPresent: connack.sessionPresent }, 'connected to the Event Notification Service');
      let lost: string | undefined;
      if (persistent && !connack.sessionPresent) {
        if (this.hadSession) {
          lost = `${this.broker} lost the persistent session of ${this.clientId}: events published while the gateway was disconnected, and any not yet acknowledged, may never arrive`;
          this.shortfall = lost;
          this.log.error(
            { ...where, sessionPresent: false },
            'the broker lost the persistent session: events published while the gateway was disconnected may never arrive (the broker must keep sessions across its restarts and for longer than the gateway can be away)',
          );
        } else if (this.settings.clientId) {
          this.log.warn(
            { ...where, sessionPresent: false },
            'the broker holds no session for this client id: if a gateway used it before, events published since it stopped are lost',
          );
        }
      }
      if (persistent) this.hadSession = true;
      client.subscribe(topics, { qos: REQUIRED_QOS }, (err, _grants, suback) => {
        // mqtt.js reports a refusal as an error, with the SUBACK beside it; without one the connection went first.
        const codes = suback?.granted as number[] | undefined;
        if (!codes) return this.log.error({ err, topics }, 'subscribing failed; the next connect subscribes again');
        this.subscribed = true;
        const short = shortfalls(topics, codes);
        const refused = short.filter((x) => isRefusal(x.code));
        const lower = short.filter((x) => !isRefusal(x.code));
        if (refused.length)
          this.log.error(
            { ...where, topics: refused.map((x) => x.topic), granted: describeShortfalls(refused) },
            'the broker refused these subscriptions: their events never arrive (its ACL must let this certificate read them; on Core, an admin with the CPS role)',
          );
        if (lower.length)
          this.log.error(
            { ...where, topics: lower.map((x) => x.topic), granted: describeShortfalls(lower) },
            `the broker granted less than QoS ${REQUIRED_QOS}: events on these topics arrive at most once, and one whose handling fails is lost (the broker must allow QoS ${REQUIRED_QOS})`,
          );
        const reasons = [
          lost,
          short.length ? `${this.broker} granted ${describeShortfalls(short)}; at-least-once delivery needs QoS ${REQUIRED_QOS}` : undefined,
        ].filter(Boolean);
        this.shortfall = reasons.length ? reasons.join('; ') : undefined;
        if (!short.length) this.log.info({ ...where, topics, qos: REQUIRED_QOS }, 'subscribed');
      });
    });
    client.on('error', (err) => {
      this.lastError = err.message;
    });
    client.on('close', () => {
      this.subscribed = false;
      if (signal.aborted || this.timer) return;
      this.attempts += 1;
      const delay = retryDelayMs(this.attempts, backoff);
      this.log.warn(
        { broker: this.broker, attempt: this.attempts, retryInMs: delay, reason: this.lastError ?? 'connection closed' },
        'ENS connection lost; reconnecting',
      );
      this.timer = setTimeout(() => {
        this.timer = undefined;
        if (!signal.aborted) client.reconnect();
      }, delay);
    });

    return new Promise((resolve) => {
      const stop = () => {
        clearTimeout(this.timer);
        client.end(true, {}, () => resolve());
      };
      if (signal.aborted) stop();
      else signal.addEventListener('abort', stop, { once: true });
    });
  }
}
