/**
 * pino logging with secrets redacted wherever they are likely to travel:
 * headers, request bodies, job payloads and error objects, up to three levels
 * deep. Request URLs are logged with secret-bearing query parameters masked.
 * Lines are JSON, or pino-pretty's readable form for a person at a terminal.
 */
import pino, { type DestinationStream, type Logger } from 'pino';
import { isColorSupported, prettyFactory } from 'pino-pretty';

export type { Logger };

/** Field names whose values are never written to a log. */
export const SECRET_KEYS = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'password',
  'passphrase',
  'pfxPassword',
  'encryptedPfxPassword',
  'encryptedPfxBlob',
  'client_assertion',
  'clientAssertion',
  'secret',
  'clientSecret',
  'client_secret',
  'token',
  // XenMobile's session header and login answer
  'auth_token',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'otp',
  'oneTimeCode',
  'challenge',
  'challengePassword',
  'privateKey',
  'private_key',
  'key',
  'keyPem',
  'pfx',
  'pkcs12',
  'p12',
  'masterKey',
] as const;

function redactPaths(): string[] {
  const paths: string[] = [];
  const prefixes = ['', '*.', '*.*.', '*.*.*.'];
  for (const key of SECRET_KEYS) {
    const seg = /^[A-Za-z_$][\w$]*$/.test(key) ? key : `["${key}"]`;
    for (const prefix of prefixes) {
      paths.push(prefix === '' ? seg : `${prefix}${seg}`.replace('.[', '['));
    }
  }
  return paths;
}

// Query strings also carry one-time enrollment codes (/ota?code=…); `code` is too common a field name to redact everywhere.
const SECRET_QUERY = new RegExp(`([?&](?:${[...SECRET_KEYS, 'code'].join('|')})=)[^&#]*`, 'gi');

/** Masks secret query parameters, e.g. /scep?message=...&challenge=x -> challenge=[Redacted]. */
export function safeUrl(url: string): string {
  return url.replace(SECRET_QUERY, '$1[Redacted]');
}

export type LogFormat = 'pretty' | 'json';

/** logging.format when set; otherwise pretty for a person at a terminal, JSON for whatever collects the output. */
export function logFormat(configured: LogFormat | undefined): LogFormat {
  return configured ?? (process.stdout.isTTY ? 'pretty' : 'json');
}

export interface LoggerOptions {
  level: string;
  /** json unless told otherwise. */
  format?: LogFormat;
  destination?: DestinationStream;
}

/** Rewrites each JSON line pino has serialized, so redaction has already happened when the line is made readable. */
function prettyDestination(out: DestinationStream, colorize: boolean): DestinationStream {
  const prettify = prettyFactory({ colorize, translateTime: 'SYS:standard', ignore: 'pid,hostname,service' });
  return { write: (line: string) => out.write(prettify(line)) };
}

export function createLogger(opts: LoggerOptions): Logger {
  const terminal = !opts.destination && Boolean(process.stdout.isTTY);
  // A person reads a terminal as it scrolls: lines go out at once, in order
  // with what the CLI prints there; elsewhere asynchronously, for throughput.
  const out = opts.destination ?? pino.destination({ dest: 1, sync: terminal });
  // Colours only on a terminal (and not under NO_COLOR): never escape codes in a file or a test's capture.
  const colorize = terminal && isColorSupported;
  return pino(
    {
      level: opts.level,
      base: { service: 'credgate' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: redactPaths(), censor: '[Redacted]' },
      serializers: { err: pino.stdSerializers.err },
    },
    opts.format === 'pretty' ? prettyDestination(out, colorize) : out,
  );
}
