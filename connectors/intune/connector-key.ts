/**
 * The public half of the PFX encryption key on the Intune Certificate
 * Connector host, which every PKCS#12 password is encrypted to. The
 * PFXImport PowerShell module's `Export-IntunePublicKey` writes it as a CNG
 * RSA public key blob unless given `-FileFormat PEM`, and the Intune article
 * "Configure and use imported PKCS certificates with Intune" shows the
 * command without that option, so both forms are read: PEM (SPKI or PKCS#1),
 * and the blob as a file or inline in base64.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * BCRYPT_RSAKEY_BLOB ("BCRYPT_RSAKEY_BLOB structure (bcrypt.h)", Windows
 * documentation): six little-endian ULONGs (Magic, BitLength, cbPublicExp,
 * cbModulus, cbPrime1, cbPrime2), then the big-endian exponent and modulus.
 */
const HEADER_BYTES = 24;
const MAGIC = { public: 0x31415352, private: 0x32415352, fullPrivate: 0x33415352 } as const; // "RSA1", "RSA2", "RSA3"

const isCngBlob = (b: Buffer) => b.length >= 4 && (Object.values(MAGIC) as number[]).includes(b.readUInt32LE(0));

/** Leading zero bytes dropped: JWK integers are minimal (RFC 7518 §6.3.1). */
const minimal = (b: Buffer) => {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
};

const bitLength = (n: Buffer) => (n.length === 0 || n[0] === 0 ? 0 : (n.length - 1) * 8 + n[0]!.toString(2).length);

/** The RSA public key of a BCRYPT_RSAPUBLIC_BLOB; a private key blob is refused, it has no place on this host. */
export function fromCngBlob(blob: Buffer): KeyObject {
  if (blob.length < HEADER_BYTES) throw new Error(`a CNG key blob is at least ${HEADER_BYTES} bytes (its BCRYPT_RSAKEY_BLOB header), this one ${blob.length}`);
  const magic = blob.readUInt32LE(0);
  if (magic === MAGIC.private || magic === MAGIC.fullPrivate) {
    throw new Error(
      'the CNG key blob holds the private key; give the public key Export-IntunePublicKey writes, and keep the private key on the connector host',
    );
  }
  if (magic !== MAGIC.public) throw new Error('not a CNG RSA public key blob (its magic is not RSA1)');
  const [bits, cbPublicExp, cbModulus, cbPrime1, cbPrime2] = [4, 8, 12, 16, 20].map((at) => blob.readUInt32LE(at)) as [number, number, number, number, number];
  if (cbPrime1 !== 0 || cbPrime2 !== 0 || cbPublicExp === 0 || cbModulus === 0 || blob.length !== HEADER_BYTES + cbPublicExp + cbModulus) {
    throw new Error(`the CNG RSA public key blob's lengths (exponent ${cbPublicExp}, modulus ${cbModulus} bytes) do not add up to its ${blob.length} bytes`);
  }
  const e = minimal(blob.subarray(HEADER_BYTES, HEADER_BYTES + cbPublicExp));
  const n = minimal(blob.subarray(HEADER_BYTES + cbPublicExp));
  if (bitLength(n) !== bits) throw new Error(`the CNG RSA public key blob says ${bits} bits, its modulus has ${bitLength(n)}`);
  return createPublicKey({ key: { kty: 'RSA', n: n.toString('base64url'), e: e.toString('base64url') }, format: 'jwk' });
}

/** Inline base64 that decodes to a CNG key blob, or undefined (then the value is a path). */
function inlineBlob(value: string): Buffer | undefined {
  const compact = value.replace(/\s+/g, '');
  if (compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) return undefined;
  const bytes = Buffer.from(compact, 'base64');
  return isCngBlob(bytes) ? bytes : undefined;
}

/** A PEM public key; createPublicKey would take a private key too, and derive its public half. */
function fromPem(pem: string): KeyObject {
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem))
    throw new Error('that PEM holds a private key; give the public key, and keep the private key on the connector host');
  return createPublicKey(pem);
}

/**
 * The connector's RSA public key from `pfxImport.connectorPublicKey`: inline
 * PEM, inline base64 of the CNG blob, or a path to a file holding either.
 */
export function readConnectorKey(value: string): KeyObject {
  let key: KeyObject;
  if (value.includes('-----BEGIN')) key = fromPem(value);
  else {
    const bytes = inlineBlob(value) ?? readFileSync(value);
    if (isCngBlob(bytes)) key = fromCngBlob(bytes);
    else if (bytes.includes('-----BEGIN')) key = fromPem(bytes.toString('utf8'));
    else throw new Error(`${value} holds neither a PEM public key nor a CNG RSA public key blob`);
  }
  if (key.asymmetricKeyType !== 'rsa') throw new Error(`expected an RSA public key, got ${key.asymmetricKeyType ?? 'an unknown key type'}`);
  return key;
}
