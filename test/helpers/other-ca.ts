/**
 * Another bank's CA and the end-entity PKCS#12 files it issues, made by
 * openssl: what an administrator uploads as a certificate issued elsewhere
 * (POST /api/v1/users/{ref}/certificates).
 */
import { join } from 'node:path';
import { openssl } from './openssl.js';

export interface OtherCa {
  /** The folder the CA and what it issues are written to. */
  dir: string;
  cert: string;
  key: string;
}

/** A self-signed RSA-2048 CA certificate (basicConstraints CA:TRUE, and `keyUsage` when given) and its key, as `name`.pem and `name`-key.pem. */
export function makeOtherCa(dir: string, o: { name?: string; subject: string; days: number; keyUsage?: string }): OtherCa {
  const name = o.name ?? 'other-ca';
  const ca = { dir, cert: join(dir, `${name}.pem`), key: join(dir, `${name}-key.pem`) };
  openssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    ca.key,
    '-out',
    ca.cert,
    '-days',
    String(o.days),
    '-subj',
    o.subject,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    ...(o.keyUsage ? ['-addext', `keyUsage=critical,${o.keyUsage}`] : []),
  ]);
  return ca;
}

/**
 * A new RSA-2048 key, its certificate from `ca` with the extensions of
 * `extfile` (its section `extensions`, when given), and the PKCS#12
 * `openssl pkcs12 -export` makes of them with the CA certificate, as
 * `name`-key.pem, `name`.pem and `name`.p12 in the CA's folder.
 */
export function issueOtherPkcs12(
  ca: OtherCa,
  o: { name: string; subject: string; days: number; extfile: string; extensions?: string; password: string },
): { key: string; cert: string; p12: string } {
  const f = (suffix: string) => join(ca.dir, `${o.name}${suffix}`);
  const out = { key: f('-key.pem'), cert: f('.pem'), p12: f('.p12') };
  openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', out.key, '-out', f('.csr'), '-subj', o.subject]);
  openssl([
    'x509',
    '-req',
    '-in',
    f('.csr'),
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-days',
    String(o.days),
    '-extfile',
    o.extfile,
    ...(o.extensions ? ['-extensions', o.extensions] : []),
    '-out',
    out.cert,
  ]);
  openssl(['pkcs12', '-export', '-inkey', out.key, '-in', out.cert, '-certfile', ca.cert, '-out', out.p12, '-passout', `pass:${o.password}`]);
  return out;
}
