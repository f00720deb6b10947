/**
 * The CA key is used only through a Signer. NativeSigner signs with OpenSSL
 * through node:crypto on libuv's thread pool, so an RSA-3072 signature
 * (~3.5 ms) does not hold the event loop; a PKCS#11/HSM signer would
 * implement the same interface.
 */
import { createPublicKey, sign, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';

const signAsync = promisify(sign);

/** AlgorithmIdentifier of a signature: OID and whether parameters are NULL (RSA) or absent (ECDSA). */
export interface SignatureAlgorithm {
  oid: string;
  nullParams: boolean;
}

export interface Signer {
  readonly publicKey: KeyObject;
  /** What sign() produces; written into the structures it signs. */
  readonly algorithm: SignatureAlgorithm;
  /** The hash sign() applies (sha256 for RSA and P-256, sha384 for P-384); CMS names it beside the signature. */
  readonly digest: string;
  /** Hashes and signs data; ECDSA signatures come DER-encoded as X.509 wants them. */
  sign(data: Buffer): Promise<Buffer>;
}

export const SHA256_WITH_RSA: SignatureAlgorithm = { oid: '1.2.840.113549.1.1.11', nullParams: true };
const ECDSA: Record<string, { digest: string; algorithm: SignatureAlgorithm }> = {
  prime256v1: { digest: 'sha256', algorithm: { oid: '1.2.840.10045.4.3.2', nullParams: false } },
  secp384r1: { digest: 'sha384', algorithm: { oid: '1.2.840.10045.4.3.3', nullParams: false } },
};

export class NativeSigner implements Signer {
  readonly publicKey: KeyObject;
  readonly algorithm: SignatureAlgorithm;
  readonly digest: string;

  constructor(private readonly privateKey: KeyObject) {
    this.publicKey = createPublicKey(privateKey);
    if (privateKey.asymmetricKeyType === 'rsa') {
      this.digest = 'sha256';
      this.algorithm = SHA256_WITH_RSA;
    } else {
      const curve = privateKey.asymmetricKeyType === 'ec' ? privateKey.asymmetricKeyDetails?.namedCurve : undefined;
      const ec = curve ? ECDSA[curve] : undefined;
      if (!ec) throw new Error(`a CA key must be RSA or EC P-256/P-384, got ${privateKey.asymmetricKeyType} ${curve ?? ''}`.trim());
      this.digest = ec.digest;
      this.algorithm = ec.algorithm;
    }
  }

  sign(data: Buffer): Promise<Buffer> {
    return signAsync(this.digest, data, this.privateKey);
  }
}
