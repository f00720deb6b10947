/**
 * `credgate signing` as an operator scripts it on a fresh install: the
 * signer set `init` made (one current EC P-256 certificate whose
 * fingerprint openssl agrees with), and an offline check of holder
 * assertions: a valid one exits 0 with its claims, an expired one or one of
 * another type exits 1 with the reason.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { ContentSigning } from '../../src/pki/content-signing.js';
import { readKeyFile } from '../../src/pki/key-files.js';
import { resolveMasterKey } from '../../src/pki/master-key.js';
import { NativeSigner } from '../../src/pki/native-signer.js';
import { readCertificateFile } from '../../src/pki/certificate-files.js';
import { freshCheckout, runCli } from '../helpers/cli.js';
import { openssl } from '../helpers/openssl.js';

describe('credgate signing', () => {
  let dir: string;
  let certs: string;
  const signer = (now?: () => number) => {
    const key = readKeyFile(join(certs, 'content-signing-key.pem'), resolveMasterKey({ configured: undefined, pkiDir: certs }));
    return new ContentSigning({ signer: new NativeSigner(key), cert: readCertificateFile(join(certs, 'content-signing.pem'))[0]!, chain: [] }, undefined, now);
  };
  const claims = { aud: 'credgate-holder-verification', sub: '4a1d1e9c-3b0f-4f4e-9a43-0f3b2b6a5d11', name: 'Alice Example' };

  before(() => {
    dir = freshCheckout();
    certs = join(dir, 'certs');
    const init = runCli(['init'], { cwd: dir });
    assert.equal(init.status, 0, init.stderr);
  });

  test('signers lists the current certificate, as text and as JSON', () => {
    const text = runCli(['signing', 'signers'], { cwd: dir });
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /^current {2}ES256 {2}kid [A-Za-z0-9_-]{43}$/m);
    assert.match(text.stdout, /subject {6}CN=credgate dev Content Signing, O=credgate dev/);
    const json = runCli(['signing', 'signers', '--json'], { cwd: dir });
    const [s] = JSON.parse(json.stdout) as { status: string; accepted: boolean; sha256: string }[];
    assert.equal(s?.status, 'current');
    assert.equal(s?.accepted, true);
    const fp = openssl(['x509', '-in', join(certs, 'content-signing.pem'), '-noout', '-fingerprint', '-sha256']);
    assert.equal(fp.trim().split('=')[1], s?.sha256);
  });

  test('verify exits 0 for a valid assertion and 1, with the reason, for an expired one or one of another type', async () => {
    const valid = (await signer().signToken('credgate-holder+jwt', claims, 300_000)).token;
    const ok = runCli(['signing', 'verify', valid], { cwd: dir });
    assert.equal(ok.status, 0, ok.stderr + ok.stdout);
    assert.equal(JSON.parse(ok.stdout).claims.name, 'Alice Example');

    const expired = (await signer(() => Date.now() - 3_600_000).signToken('credgate-holder+jwt', claims, 300_000)).token;
    const late = runCli(['signing', 'verify', expired], { cwd: dir });
    assert.equal(late.status, 1);
    assert.equal(JSON.parse(late.stdout).reason, 'expired');

    const otherType = (await signer().signToken('credgate-content+jws', claims, 300_000)).token;
    assert.equal(JSON.parse(runCli(['signing', 'verify', otherType], { cwd: dir }).stdout).reason, 'type');
    assert.equal(JSON.parse(runCli(['signing', 'verify', 'not-a-token'], { cwd: dir }).stdout).reason, 'malformed');
  });
});
