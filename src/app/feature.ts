/**
 * The contract between startGateway (gateway.ts) and the features it
 * serves. Every feature is built from the same core services and hands back
 * the same shape: what to mount, the client CAs the HTTPS listener adds, its
 * job handlers, its /readyz checks, and how it starts and stops. The gateway
 * keeps one list of features and treats each the same way.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PassportStatic } from 'passport';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { OperatorScope } from '../identity/scope.js';
import type { Mount } from '../http/app.js';
import type { Guard } from '../http/auth/authenticate.js';
import type { ClientCertTrust } from '../http/auth/strategies.js';
import type { RequestObserver } from '../http/request-metrics.js';
import type { ReadinessCheck } from '../http/routes/ops.js';
import type { JobQueue } from '../jobs/queue.js';
import type { JobHandler, JobWorker } from '../jobs/worker.js';
import type { Metrics } from '../observability/metrics.js';
import type { Db } from '../store/db.js';
import type { JobRepository } from '../store/jobs.js';
import type { Issuance } from './issuance.js';

export type Authenticator = InstanceType<PassportStatic['Passport']>;

/** What every feature is built from. */
export interface CoreServices {
  config: Config;
  log: Logger;
  db: Db;
  masterKey: Buffer;
  /** server.publicUrl without its trailing slash, else https://localhost:<server.port>: what certificates and pages point at. */
  baseUrl: string;
  /** The base URL consoles are told to call: baseUrl, with the listener's real port once it is up (server.port 0). */
  consoleUrl(): string;
  /** server.bodyLimit in bytes. */
  bodyLimit: number;
  issuance: Issuance;
  /** Features hand their job handlers back (Feature.handlers); the gateway registers them before the worker starts. */
  jobs: { queue: JobQueue; repository: JobRepository; worker: JobWorker };
  auth: {
    /** Where features add passport strategies of their own (a connector's console certificates). */
    passport: Authenticator;
    /** The admin API's guard: auth.clientCertificates, auth.basic and API tokens. */
    admin: Guard;
    /** The admin's client-certificate trust (auth.clientCertificates.trust), before features add their CAs to the listener. */
    clientCertTrust: ClientCertTrust;
    /** Operator scope and rights (auth.roles): whom each admin API caller reaches. */
    scope: OperatorScope;
  };
  /** Both present when metrics.enabled: the registry /metrics shows, and what records each request in it. */
  metrics?: Metrics;
  observe?: RequestObserver;
}

/** The HTTPS listener (server.port), the plain-HTTP one (server.http) and the metrics one (metrics.listener). */
export type Listener = 'https' | 'http' | 'metrics';

export interface FeatureMount extends Mount {
  /** The listeners that serve it: the HTTPS one unless listed; a listener that is not configured serves nothing. */
  on?: Listener[];
}

/** Served on node's own request and response, ahead of express (src/http/scep-endpoint.ts says why). */
export interface FrontEndpoint {
  on: Listener[];
  handles(req: IncomingMessage): boolean;
  serve(req: IncomingMessage, res: ServerResponse): void;
}

export interface Feature {
  /** Express tries them in this order, after those of the features before this one in the gateway's list. */
  mounts: FeatureMount[];
  fronts: FrontEndpoint[];
  /** CAs (PEM) the HTTPS listener adds for client certificates this feature accepts. */
  clientCas: string[];
  /** By job type. */
  handlers: Record<string, JobHandler>;
  readiness: ReadinessCheck[];
  /** Starts background work once the listeners are up; it ends when `signal` aborts, as the gateway begins to stop. */
  start(signal: AbortSignal): void;
  /** Releases what the feature holds, once the listeners have drained and the job worker has stopped; features stop in reverse list order. */
  stop(): Promise<void>;
}

/** A feature with nothing to mount, trust, handle, check, start or stop but what `parts` gives it. */
export function feature(parts: Partial<Feature>): Feature {
  return { mounts: [], fronts: [], clientCas: [], handlers: {}, readiness: [], start: () => undefined, stop: async () => undefined, ...parts };
}

/** Runs `task` every `ms` until `signal` aborts; the timer never keeps the process alive by itself. */
export function every(ms: number, signal: AbortSignal, task: () => void): void {
  const timer = setInterval(task, ms);
  timer.unref();
  signal.addEventListener('abort', () => clearInterval(timer), { once: true });
}
