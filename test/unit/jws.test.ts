/**
 * The JWS primitives (src/pki/jws.ts): ECDSA signatures from the Signer
 * (DER) become exactly the r || s node itself makes, short r and s
 * included; and a JWS never chooses how it is checked: "none", HMAC with
 * the public key as secret, another algorithm than its key's, critical
 * extensions, and a signature of the wrong length are all refused.
 */
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { test } from 'node:test';
import { ecdsaDerToJose, JwsError, parseCompactJws, signJws, verifyJws, compactOf } from '../../src/pki/jws.js';
import { NativeSigner } from '../../src/pki/native-signer.js';

const b64u = (s: string | Buffer) => Buffer.from(s).toString('base64url');
const ec256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ec384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });

/** DER of an ECDSA-Sig-Value written by hand from r and s. */
function derSig(r: Buffer, s: Buffer): Buffer {
  const int = (v: Buffer) => {
    let x = v;
    while (x.length > 1 && x[0] === 0 && !(x[1]! & 0x80)) x = x.subarray(1);
    if (x[0]! & 0x80) x = Buffer.concat([Buffer.from([0]), x]);
    return Buffer.concat([Buffer.from([2, x.length]), x]);
  };
  const body = Buffer.concat([int(r), int(s)]);
  return Buffer.concat([Buffer.from(body.length > 127 ? [0x30, 0x81, body.length] : [0x30, body.length]), body]);
}

test('DER ECDSA signatures become JWS r || s, for P-256 and P-384, short and high-bit r and s included', () => {
  for (const [pair, size, digest, alg] of [
    [ec256, 32, 'sha256', 'ES256'],
    [ec384, 48, 'sha384', 'ES384'],
  ] as const) {
    for (let i = 0; i < 20; i++) {
      const data = Buffer.from(`message ${i}`);
      const raw = ecdsaDerToJose(sign(digest, data, pair.privateKey), size);
      assert.equal(raw.length, size * 2);
      assert.doesNotThrow(() => verifyJws({ header: { alg }, signingInput: data, payload: data, signature: raw }, pair.publicKey));
    }
    // r with two leading zero bytes (DER drops them), s with its high bit set (DER adds a zero byte).
    const r = Buffer.concat([Buffer.alloc(2), Buffer.alloc(size - 2, 0x11)]);
    const s = Buffer.alloc(size, 0xf0);
    assert.deepEqual(ecdsaDerToJose(derSig(r, s), size), Buffer.concat([r, s]));
    assert.throws(() => ecdsaDerToJose(derSig(Buffer.alloc(size + 1, 0x11), s), size), /longer than the curve/);
  }
});

test('what the Signer signs verifies as a JWS, and nothing else does', async () => {
  for (const pair of [ec256, ec384, rsa]) {
    const payload = Buffer.from('{"hello":"world"}');
    const part = await signJws(new NativeSigner(pair.privateKey), { typ: 'test' }, payload);
    const token = compactOf(part, payload);
    assert.doesNotThrow(() => verifyJws(parseCompactJws(token), pair.publicKey));
    const detached = compactOf(part, payload, true);
    assert.doesNotThrow(() => verifyJws(parseCompactJws(detached, payload), pair.publicKey));
    assert.throws(() => verifyJws(parseCompactJws(detached, Buffer.from('{"hello":"World"}')), pair.publicKey), JwsError);
    const other = pair === rsa ? ec256 : rsa;
    assert.throws(() => verifyJws(parseCompactJws(token), other.publicKey), JwsError, 'another key');
  }
});

test('a token cannot choose its algorithm: none, HMAC with the public key, another algorithm, crit', () => {
  const claims = b64u('{"sub":"x"}');
  const none = `${b64u('{"alg":"none"}')}.${claims}.`;
  assert.throws(() => verifyJws(parseCompactJws(none), ec256.publicKey), /algorithm/);
  const pem = rsa.publicKey.export({ type: 'spki', format: 'pem' });
  const hsHeader = b64u('{"alg":"HS256"}');
  const hs = `${hsHeader}.${claims}.${createHmac('sha256', pem).update(`${hsHeader}.${claims}`).digest('base64url')}`;
  assert.throws(() => verifyJws(parseCompactJws(hs), rsa.publicKey), /algorithm/);
  const es384Header = b64u('{"alg":"ES384"}');
  const es = `${es384Header}.${claims}.${b64u(sign('sha384', Buffer.from(`${es384Header}.${claims}`), { key: ec256.privateKey, dsaEncoding: 'ieee-p1363' }))}`;
  assert.throws(() => verifyJws(parseCompactJws(es), ec256.publicKey), /algorithm/, 'ES384 with a P-256 key');
  assert.throws(() => parseCompactJws(`${b64u('{"alg":"ES256","crit":["b64"],"b64":false}')}.${claims}.AA`), /critical/);
  const short = `${b64u('{"alg":"ES256"}')}.${claims}.${b64u(Buffer.alloc(70))}`;
  assert.throws(() => verifyJws(parseCompactJws(short), ec256.publicKey), /64 bytes/);
  const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
  assert.throws(() => verifyJws(parseCompactJws(`${b64u('{"alg":"RS256"}')}.${claims}.AA`), weak.publicKey), /2048/);
  for (const bad of ['', 'a.b', 'a.b.c.d', 'a+b.c.d', `${b64u('[1]')}.${claims}.AA`, `${b64u('nope')}.${claims}.AA`])
    assert.throws(() => parseCompactJws(bad), JwsError, bad);
});
