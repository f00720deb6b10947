/**
 * What `credgate serve` tells a person once it listens: where it is, how to
 * sign in as admin, which CA to trust, which config file it runs on and what
 * to try next. Plain text on stderr, so stdout stays a stream of log lines.
 * The admin PKCS#12 password is never shown: commands read it from its file.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { Config } from '../../config/schema.js';
import { devPkiFiles } from '../../pki/dev-pki.js';
import type { Gateway } from '../gateway.js';
import { usesDevPki } from '../pki-setup.js';
import { packageRoot } from './version.js';

export interface GuideInput {
  config: Config;
  /** The configuration file loaded; undefined when none was found and built-in defaults apply. */
  source: string | undefined;
  gateway: Pick<Gateway, 'url' | 'port' | 'httpPort' | 'generatedPki'>;
}

/** A person is likely watching, or this start made the admin credentials they now need. */
export const guideWanted = (gateway: Pick<Gateway, 'generatedPki'>) => Boolean(process.stdout.isTTY || process.stderr.isTTY) || gateway.generatedPki.length > 0;

/** As the operator would type it from here: relative below the working directory, absolute elsewhere. */
function shown(path: string): string {
  const rel = relative(process.cwd(), resolve(path));
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : resolve(path);
}

/** Quoted for a POSIX shell when it holds anything but plain path characters. */
const sh = (word: string) => (/^[\w./:@%+=,-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`);
/** Escaped for use inside a double-quoted shell word. */
const dq = (text: string) => text.replace(/[\\"$`]/g, '\\$&');

const bracketed = (host: string) => (host.includes(':') ? `[${host}]` : host);
/** A URL to this host for an address bound to all interfaces. */
const urlHost = (host: string) => (['0.0.0.0', '::', ''].includes(host) ? 'localhost' : bracketed(host));

export function startGuide({ config, source, gateway }: GuideInput): string {
  const f = devPkiFiles(config.pki.dir);
  const bin = shown(join(packageRoot(), 'bin/credgate.js'));
  const cli = sh(isAbsolute(bin) ? bin : `./${bin}`);
  const lines = ['', 'credgate is listening'];
  lines.push(`  HTTPS        ${gateway.url}  (admin API ${gateway.url}/api/v1)`);
  if (config.server.publicUrl) lines.push(`               bound to ${bracketed(config.server.host)}:${gateway.port}`);
  if (gateway.httpPort !== undefined) {
    lines.push(`  plain HTTP   http://${urlHost(config.server.http?.host ?? config.server.host)}:${gateway.httpPort}  (/scep and /pki only)`);
  }
  lines.push(`  config       ${source ? shown(source) : 'none found: built-in defaults'}`);

  const devPki = usesDevPki(config);
  const adminCert = devPki && existsSync(f.adminP12) && existsSync(f.adminPassword) && existsSync(f.adminCert);
  const cacert = devPki ? ['--cacert', sh(shown(f.rootCert))] : [];
  const whoami = `${gateway.url}/api/v1/whoami`;
  if (adminCert) {
    const p12 = shown(f.adminP12);
    const password = shown(f.adminPassword);
    lines.push(
      '',
      `Sign in as admin with the client certificate ${p12}; its password is in ${password}.`,
      `  browsers     import ${p12} with the password from ${password}`,
      `  fingerprint  SHA-256 ${new X509Certificate(readFileSync(f.adminCert)).fingerprint256}`,
    );
  }
  if (devPki) {
    const root = shown(f.rootCert);
    lines.push('', `Trust the root CA ${root}; the TLS certificate chains to it.`, `  Go clients such as scepclient: SSL_CERT_FILE=${sh(root)}`);
  }
  lines.push('', 'Try next:');
  if (adminCert) {
    lines.push(`  curl ${[...cacert, '--cert-type', 'P12', '--cert', `"${dq(shown(f.adminP12))}:$(cat ${sh(shown(f.adminPassword))})"`, whoami].join(' ')}`);
  } else {
    lines.push(`  TOKEN=$(${cli} tokens create --name ops --role admin)`, `  curl ${[...cacert, '-H', '"Authorization: Bearer $TOKEN"', whoami].join(' ')}`);
  }
  lines.push(`  ${cli} --help`, '');
  return lines.join('\n');
}
