/** RSA decryption on a worker thread: the same results as node:crypto, refusals that say nothing, and an event loop left free. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { constants, generateKeyPairSync, privateDecrypt, publicEncrypt, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RsaDecryptError, RsaDecryptThread } from '../../src/pki/rsa-decrypt-thread.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const thread = new RsaDecryptThread(privateKey);
after(() => thread.close());

test('raw and OAEP decryptions give what privateDecrypt gives, each to its own caller', async () => {
  const secrets = Array.from({ length: 40 }, () => randomBytes(32));
  const pkcs1 = secrets.map((s) => publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, s));
  const raws = await Promise.all(pkcs1.map((c) => thread.raw(c)));
  raws.forEach((em, i) => {
    assert.deepEqual(em, privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, pkcs1[i]!));
    assert.deepEqual(em.subarray(em.length - 32), secrets[i], 'the padded block ends with the secret');
  });
  const oaep = await Promise.all(secrets.map((s) => thread.oaep(publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING }, s))));
  assert.deepEqual(oaep, secrets);
});

test('a ciphertext the key cannot take is refused with RsaDecryptError, and the thread goes on', async () => {
  await assert.rejects(thread.raw(Buffer.alloc(256, 0xff)), (err) => err instanceof RsaDecryptError && err.message === 'RSA decryption failed');
  await assert.rejects(thread.oaep(publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, randomBytes(16))), RsaDecryptError);
  const secret = randomBytes(16);
  assert.deepEqual(await thread.oaep(publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING }, secret)), secret);
});

test('the event loop stays free while decryptions run; after close a new thread takes over', async () => {
  const big = generateKeyPairSync('rsa', { modulusLength: 4096 });
  const slow = new RsaDecryptThread(big.privateKey);
  const ciphertexts = Array.from({ length: 60 }, () => publicEncrypt({ key: big.publicKey, padding: constants.RSA_PKCS1_PADDING }, randomBytes(32)));
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const started = performance.now();
  await Promise.all(ciphertexts.map((c) => slow.raw(c)));
  const elapsed = performance.now() - started;
  clearInterval(timer);
  // 60 RSA-4096 decryptions take 100+ ms; run on this thread they would leave no room for the timer.
  assert.ok(ticks >= elapsed / 10, `${ticks} timer ticks in ${elapsed.toFixed(0)} ms`);
  await slow.close();
  assert.equal((await slow.raw(ciphertexts[0]!)).length, 512, 'a decryption after close starts a new thread');
  await slow.close();
});

test('only RSA private keys', () => {
  assert.throws(() => new RsaDecryptThread(publicKey), /RSA private key/);
  assert.throws(() => new RsaDecryptThread(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey), /RSA private key/);
});

test('a process waits for a decryption in flight, then exits although the thread is never closed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credgate-rsa-thread-'));
  const script = join(dir, 'decrypt-once.mts');
  writeFileSync(
    script,
    `import { constants, generateKeyPairSync, publicEncrypt } from 'node:crypto';
import { RsaDecryptThread } from ${JSON.stringify(fileURLToPath(new URL('../../src/pki/rsa-decrypt-thread.ts', import.meta.url)))};
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const em = await new RsaDecryptThread(privateKey).raw(publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.alloc(16, 7)));
console.log(em.subarray(-16).toString('hex'));
`,
  );
  const r = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 20_000 });
  rmSync(dir, { recursive: true, force: true });
  assert.equal(r.signal, null, 'the process exited by itself');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), '07'.repeat(16));
});
