/**
 * Settings that would put keys, one-time codes or credentials within reach of
 * others. `credgate serve` refuses to start with any of them and
 * `credgate config check` reports them; each problem is one line that says
 * how to fix it.
 */
import { existsSync, statSync } from 'node:fs';
import type { LoadedConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { masterKeyPath } from '../pki/master-key.js';

/** Header and query parameter names that carry credentials (Authorization, X-API-Key, api_key, token, password...). */
const CREDENTIAL_NAME = /auth|token|secret|key|pass|pwd|sig|credential|session|cookie/i;

const mode = (bits: number) => `0${(bits & 0o777).toString(8)}`;

/** The master key file, when that is where the key comes from, must be the owner's alone. */
function masterKeyFile(config: Config, env: NodeJS.ProcessEnv): string | undefined {
  if (config.pki.masterKey || env.CREDGATE_MASTER_KEY || process.platform === 'win32') return undefined;
  const file = masterKeyPath(config.pki.dir);
  if (!existsSync(file)) return undefined; // the first start writes it 0600
  const stat = statSync(file);
  if (!stat.isFile()) return undefined; // unreadable as a key: resolveMasterKey says so
  const bits = stat.mode;
  if ((bits & 0o077) === 0) return undefined;
  return `${file}: the master key file is open to group or others (mode ${mode(bits)}); run chmod 600 ${file}`;
}

function inlineMasterKey({ config, source, inlineSecrets }: LoadedConfig): string | undefined {
  if (!inlineSecrets.includes('pki.masterKey') || config.pki.allowInlineMasterKey) return undefined;
  return `pki.masterKey: the master key is written out in ${source ?? 'the configuration file'}, so whoever reads the file can unwrap every private key; set CREDGATE_MASTER_KEY (or pki.masterKey: \${VAR}) instead, or set pki.allowInlineMasterKey: true to keep it there`;
}

function plainPublicUrl(config: Config): string | undefined {
  const url = config.server.publicUrl;
  if (!url || new URL(url).protocol !== 'http:') return undefined;
  return 'server.publicUrl: an http:// URL would send one-time codes and enrollment links in clear; use an https:// URL (also behind a TLS proxy)';
}

function plainSmtpCredentials(config: Config): string | undefined {
  const email = config.notify.email;
  if (!email || (email.user === undefined && email.password === undefined) || email.secure || email.requireTls) return undefined;
  return `notify.email: the SMTP user and password would go to ${email.host} without TLS; set notify.email.requireTls: true (STARTTLS) or secure: true (TLS, usually port 465)`;
}

/** What in an SMS gateway's settings authenticates to it. */
function smsCredentials(sms: NonNullable<Config['notify']['sms']>, url: URL): string[] {
  return [
    ...(url.username || url.password ? ['a user name or password in notify.sms.url'] : []),
    ...[...url.searchParams.keys()].filter((k) => CREDENTIAL_NAME.test(k)).map((k) => `the ${k} parameter of notify.sms.url`),
    ...Object.keys(sms.headers)
      .filter((h) => CREDENTIAL_NAME.test(h))
      .map((h) => `the ${h} header`),
  ];
}

function plainSmsCredentials(config: Config): string | undefined {
  const sms = config.notify.sms;
  if (!sms) return undefined;
  const url = new URL(sms.url);
  if (url.protocol !== 'http:') return undefined;
  const credentials = smsCredentials(sms, url);
  if (credentials.length === 0) return undefined;
  const listed = credentials.length > 1 ? `${credentials.slice(0, -1).join(', ')} and ${credentials[credentials.length - 1]}` : credentials[0];
  return `notify.sms: ${listed} would go to the SMS gateway over http:// in clear; use the gateway's https:// URL`;
}

/** Every unsafe setting of the loaded configuration, one line each; empty when there is none. */
export function unsafeSettings(loaded: LoadedConfig, env: NodeJS.ProcessEnv = process.env): string[] {
  const { config } = loaded;
  return [masterKeyFile(config, env), inlineMasterKey(loaded), plainPublicUrl(config), plainSmtpCredentials(config), plainSmsCredentials(config)].filter(
    (p): p is string => p !== undefined,
  );
}
