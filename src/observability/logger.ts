/**
 * pino JSON logging with secrets redacted wherever they are likely to travel:
 * headers, request bodies, job payloads and error objects, up to three levels
 * deep. Request URLs are logged with secret-bearing query parameters masked.
 */
import pino, { type DestinationStream, type Logger } from 'pino';

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

export interface LoggerOptions {
  level: string;
  destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    {
      level: opts.level,
      base: { service: 'credgate' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: redactPaths(), censor: '[Redacted]' },
      serializers: { err: pino.stdSerializers.err },
    },
    opts.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
