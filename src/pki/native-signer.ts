/**
 * Signs forge structures with OpenSSL through node:crypto. forge calls
 * `key.sign(md)` with a finished message digest; we wrap that digest in a
 * DigestInfo and apply the RSA private key natively (PKCS#1 v1.5), which is
 * what forge's pure-JS RSA would do, 60-100x faster and off the JS heap.
 */
import { constants, createPublicKey, privateEncrypt, type KeyObject } from 'node:crypto';
import forge from 'node-forge';

/** The CA key is used only through this interface (room for PKCS#11/HSM signers). */
export interface Signer {
  /** forge-compatible: returns the signature as a binary string. */
  sign(md: forge.md.MessageDigest): string;
  readonly publicKey: KeyObject;
}

const DIGEST_OIDS: Record<string, string> = {
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
};

export function digestInfo(algorithm: string, digest: Buffer): Buffer {
  const oid = DIGEST_OIDS[algorithm];
  if (!oid) throw new Error(`unsupported digest algorithm ${algorithm}`);
  const { asn1 } = forge;
  const der = asn1
    .toDer(
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
        asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
          asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(oid).getBytes()),
          asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, ''),
        ]),
        asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, digest.toString('binary')),
      ]),
    )
    .getBytes();
  return Buffer.from(der, 'binary');
}

export class NativeSigner implements Signer {
  readonly publicKey: KeyObject;

  constructor(private readonly privateKey: KeyObject) {
    if (privateKey.asymmetricKeyType !== 'rsa') throw new Error(`NativeSigner needs an RSA key, got ${privateKey.asymmetricKeyType}`);
    this.publicKey = createPublicKey(privateKey);
  }

  sign(md: forge.md.MessageDigest): string {
    const digest = Buffer.from(md.digest().getBytes(), 'binary');
    const signature = privateEncrypt({ key: this.privateKey, padding: constants.RSA_PKCS1_PADDING }, digestInfo(md.algorithm, digest));
    return signature.toString('binary');
  }
}
