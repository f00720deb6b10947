/**
 * HTTP/1.1 over TLS written byte by byte, for requests no well-behaved client
 * sends: any method and path bytes, a Content-Length that lies, broken
 * chunked framing, header combinations a client library refuses. One
 * request per connection (Connection: close); the answer is read until the
 * server closes, or the time runs out.
 */
import { connect } from 'node:tls';

export interface RawRequest {
  method: string;
  /** Sent as it is, bytes included (latin1). */
  path: string;
  headers?: [string, string][];
  body?: Buffer;
  /** Content-Length to claim; default the body's length. null sends none. */
  contentLength?: number | null;
  /**
   * Close the sending side once the request is written, as a client that
   * hangs up mid-body. Off by default: node's HTTP server drops a request
   * whose client half-closes before the answer is written.
   */
  hangUp?: boolean;
}

export interface RawAnswer {
  /** 0 when the server closed or the time ran out before a status line came. */
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** Why no status came: the socket's error, or "timeout". */
  failure?: string;
}

export interface RawTarget {
  port: number;
  ca: Buffer;
  /** A client certificate and key (PEM) to present. */
  cert?: Buffer;
  key?: Buffer;
  timeoutMs?: number;
  /** A loopback source address of its own (127.0.0.2, ...), for what the gateway counts per address. */
  localAddress?: string;
}

export function requestBytes(req: RawRequest): Buffer {
  const body = req.body ?? Buffer.alloc(0);
  const headers = [...(req.headers ?? [])];
  const named = (n: string) => headers.some(([k]) => k.toLowerCase() === n);
  if (!named('host')) headers.unshift(['Host', 'localhost']);
  if (
    req.contentLength !== null &&
    !named('content-length') &&
    !named('transfer-encoding') &&
    (body.length > 0 || req.contentLength !== undefined || !['GET', 'HEAD'].includes(req.method))
  ) {
    headers.push(['Content-Length', String(req.contentLength ?? body.length)]);
  }
  headers.push(['Connection', 'close']);
  const head = `${req.method} ${req.path} HTTP/1.1\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/** Splits an answer into status, headers and body; interim 1xx answers are skipped. */
export function parseAnswer(bytes: Buffer): RawAnswer {
  let rest = bytes;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) return { status: 0, headers: {}, body: rest };
    const lines = rest.subarray(0, end).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    rest = rest.subarray(end + 4);
    if (status >= 100 && status < 200) continue;
    return { status, headers, body: rest };
  }
}

export function rawHttps(target: RawTarget, req: RawRequest): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let failure: string | undefined;
    const socket = connect({
      host: '127.0.0.1',
      port: target.port,
      servername: 'localhost',
      ca: target.ca,
      ...(target.localAddress && { localAddress: target.localAddress }),
      ...(target.cert && { cert: target.cert, key: target.key }),
    });
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      const answer = parseAnswer(Buffer.concat(chunks));
      resolve(answer.status === 0 && failure ? { ...answer, failure } : answer);
    };
    const timer = setTimeout(() => {
      failure = 'timeout';
      done();
    }, target.timeoutMs ?? 5_000);
    socket.on('secureConnect', () => (req.hangUp ? socket.end(requestBytes(req)) : socket.write(requestBytes(req))));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', done);
    // A reset after the answer still leaves the answer; close follows.
    socket.on('error', (err: NodeJS.ErrnoException) => {
      failure ??= err.code ?? err.message;
    });
  });
}
