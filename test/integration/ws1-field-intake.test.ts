/**
 * Workspace ONE events whose fields would put unsafe text into a certificate,
 * or whose credentials could never be delivered: refused at the door with
 * the field named, or ended before anything is issued, and in either case
 * nothing left behind (no certificate, no job, no delivery).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_TEMPLATES } from '../../src/config/schema.js';
import { openssl } from '../helpers/openssl.js';
import { until } from '../helpers/wait.js';
import { startWs1Gateway, WS1_P12_PASSWORD, type Ws1Gateway } from '../helpers/ws1-gateway.js';
import { REFUSED_CHARACTERS } from '../helpers/refused-characters.js';

const USER = { id: 12, uuid: 'fe13e814-7415-4fce-9f47-de5a55bfe57a', userName: 'zenny', email: 'zenny@example.com', upn: 'zenny@corp.example' };
const EVENT = {
  EventId: 148,
  EventType: 'MDM Enrollment Complete',
  DeviceId: 15,
  DeviceFriendlyName: 'zenny iPod Touch',
  EnrollmentEmailAddress: 'zenny@example.com',
  EnrollmentUserName: 'zenny',
  EventTime: '2024-02-24T16:52:25.9231303Z',
  Udid: '902dca357c02dbc1306ff99ffbf4b9c80218f3a3',
  SerialNumber: 'CCQQ44BMGGK6',
  EnrollmentUserId: USER.id,
  Platform: 'Apple',
  DeviceUUID: 'f90f1abd-b914-4895-9b59-82e8aecf0e66',
  EnrollmentUserUUID: USER.uuid,
};

/** What each refused kind of character is called in the refusal. */

/** The event fields that become the certificate's names or the delivery's addresses. */
const FIELDS = [
  'EnrollmentUserName',
  'EnrollmentEmailAddress',
  'DeviceFriendlyName',
  'SerialNumber',
  'Udid',
  'Platform',
  'DeviceUUID',
  'EnrollmentUserUUID',
  'EnrollmentUserId',
] as const;

const spliced = (value: unknown, ch: string) => {
  const s = String(value);
  const at = s.indexOf('@') > 0 ? s.indexOf('@') : Math.ceil(s.length / 2);
  return s.slice(0, at) + ch + s.slice(at);
};

const xmlOf = (event: Record<string, unknown>) =>
  `<?xml version="1.0" encoding="UTF-8"?><Eventlog>${Object.entries(event)
    .map(([k, v]) => `<${k}>${String(v)}</${k}>`)
    .join('')}</Eventlog>`;

describe('Workspace ONE intake: vendor fields and what a delivery needs', () => {
  let w: Ws1Gateway;
  let device = 0;
  /** A fresh device, so no event is a duplicate of another. */
  const fresh = (extra: Record<string, unknown> = {}) => ({ ...EVENT, DeviceUUID: `a0000000-0000-4000-8000-${String(++device).padStart(12, '0')}`, ...extra });

  before(async () => {
    w = await startWs1Gateway(
      {
        ws1: { delivery: 'escrow-gateway' },
        ws1u: { delivery: 'uem-upload' },
        ws1n: { delivery: 'escrow-gateway', uem: false },
        ws1s: { delivery: 'escrow-gateway', signing: 'device-smime-signing' },
      },
      {
        templates: {
          ...DEFAULT_TEMPLATES,
          // A signing certificate that names the device too: serialNumber is a PrintableString, the encryption certificate has none.
          'device-smime-signing': {
            preset: 'smime-signing',
            subject: 'CN={{user.displayName}}, serialNumber={{device.serialNumber}}',
            subjectAltNames: [{ type: 'email', value: '{{user.email}}' }],
          },
        },
      },
    );
    w.uem.addUser(USER);
  });
  after(async () => {
    await w?.stop();
  });

  test('a field with a refused character is refused with 400 naming it, never repeating the value, in JSON and in XML; nothing is stored', async () => {
    const before = await w.trail();
    for (const field of FIELDS) {
      for (const [name, ch, says] of REFUSED_CHARACTERS) {
        const value = spliced(EVENT[field], ch);
        const r = await w.post('ws1', JSON.stringify(fresh({ [field]: value })));
        assert.equal(r.status, 400, `${field} with ${name}: ${r.body}`);
        const message = String(r.json().message);
        assert.ok(message.startsWith(`${field}: `), `${field} with ${name} is named: ${message}`);
        assert.match(message, says, `${field} with ${name}`);
        assert.ok(!message.includes(value), 'the value is not repeated');
      }
    }
    // XML carries the characters as UTF-8; NUL raw (XML 1.0 has no way to write it) and a surrogate, which UTF-8 cannot hold, arrive as U+FFFD.
    for (const field of FIELDS) {
      for (const [name, ch] of REFUSED_CHARACTERS) {
        const r = await w.post('ws1', Buffer.from(xmlOf(fresh({ [field]: spliced(EVENT[field], ch) }))), 'application/xml');
        assert.equal(r.status, 400, `XML ${field} with ${name}: ${r.body}`);
        assert.ok(String(r.json().message).startsWith(`${field}: `), `XML ${field} with ${name}: ${r.body}`);
      }
    }
    await w.drained();
    assert.deepEqual(await w.trail(), before, 'no event, certificate, job or delivery');
  });

  test('XML references are read as XML defines them: &#x202E; is refused like the character itself, DOCTYPE entities never expand; nothing is stored', async () => {
    const before = await w.trail();
    const doctype = (declaration: string) =>
      `<?xml version="1.0"?><!DOCTYPE Eventlog [${declaration}]>${xmlOf(fresh({ DeviceFriendlyName: '&e;' })).replace(/^<\?xml[^>]*>/, '')}`;
    const refusals: [string, RegExp][] = [
      [xmlOf(fresh({ DeviceFriendlyName: 'iPod&#x202E;txt.exe' })), /^DeviceFriendlyName: device name has a bidirectional control character \(U\+202E\)$/],
      [xmlOf(fresh({ EnrollmentUserName: 'zenny&#8238;' })), /^EnrollmentUserName: user name has a bidirectional control character \(U\+202E\)$/],
      [xmlOf(fresh({ DeviceFriendlyName: 'iPod&#x85;Touch' })), /^DeviceFriendlyName: device name has a control character \(U\+0085\)$/],
      [xmlOf(fresh({ EnrollmentEmailAddress: 'zenny&#x200B;@example.com' })), /^EnrollmentEmailAddress: email address has an invisible character \(U\+200B\)$/],
      [xmlOf(fresh({ DeviceFriendlyName: 'iPod&#0;Touch' })), /^malformed XML: &#0; names no character XML allows$/],
      [xmlOf(fresh({ DeviceFriendlyName: 'iPod&#xD800;Touch' })), /^malformed XML: &#xD800; names no character XML allows$/],
      [xmlOf(fresh({ DeviceFriendlyName: 'iPod &copy; Touch' })), /^malformed XML: entity &copy; is not expanded/],
      [doctype('<!ENTITY e "expanded">'), /^malformed XML: entity &e; is not expanded/],
      [doctype('<!ENTITY e SYSTEM "file:///etc/passwd">'), /^malformed XML: /],
      [doctype('<!ENTITY a "aaaaaaaaaa"><!ENTITY e "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'), /^malformed XML: entity &e; is not expanded/],
    ];
    for (const [body, says] of refusals) {
      const r = await w.post('ws1', Buffer.from(body), 'application/xml');
      assert.equal(r.status, 400, `${body}: ${r.body}`);
      assert.match(String(r.json().message), says, body);
    }
    await w.drained();
    assert.deepEqual(await w.trail(), before, 'no event, certificate, job or delivery');
  });

  test('r&amp;d@example.com in an XML event is the address r&d@example.com in the certificates and their delivery', async () => {
    const event = fresh({
      EnrollmentUserId: 61,
      EnrollmentUserUUID: 'c0000000-0000-4000-8000-000000000061',
      EnrollmentUserName: 'R&amp;D lab',
      EnrollmentEmailAddress: 'r&amp;d@example.com',
      DeviceFriendlyName: '&lt;R&amp;D&apos;s &quot;iPod&quot;&gt; &#x263A;',
    });
    const r = await w.post('ws1', Buffer.from(xmlOf(event)), 'application/xml');
    assert.equal(r.status, 202, r.body);
    const stored = (await w.gw.db('mdm_events').where({ id: r.json().eventId }).first()) as { device: string };
    assert.equal(JSON.parse(stored.device).name, '<R&D\'s "iPod"> \u263a');
    const upload = await until('the upload', () => w.eg.uploads.find((u) => u.deviceUuid === event.DeviceUUID), 20_000);
    for (const [purpose, p12] of [
      ['signing', upload.signing[0]!],
      ['encryption', upload.encryption[0]!],
    ] as const) {
      const pem = openssl(['pkcs12', '-passin', `pass:${WS1_P12_PASSWORD}`, '-nokeys', '-clcerts'], p12);
      const text = openssl(
        ['x509', '-noout', '-subject', '-ext', 'subjectAltName', '-nameopt', 'RFC2253'],
        pem.slice(pem.indexOf('-----BEGIN CERTIFICATE-----')),
      );
      assert.match(text, /email:r&d@example\.com$/m, `${purpose}: ${text}`);
      assert.match(text, /subject=.*CN=R&D lab/, `${purpose}: ${text}`);
      assert.ok(!text.includes('&amp;'), `${purpose}: ${text}`);
    }
  });

  test('an enrollment that could never be delivered is refused with 400 naming what it lacks; nothing is stored', async () => {
    const before = await w.trail();
    const refusals: [string, Record<string, unknown>, RegExp][] = [
      ['ws1', fresh({ EnrollmentUserUUID: '' }), /^EnrollmentUserUUID is missing: the Escrow Gateway/],
      ['ws1', { ...fresh(), DeviceUUID: '' }, /^DeviceUUID is missing: the Escrow Gateway/],
      ['ws1u', fresh({ EnrollmentUserId: 'zenny' }), /^EnrollmentUserId is missing or not a number/],
      ['ws1u', fresh({ EnrollmentUserId: '' }), /^EnrollmentUserId is missing or not a number/],
      ['ws1n', fresh({ EnrollmentEmailAddress: '' }), /^EnrollmentEmailAddress is empty and the connector has no UEM API/],
      ['ws1', fresh({ EnrollmentEmailAddress: 'zenny at example.com' }), /^EnrollmentEmailAddress: email address is not an address/],
    ];
    for (const [connector, event, says] of refusals) {
      const r = await w.post(connector, JSON.stringify(event));
      assert.equal(r.status, 400, `${connector} ${JSON.stringify(event)}: ${r.body}`);
      assert.match(String(r.json().message), says);
    }
    await w.drained();
    assert.deepEqual(await w.trail(), before, 'no event, certificate, job or delivery');
  });

  /** Posts an enrollment that is accepted, waits for its job to end, and returns the job with what the event left. */
  const acceptedThenEnded = async (connector: string, event: Record<string, unknown>) => {
    const r = await w.post(connector, JSON.stringify(event));
    assert.equal(r.status, 202, r.body);
    const eventId = r.json().eventId as number;
    await w.drained();
    const job = (await w.gw.db('jobs').where({ type: 'mdm.event' })).find((j: { payload: string }) => JSON.parse(j.payload).eventId === eventId) as {
      status: string;
      last_error: string;
      attempts: number;
    };
    const certificates = await w.gw.db('certificates').where({ device_id: event.DeviceUUID });
    const deliveries = await w.gw.db('deliveries').where({ device_id: event.DeviceUUID });
    return { job, certificates, deliveries };
  };

  test("text from the UEM API's user lookup is checked like the event's: a display name with U+202E or a UPN with NUL ends the job before anything is issued", async () => {
    w.uem.addUser({ id: 41, uuid: 'c0000000-0000-4000-8000-000000000041', userName: 'mallory\u202eexe.txt', email: 'mallory@example.com' });
    w.uem.addUser({ id: 42, uuid: 'c0000000-0000-4000-8000-000000000042', userName: 'trudy', email: 'trudy@example.com', upn: 'trudy\u0000@corp.example' });
    for (const [user, says] of [
      [41, /nothing issued: the user's user name has a bidirectional control character \(U\+202E\)/],
      [42, /nothing issued: the user's user principal name has a control character \(U\+0000\)/],
    ] as const) {
      // No address in the event: the connector looks the user up by UUID.
      const event = fresh({
        EnrollmentUserId: user,
        EnrollmentUserUUID: `c0000000-0000-4000-8000-0000000000${user}`,
        EnrollmentUserName: '',
        EnrollmentEmailAddress: '',
      });
      const { job, certificates, deliveries } = await acceptedThenEnded('ws1', event);
      assert.equal(job.status, 'dead');
      assert.match(job.last_error, says);
      assert.equal(job.attempts, 1, 'not retried: a retry cannot fix it');
      assert.deepEqual(certificates, [], 'no certificate');
      assert.deepEqual(deliveries, [], 'no delivery');
    }
  });

  test('uploadsmimecerts to a user the console does not know ends the job before anything is issued', async () => {
    const { job, certificates, deliveries } = await acceptedThenEnded('ws1u', fresh({ EnrollmentUserId: 9999 }));
    assert.equal(job.status, 'dead');
    assert.match(job.last_error, /nothing issued: the console has no user 9999/);
    assert.deepEqual(certificates, []);
    assert.deepEqual(deliveries, []);
    assert.equal(w.uem.uploads.length, 0);
  });

  test('a signing certificate whose names cannot be encoded stops the set before its encryption certificate is issued', async () => {
    // "_" has no place in a PrintableString; only the signing template puts the serial number into a name.
    const { job, certificates, deliveries } = await acceptedThenEnded(
      'ws1s',
      fresh({
        SerialNumber: 'SN_0001',
        EnrollmentUserId: 51,
        EnrollmentUserUUID: 'c0000000-0000-4000-8000-000000000051',
        EnrollmentEmailAddress: 'sam@example.com',
      }),
    );
    assert.equal(job.status, 'dead');
    assert.match(job.last_error, /nothing issued: .*PrintableString/);
    assert.deepEqual(certificates, []);
    assert.deepEqual(deliveries, []);
    assert.deepEqual(
      await w.gw.db('certificates').where({ user_id: 'c0000000-0000-4000-8000-000000000051' }),
      [],
      'no encryption certificate for the user either',
    );
  });

  test('a departure whose device name fails the check still revokes; the fields that fail are not stored', async () => {
    const enrollment = fresh();
    assert.equal((await w.post('ws1', JSON.stringify(enrollment))).status, 202);
    await until('the upload', () => w.eg.uploads.find((u) => u.deviceUuid === enrollment.DeviceUUID), 10_000);
    const departure = {
      EventId: 39,
      EventType: 'Break MDM Confirmed',
      DeviceId: 15,
      DeviceUUID: enrollment.DeviceUUID,
      DeviceFriendlyName: 'iPod\u202eTouch',
      EventTime: '2024-03-01T10:00:00Z',
    };
    const r = await w.post('ws1', JSON.stringify(departure));
    assert.equal(r.status, 202, r.body);
    await until(
      'the revocation',
      async () => (await w.gw.db('certificates').where({ device_id: enrollment.DeviceUUID, template: 'smime-signing' }).first())?.status === 'revoked',
      10_000,
    );
    const stored = (await w.gw.db('mdm_events').where({ id: r.json().eventId }).first()) as { device: string; payload: string };
    assert.deepEqual(JSON.parse(stored.device), { id: enrollment.DeviceUUID });
    assert.equal(JSON.parse(stored.payload).DeviceFriendlyName, undefined);
    assert.match(w.gw.logs(), /"left":\[\{"field":"DeviceFriendlyName","problem":"device name has a bidirectional control character \(U\+202E\)"\}\]/);
    const refused = await w.post('ws1', JSON.stringify({ ...departure, DeviceUUID: `${enrollment.DeviceUUID}\u202e`, EventTime: '2024-03-02T10:00:00Z' }));
    assert.equal(refused.status, 400, 'the device id itself must pass');
    assert.match(String(refused.json().message), /^DeviceUUID: device id has a bidirectional control character/);
  });
});
