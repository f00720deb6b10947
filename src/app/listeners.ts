/**
 * The gateway's listeners: HTTPS always, plain HTTP (server.http) and the
 * metrics listener (metrics.listener) when configured. Each serves the
 * front endpoints and mounts of the features that name it, in the order of
 * the features' list; the HTTPS one trusts the admin's client CAs and every
 * feature's.
 */
import type { RequestListener, Server as PlainServer } from 'node:http';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { createApp } from '../http/app.js';
import type { RequestObserver } from '../http/request-metrics.js';
import { routesOf, type RouteEntry } from '../http/route-list.js';
import { listen, listenPlain, ListenError } from '../http/server.js';
import { StartupError } from './errors.js';
import type { Feature, Listener } from './feature.js';
import type { TlsIdentity } from './pki-setup.js';

export interface Listeners {
  port: number;
  httpPort?: number;
  metricsPort?: number;
  /** The express routes the HTTPS listener serves (the front endpoints, such as SCEP's, are not among them). */
  routes: RouteEntry[];
  /** Stops accepting connections and closes the idle ones; resolves once every connection has closed. */
  close(): Promise<void>;
  /** Ends the connections still open after `ms`. */
  closeAllAfter(ms: number): void;
}

export async function openListeners(opts: {
  config: Config;
  log: Logger;
  observe?: RequestObserver;
  tls: TlsIdentity;
  features: Feature[];
}): Promise<Listeners> {
  const { config, log, tls, features } = opts;
  const app = (on: Listener): RequestListener & { routes: () => RouteEntry[] } => {
    const mounts = features.flatMap((f) => f.mounts).filter((m) => (m.on ?? ['https']).includes(on));
    const fronts = features.flatMap((f) => f.fronts).filter((e) => e.on.includes(on));
    // Requests for /metrics on its own listener are not themselves counted.
    const observe = on === 'metrics' ? undefined : opts.observe;
    const express = createApp({ log, ...(observe && { observe }), trustProxy: config.server.trustProxy, mounts });
    const listener: RequestListener = (req, res) => {
      const front = fronts.find((e) => e.handles(req));
      if (front) front.serve(req, res);
      else express(req, res);
    };
    return Object.assign(listener, { routes: () => routesOf(express) });
  };
  const servers: (Server | PlainServer)[] = [];
  const close = () => Promise.all(servers.map((srv) => new Promise<void>((resolve) => srv.close(() => resolve())))).then(() => undefined);
  const portOf = (srv: Server | PlainServer) => (srv.address() as AddressInfo).port;
  try {
    const clientCaPem = [...tls.clientCaPem, ...features.flatMap((f) => f.clientCas)];
    const httpsApp = app('https');
    const https = await listen(httpsApp, { host: config.server.host, port: config.server.port, certChainPem: tls.certChainPem, key: tls.key, clientCaPem });
    servers.push(https);
    let plain: PlainServer | undefined;
    if (config.server.http) {
      plain = await listenPlain(app('http'), { host: config.server.http.host ?? config.server.host, port: config.server.http.port });
      servers.push(plain);
    }
    let metrics: PlainServer | undefined;
    if (config.metrics.listener && features.some((f) => f.mounts.some((m) => m.on?.includes('metrics')))) {
      metrics = await listenPlain(app('metrics'), config.metrics.listener, 'metrics.listener.port');
      servers.push(metrics);
    }
    return {
      port: portOf(https),
      routes: httpsApp.routes(),
      ...(plain && { httpPort: portOf(plain) }),
      ...(metrics && { metricsPort: portOf(metrics) }),
      close() {
        const closed = close();
        for (const srv of servers) srv.closeIdleConnections();
        return closed;
      },
      closeAllAfter(ms) {
        setTimeout(() => {
          for (const srv of servers) srv.closeAllConnections();
        }, ms).unref();
      },
    };
  } catch (err) {
    await close();
    if (err instanceof ListenError) throw new StartupError(err.message);
    throw err;
  }
}
