/**
 * SCEP under load from a third-party client: scepload (the micromdm/scep Go
 * library) sends 300 PKCSReq with distinct keys, 16 at a time, over HTTPS,
 * and checks every answer itself (decrypts the CertRep, verifies the chain,
 * counts repeated serials).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { buildScepload, runScepload } from '../helpers/scepload.js';

const CHALLENGE = 'load-test-static-challenge';

describe('SCEP under load (scepload, c=16, n=300)', () => {
  let gw: TestGateway;
  let scepload: string;
  // Go takes extra trust anchors from SSL_CERT_FILE: the dev root behind the gateway's TLS certificate.
  const load = () =>
    runScepload(scepload, {
      url: `https://localhost:${gw.port}/scep/load`,
      n: 300,
      c: 16,
      challenge: CHALLENGE,
      env: { SSL_CERT_FILE: join(gw.dir, 'certs/root-ca.pem') },
    });

  before(async () => {
    scepload = buildScepload();
    gw = await startTestGateway({ overrides: { logging: { level: 'warn' }, scep: { profiles: { default: {}, load: { challenge: { static: CHALLENGE } } } } } });
  });
  after(async () => {
    await gw.stop();
  });

  test('every enrollment succeeds with its own serial, and each is recorded with its certificate', async () => {
    const run = await load();
    assert.equal(run.exitCode, 0, run.output);
    assert.deepEqual({ ok: run.ok, fails: run.fails, dupSerials: run.dupSerials }, { ok: 300, fails: 0, dupSerials: 0 }, run.output);

    const rows = (await gw.db('scep_transactions').where({ profile: 'load', status: 'issued', message_type: 'PKCSReq' }).select('serial')) as {
      serial: string;
    }[];
    assert.equal(rows.length, 300);
    assert.equal(new Set(rows.map((r) => r.serial)).size, 300, 'one serial per enrollment');
    const certs = (await gw
      .db('certificates')
      .whereIn(
        'serial',
        rows.map((r) => r.serial),
      )
      .count({ n: '*' })
      .first()) as { n: number | string };
    assert.equal(Number(certs.n), 300, 'every transaction has its certificate');
  });

  test('the same 300 requests again are answered from the transaction log: no new certificates', async () => {
    const before = Number(((await gw.db('certificates').count({ n: '*' }).first()) as { n: number | string }).n);
    const run = await load();
    assert.equal(run.exitCode, 0, run.output);
    assert.equal(run.ok, 300, run.output);
    assert.equal(Number(((await gw.db('certificates').count({ n: '*' }).first()) as { n: number | string }).n), before);
  });
});
