/** A real SMTP server (smtp-server) and an HTTP SMS gateway run by the test, keeping what they receive. */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

interface Inbox<T> {
  received: T[];
  /** The next item matching `match`, waiting for it to arrive. */
  next(match?: (item: T) => boolean, timeoutMs?: number): Promise<T>;
  push(item: T): void;
}

function inbox<T>(what: string): Inbox<T> {
  const received: T[] = [];
  const taken = new Set<T>();
  const waiters: (() => void)[] = [];
  return {
    received,
    push(item) {
      received.push(item);
      for (const w of waiters.splice(0)) w();
    },
    async next(match = () => true, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = received.find((m) => !taken.has(m) && match(m));
        if (found) {
          taken.add(found);
          return found;
        }
        if (Date.now() > deadline) throw new Error(`no ${what} arrived within ${timeoutMs} ms (${received.length} received)`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
    },
  };
}

export interface Mailbox extends Inbox<ParsedMail> {
  port: number;
  stop(): Promise<void>;
}

export async function startMailbox(): Promise<Mailbox> {
  const box = inbox<ParsedMail>('email');
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, callback) {
      simpleParser(stream).then(
        (mail) => {
          box.push(mail);
          callback();
        },
        (err: Error) => callback(err),
      );
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return { ...box, port, stop: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

export interface SmsRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface SmsGateway extends Inbox<SmsRequest> {
  url: string;
  /** Status the gateway answers with (200 unless a test wants it to fail). */
  status: number;
  stop(): Promise<void>;
}

export async function startSmsGateway(): Promise<SmsGateway> {
  const box = inbox<SmsRequest>('SMS');
  const gateway = { ...box, url: '', status: 200, stop: async () => undefined } as SmsGateway;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      box.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      res.writeHead(gateway.status, { 'Content-Type': 'application/json' }).end(JSON.stringify({ id: `msg-${box.received.length}` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  gateway.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  gateway.stop = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return gateway;
}
