/**
 * The PKCS#12 password-based key derivation (RFC 7292 appendix B.2), which
 * the `apple` profile's 3DES encryption and every PKCS#12 MAC use. OpenSSL
 * does not expose it through node:crypto, so the loop is written here over
 * native hashing, about twice as fast as forge's JavaScript SHA-1.
 */
import { hash } from 'node:crypto';

export type KdfPurpose = 1 | 2 | 3; // 1 = key, 2 = IV, 3 = MAC key

// SHA-384 and SHA-512 MACs are what files made elsewhere may use (src/pki/pkcs12-reader.ts).
const HASH = { sha1: { u: 20, v: 64 }, sha256: { u: 32, v: 64 }, sha384: { u: 48, v: 128 }, sha512: { u: 64, v: 128 } } as const;

/** BMPString with its two-byte terminator: UTF-16BE code units, as the RFC specifies. */
function bmpPassword(password: string): Buffer {
  const out = Buffer.alloc(2 * password.length + 2);
  for (let i = 0; i < password.length; i++) out.writeUInt16BE(password.charCodeAt(i), 2 * i);
  return out;
}

/** Repeats data to fill a whole number of v-byte blocks (empty stays empty). */
function fill(data: Buffer, v: number): Buffer {
  const out = Buffer.alloc(v * Math.ceil(data.length / v));
  for (let i = 0; i < out.length; i++) out[i] = data[i % data.length]!;
  return out;
}

export function pkcs12Kdf(password: string, salt: Buffer, purpose: KdfPurpose, iterations: number, size: number, md: keyof typeof HASH): Buffer {
  const { u, v } = HASH[md];
  const D = Buffer.alloc(v, purpose);
  const I = Buffer.concat([fill(salt, v), fill(bmpPassword(password), v)]);
  const out = Buffer.alloc(Math.ceil(size / u) * u);
  for (let block = 0; block * u < size; block++) {
    let A = hash(md, Buffer.concat([D, I]), 'buffer');
    // One-shot hash(): the per-call cost here is the JS-to-OpenSSL crossing, a third less than createHash().
    for (let r = 1; r < iterations; r++) A = hash(md, A, 'buffer');
    A.copy(out, block * u);
    if ((block + 1) * u >= size) break;
    // I_j = (I_j + B + 1) mod 2^(8v) for each v-byte block, B being A repeated to v bytes.
    const B = fill(A, v);
    for (let j = 0; j < I.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = I[j + k]! + B[k]! + carry;
        I[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return out.subarray(0, size);
}
