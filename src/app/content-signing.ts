/**
 * The content-signing certificate of /mobile/v1 from configuration
 * (mobile.contentSigning, else the dev PKI's content-signing.pem), with the
 * previous one during a rollover. Keys are read here and used only through
 * a NativeSigner; an HSM would hand ContentSigning another Signer.
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import { ContentSigning, type SigningIdentity } from '../pki/content-signing.js';
import { devPkiFiles } from '../pki/dev-pki.js';
import { jwsAlgorithmOfSigner } from '../pki/jws.js';
import { readKeyFile } from '../pki/key-files.js';
import { NativeSigner } from '../pki/native-signer.js';
import { StartupError } from './errors.js';
import { readCertificates } from './ota.js';

export interface ContentSigningFiles {
  cert: string;
  key: string;
  chain: string[];
}

/** The files of the current content-signing certificate: configured, or the dev PKI's. */
export function contentSigningFiles(config: Config): ContentSigningFiles {
  const f = devPkiFiles(config.pki.dir);
  return config.mobile.contentSigning ?? { cert: f.contentSigningCert, key: f.contentSigningKey, chain: [f.issuingCert, f.rootCert] };
}

function identity(setting: string, paths: ContentSigningFiles, masterKey: Buffer | undefined, current: boolean): SigningIdentity {
  const certs = readCertificates(`${setting}.cert`, [paths.cert]);
  const chain = readCertificates(`${setting}.chain`, paths.chain);
  let key: KeyObject;
  try {
    key = readKeyFile(paths.key, masterKey);
  } catch (err) {
    throw new StartupError(`${setting}.key: ${(err as Error).message}`);
  }
  const cert = new X509Certificate(certs[0]!);
  if (!cert.checkPrivateKey(key)) throw new StartupError(`${setting}: ${paths.key} is not the key of ${paths.cert}`);
  let signer: NativeSigner;
  try {
    signer = new NativeSigner(key);
    jwsAlgorithmOfSigner(signer);
  } catch (err) {
    throw new StartupError(`${setting}.key: ${(err as Error).message}`);
  }
  if (signer.publicKey.asymmetricKeyType === 'rsa' && (signer.publicKey.asymmetricKeyDetails?.modulusLength ?? 0) < 2048)
    throw new StartupError(`${setting}.key: an RSA content-signing key must have at least 2048 bits`);
  // A previous certificate that has expired is simply no longer accepted; the current one must sign.
  if (current && Date.parse(cert.validTo) <= Date.now())
    throw new StartupError(`${setting}.cert: ${paths.cert} expired on ${cert.validTo}; configure a current certificate`);
  return { signer, cert: cert.raw, chain: [...certs.slice(1), ...chain] };
}

/** Builds the signer set; a missing dev file is told as the setting that would replace it. */
export function loadContentSigning(config: Config, masterKey: Buffer | undefined): ContentSigning {
  const paths = contentSigningFiles(config);
  if (!config.mobile.contentSigning && !existsSync(paths.cert)) {
    throw new StartupError(
      `mobile.contentSigning: not set, and there is no dev PKI ${paths.cert}; set mobile.contentSigning {cert, key, chain} or mobile.enabled: false`,
    );
  }
  const current = identity('mobile.contentSigning', paths, masterKey, true);
  const prev = config.mobile.contentSigning?.previous;
  if (!prev) return new ContentSigning(current);
  const previous = identity('mobile.contentSigning.previous', prev, masterKey, false);
  if (previous.cert.equals(current.cert))
    throw new StartupError('mobile.contentSigning.previous: is the current certificate; name the certificate being rolled over from');
  return new ContentSigning(current, { identity: previous, until: Date.parse(prev.until) });
}
