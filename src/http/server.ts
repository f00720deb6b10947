/**
 * The HTTPS listener asks every client for a certificate but does not
 * require one: routes decide (passport strategies) what they accept. An
 * optional plain-HTTP listener serves only what protects itself (SCEP
 * messages are signed and encrypted; CRLs, OCSP answers and CA certificates
 * are signed), as SCEP clients and CRL/OCSP fetchers expect.
 */
import { createServer, type Server } from 'node:https';
import { createServer as createPlainServer, type RequestListener, type Server as PlainServer } from 'node:http';
import { constants, type KeyObject } from 'node:crypto';

export interface ListenOptions {
  host: string;
  port: number;
  certChainPem: string;
  key: KeyObject;
  /** PEM bundle of CAs trusted to sign client certificates. */
  clientCaPem: string[];
}

export class ListenError extends Error {}

export function listen(app: RequestListener, opts: ListenOptions): Promise<Server> {
  const server = createServer(
    {
      cert: opts.certChainPem,
      key: opts.key.export({ type: 'pkcs8', format: 'pem' }),
      ca: opts.clientCaPem,
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      // A connection's client certificate must not change under a cached principal.
      secureOptions: constants.SSL_OP_NO_RENEGOTIATION,
    },
    app,
  );
  return start(server, opts, 'server.port (CREDGATE_SERVER__PORT)');
}

/** `setting` names the config key of the port, for the error message when it is taken. */
export function listenPlain(app: RequestListener, opts: { host: string; port: number }, setting = 'server.http.port'): Promise<PlainServer> {
  return start(createPlainServer(app), opts, setting);
}

/** `setting` names the config key that moves the port, for the error message. */
function start<S extends Server | PlainServer>(server: S, opts: { host: string; port: number }, setting: string): Promise<S> {
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 60_000;
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') reject(new ListenError(`port ${opts.port} on ${opts.host} is already in use; stop the other process or set ${setting}`));
      else if (err.code === 'EACCES') reject(new ListenError(`not allowed to listen on port ${opts.port}; use a port above 1023 or grant the capability`));
      else if (err.code === 'EADDRNOTAVAIL') reject(new ListenError(`${opts.host} is not an address of this machine; fix the listener's host`));
      else if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN')
        reject(new ListenError(`${opts.host} is no name this machine can resolve; fix the listener's host`));
      else reject(err);
    });
    server.listen(opts.port, opts.host, () => resolve(server));
  });
}
