/**
 * `credgate certificates import | imported | delete-import` as an
 * administrator scripts them on a fresh installation: the password comes
 * from a file, a refusal is one line with exit status 2 and changes
 * nothing, the key lands sealed (the database file holds neither it nor the
 * password) and the audit trail names the operating-system user.
 */
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { AuditRepository } from '../../src/store/audit.js';
import { DeviceRepository } from '../../src/store/devices.js';
import { migrate, openDb } from '../../src/store/db.js';
import { PersonRepository } from '../../src/store/people.js';
import { Directory } from '../../src/identity/directory.js';
import { assertOneLineError, freshCheckout, runCli } from '../helpers/cli.js';
import { openssl } from '../helpers/openssl.js';
import { assertNoSecrets, keySecrets } from '../helpers/secret-scan.js';
import { OperatorScope } from '../../src/identity/scope.js';

describe('credgate certificates import', () => {
  test('imports from a password file, lists, refuses clearly, deletes; nothing secret in the database file', async () => {
    const dir = freshCheckout();
    const init = runCli(['init'], { cwd: dir });
    assert.equal(init.status, 0, init.stderr);
    const db = openDb({ client: 'sqlite', filename: join(dir, 'data/credgate.db') } as never);
    try {
      await migrate(db);
      const people = new PersonRepository(db);
      const scope = new OperatorScope({ people, roles: {} });
      const directory = new Directory({ db, people, devices: new DeviceRepository(db), audit: new AuditRepository(db), scope });
      await directory.createPerson({ userName: 'jane', displayName: 'Jane Smith', email: 'jane@example.com' }, 'test');
    } finally {
      await db.destroy();
    }

    const f = (name: string) => join(dir, name);
    openssl([
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      f('ca.key'),
      '-out',
      f('ca.pem'),
      '-days',
      '9',
      '-subj',
      '/CN=Signing Authority Elsewhere',
    ]);
    openssl([
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      f('jane.key'),
      '-out',
      f('jane.csr'),
      '-subj',
      '/CN=Jane Smith',
    ]);
    writeFileSync(f('sign.ext'), 'keyUsage=critical,digitalSignature,nonRepudiation\nextendedKeyUsage=emailProtection\n');
    openssl(['x509', '-req', '-in', f('jane.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-days', '5', '-extfile', f('sign.ext'), '-out', f('jane.pem')]);
    const password = 'cli-Pfx-Secret-7c1d9e';
    writeFileSync(f('jane.pass'), `${password}\n`);
    openssl(['pkcs12', '-export', '-inkey', f('jane.key'), '-in', f('jane.pem'), '-out', f('jane.p12'), '-passout', `pass:${password}`]);
    const serial = openssl(['x509', '-noout', '-serial', '-in', f('jane.pem')])
      .trim()
      .replace('serial=', '')
      .toLowerCase()
      .replace(/^(00)+/, '');

    writeFileSync(f('wrong.pass'), 'not-it\n');
    assertOneLineError(
      runCli(['certificates', 'import', 'jane', f('jane.p12'), '--purpose', 'signing', '--password-file', f('wrong.pass')], { cwd: dir }),
      /^credgate: the password is wrong/,
    );
    assertOneLineError(
      runCli(['certificates', 'import', 'jane', f('jane.p12'), '--purpose', 'encryption', '--password-file', f('jane.pass')], { cwd: dir }),
      /cannot be used for encryption/,
    );
    assertOneLineError(runCli(['certificates', 'import', 'jane', f('jane.p12'), '--purpose', 'wizardry'], { cwd: dir }), /--purpose must be one of/);
    assertOneLineError(
      runCli(['certificates', 'import', 'nobody', f('jane.p12'), '--purpose', 'signing', '--password-file', f('jane.pass')], { cwd: dir }),
      /no user nobody/,
    );
    assert.match(runCli(['certificates', 'imported', 'jane'], { cwd: dir }).stdout, /^SERIAL.*\n$/, 'the refusals kept nothing');

    const imported = runCli(
      ['certificates', 'import', 'jane', f('jane.p12'), '--purpose', 'signing', '--password-file', f('jane.pass'), '--note', 'qualified signature'],
      {
        cwd: dir,
      },
    );
    assert.equal(imported.status, 0, imported.stderr);
    assert.equal(
      imported.stdout,
      `imported signing certificate ${serial} for jane: CN=Jane Smith (issuer: CN=Signing Authority Elsewhere), valid until ${new Date(
        Date.parse(
          openssl(['x509', '-noout', '-enddate', '-in', f('jane.pem')])
            .trim()
            .slice(9),
        ),
      ).toISOString()}\n`,
    );
    const listed = JSON.parse(runCli(['certificates', 'imported', 'jane', '--json'], { cwd: dir }).stdout) as {
      serial: string;
      state: string;
      uploadedBy: string;
    }[];
    assert.deepEqual(
      listed.map((c) => [c.serial, c.state]),
      [[serial, 'current']],
    );
    assert.match(listed[0]!.uploadedBy, /^cli:/);

    const file = ['data/credgate.db', 'data/credgate.db-wal']
      .filter((n) => existsSync(f(n)))
      .map((n) => readFileSync(f(n)).toString('latin1'))
      .join('\n');
    assertNoSecrets([{ what: 'the PKCS#12 password', value: password }, ...keySecrets('the key', createPrivateKey(readFileSync(f('jane.key'))))], {
      'database file': file,
    });

    const deleted = runCli(['certificates', 'delete-import', 'jane', serial, '--note', 'left the bank'], { cwd: dir });
    assert.equal(deleted.status, 0, deleted.stderr);
    assert.match(deleted.stdout, /^deleted signing certificate .* and its key; copies already on devices stay valid/);
    assertOneLineError(runCli(['certificates', 'delete-import', 'jane', serial], { cwd: dir }), /jane has no uploaded certificate/);
  });
});
