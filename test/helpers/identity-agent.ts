/**
 * The Identity Agent app's side of /mobile/v1, as a phone would run it:
 * raw HTTPS (the exact body bytes, for checking their signature), collecting
 * a mobile ID, signing holder proofs with the key it collected, and
 * checking a JWS with `openssl dgst` alone, apart from the gateway's code.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, randomUUID, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { openssl, opensslStatus } from './openssl.js';
import { adminCurlArgs } from './pki.js';
import { curl } from './curl.js';

export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json: () => Record<string, unknown>;
}

/** One HTTPS request with the body returned as the bytes that came. */
export function fetchRaw(url: string, opts: { ca: Buffer; method?: string; body?: unknown }): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const data = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    const req = request(
      url,
      { method: opts.method ?? 'GET', ca: opts.ca, headers: data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body.toString('utf8')) as Record<string, unknown> });
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

const b64u = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** DER of one unsigned INTEGER. */
function derInt(v: Buffer): Buffer {
  let i = 0;
  while (i < v.length - 1 && v[i] === 0) i++;
  let x = v.subarray(i);
  if (x[0]! & 0x80) x = Buffer.concat([Buffer.from([0]), x]);
  return Buffer.concat([Buffer.from([0x02, x.length]), x]);
}

/** JWS's raw r || s (RFC 7518 section 3.4) as the DER ECDSA-Sig-Value openssl expects. */
export function joseToDer(raw: Buffer): Buffer {
  const half = raw.length / 2;
  const body = Buffer.concat([derInt(raw.subarray(0, half)), derInt(raw.subarray(half))]);
  return Buffer.concat([body.length > 127 ? Buffer.from([0x30, 0x81, body.length]) : Buffer.from([0x30, body.length]), body]);
}

export interface CompactParts {
  header: Record<string, unknown>;
  signingInput: string;
  signature: Buffer;
  payload: Buffer;
}

/** A compact JWS split by hand; for a detached one, `body` is the payload. */
export function splitJws(jws: string, body?: Buffer): CompactParts {
  const [h, p, s] = jws.split('.') as [string, string, string];
  const payload = body ?? Buffer.from(p, 'base64url');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>,
    signingInput: `${h}.${b64u(payload)}`,
    signature: Buffer.from(s, 'base64url'),
    payload,
  };
}

/**
 * Whether `openssl dgst -verify` accepts the signature over the signing
 * input with the public key of `certPem`. ES256/ES384 are raw r || s in a
 * JWS, so they are turned into DER first; RS256 is PKCS#1 v1.5 as it is.
 */
export function opensslVerifies(dir: string, parts: CompactParts, certPem: string): boolean {
  const id = randomUUID();
  const [input, sig, cert, pub] = ['input', 'sig', 'cert.pem', 'pub.pem'].map((n) => join(dir, `${id}-${n}`)) as [string, string, string, string];
  writeFileSync(input, parts.signingInput);
  const alg = parts.header.alg as string;
  writeFileSync(sig, alg.startsWith('ES') ? joseToDer(parts.signature) : parts.signature);
  writeFileSync(cert, certPem);
  writeFileSync(pub, openssl(['x509', '-in', cert, '-noout', '-pubkey']));
  const digest = alg === 'ES384' ? '-sha384' : '-sha256';
  const r = opensslStatus(['dgst', digest, '-verify', pub, '-signature', sig, input]);
  if (r.status === 0) assert.match(r.output, /Verified OK/);
  return r.status === 0;
}

/** The detached signatures of an answer (JWS-Signature), each split. */
export function answerSignatures(a: RawAnswer): CompactParts[] {
  const header = a.headers['jws-signature'];
  assert.equal(typeof header, 'string', 'the answer carries a JWS-Signature header');
  return (header as string).split(', ').map((jws) => {
    assert.match(jws, /^[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+$/, 'a detached compact JWS');
    return splitJws(jws, a.body);
  });
}

export const pemOf = (x5c0: string) => new X509Certificate(Buffer.from(x5c0, 'base64')).toString();

export interface CollectedId {
  id: string;
  /** The serial and private key of its first certificate, as the app keeps them. */
  serial: string;
  key: KeyObject;
  certPem: string;
}

/** Requests a mobile ID for `user` (code on screen), collects it on a phone and acknowledges it. */
export async function collectMobileId(base: string, pkiDir: string, ca: Buffer, user: string, credentialProfile: string, serial: string): Promise<CollectedId> {
  const r = await curl(`${base}/api/v1/mobile-ids`, [
    ...adminCurlArgs(pkiDir),
    '-H',
    'Content-Type: application/json',
    '--data-binary',
    JSON.stringify({ user, credentialProfile, notify: 'none' }),
  ]);
  assert.equal(r.status, 201, r.body);
  const issued = r.json() as { mobileId: { id: string }; code: string };
  const id = issued.mobileId.id;
  const s = await fetchRaw(`${base}/mobile/v1/sessions`, {
    ca,
    method: 'POST',
    body: { request: id, code: issued.code, device: { serial, platform: 'android' } },
  });
  assert.equal(s.status, 201, s.body.toString());
  const token = s.json().token as string;
  const got = await new Promise<RawAnswer>((resolve, reject) => {
    const req = request(`${base}/mobile/v1/credentials`, { ca, headers: { Authorization: `Bearer ${token}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body.toString()) as Record<string, unknown> });
      });
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(got.status, 200, got.body.toString());
  const cred = (got.json().credentials as { serial: string; pkcs12: string; password: string }[])[0]!;
  const p12 = join(pkiDir, `..`, `${cred.serial}.p12`);
  writeFileSync(p12, Buffer.from(cred.pkcs12, 'base64'));
  const pem = openssl(['pkcs12', '-in', p12, '-passin', `pass:${cred.password}`, '-nodes']);
  const key = createPrivateKey(/-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/.exec(pem)![0]);
  const certPem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)![0];
  const ack = await new Promise<number>((resolve, reject) => {
    const req = request(`${base}/mobile/v1/ack`, { method: 'POST', ca, headers: { Authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(ack, 200);
  return { id, serial: cred.serial, key, certPem };
}

/** A holder proof as the app signs it (RS256 for an RSA key, ES256 for P-256), with what a test wants to change. */
export function holderProof(
  holder: { id: string; serial: string; key: KeyObject },
  aud: string,
  opts: { iat?: number; exp?: number; jti?: string; typ?: string; kid?: string; iss?: string; key?: KeyObject } = {},
): string {
  const key = opts.key ?? holder.key;
  const ec = key.asymmetricKeyType === 'ec';
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: ec ? 'ES256' : 'RS256', typ: opts.typ ?? 'credgate-holder-proof+jwt', kid: opts.kid ?? holder.serial };
  const iss = opts.iss ?? holder.id;
  const claims = { iss, sub: iss, aud, iat: opts.iat ?? now, exp: opts.exp ?? now + 60, jti: opts.jti ?? randomUUID() };
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(claims))}`;
  const sig = sign('sha256', Buffer.from(input), ec ? { key, dsaEncoding: 'ieee-p1363' } : key);
  return `${input}.${b64u(sig)}`;
}
