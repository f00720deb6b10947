/**
 * PKCS#10 requests made by `openssl req`, an implementation independent of
 * the project's own: any subject (several CNs, multi-valued RDNs), any
 * requested extension (-addext), and a challengePassword attribute.
 */
import type { KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openssl } from './openssl.js';
import { tempDir } from './tmp.js';

export interface OpensslCsrOptions {
  /** OpenSSL's -subj form, e.g. "/CN=a/O=b" ("+" between attributes of one RDN; "/" and "+" are never part of a value here). */
  subject: string;
  /** -addext values, e.g. "subjectAltName=DNS:x.example.com" or "basicConstraints=critical,CA:TRUE". */
  addext?: string[];
  challenge?: string;
  /** Extra config sections -addext values refer to (e.g. a dirName's). */
  sections?: Record<string, string[]>;
}

export function opensslCsr(key: KeyObject, o: OpensslCsrOptions): Buffer {
  const dir = tempDir();
  const keyFile = join(dir, 'key.pem');
  writeFileSync(keyFile, key.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const config = join(dir, 'req.cnf');
  // The subject goes in the config file, not -subj: with -subj, openssl req leaves the challengePassword attribute out.
  const dn = o.subject
    .split('/')
    .filter(Boolean)
    .flatMap((rdn, i) => rdn.split('+').map((atv, j) => `${i}.${j ? '+' : ''}${atv.slice(0, atv.indexOf('='))} = ${atv.slice(atv.indexOf('=') + 1)}`));
  const sections = Object.entries(o.sections ?? {}).flatMap(([name, lines]) => [`[${name}]`, ...lines]);
  const challenge = o.challenge === undefined ? [] : [`challengePassword = ${o.challenge}`];
  writeFileSync(
    config,
    [
      '[req]',
      'distinguished_name = dn',
      'attributes = attrs',
      'prompt = no',
      'utf8 = yes',
      'string_mask = utf8only',
      '[dn]',
      ...dn,
      '[attrs]',
      ...challenge,
      ...sections,
      '',
    ].join('\n'),
  );
  const out = join(dir, 'req.der');
  openssl(['req', '-new', '-config', config, '-key', keyFile, '-sha256', '-outform', 'DER', '-out', out, ...(o.addext ?? []).flatMap((e) => ['-addext', e])]);
  return readFileSync(out);
}
