/**
 * A bounded fuzz of Workspace ONE enrollment events, to the Escrow Gateway
 * connector and to the uploadsmimecerts one: a few hundred events with
 * random field mutations. Whatever was accepted, every certificate issued
 * afterwards is one its MDM received, and none carries text the intake
 * refuses. Seeded: WS1_FUZZ_SEED=<n> replays a run.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_TEMPLATES } from '../../src/config/schema.js';
import { textProblem } from '../../src/connectors/field-text.js';
import { startWs1Gateway, type Ws1Gateway } from '../helpers/ws1-gateway.js';
import { rng, seedFrom } from '../helpers/seeded-fuzz.js';

const SEED = seedFrom('WS1_FUZZ_SEED', 1_717_171_717);
const EVENTS = 300;

const USERS = Array.from({ length: 6 }, (_, i) => ({
  id: 300 + i,
  uuid: `b0000000-0000-4000-8000-00000000030${i}`,
  userName: `user${i}`,
  // One the console has no address for: its events need one of their own.
  ...(i !== 5 && { email: `user${i}@example.com`, upn: `user${i}@corp.example` }),
}));

const FIELDS = [
  'EventId',
  'EventType',
  'DeviceId',
  'DeviceUUID',
  'EnrollmentUserUUID',
  'EnrollmentUserId',
  'EnrollmentUserName',
  'EnrollmentEmailAddress',
  'DeviceFriendlyName',
  'SerialNumber',
  'Udid',
  'Platform',
  'EventTime',
];
const ODD = [
  '\u202e',
  '\u0000',
  '\ufffd',
  '\u0085',
  '\ud800',
  '\u200f',
  '\u2066',
  '\u0007',
  '\u007f',
  'é',
  'ß',
  '😀',
  ',',
  '"',
  '<',
  '>',
  '&',
  '=',
  '+',
  '\\',
  '@',
  ' ',
  '\t',
];
const VALUES = [
  'a@b',
  'x@y.z',
  'not an email',
  'Jane, Smith',
  'CN=evil, O=x',
  '"quoted"',
  '39',
  '229',
  '148',
  'Break MDM Confirmed',
  '-1',
  '1e3',
  'null',
  '00000000-0000-0000-0000-000000000000',
];

const xmlText = (v: unknown) => String(v).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

describe(`Workspace ONE intake fuzz (seed ${SEED})`, () => {
  let w: Ws1Gateway;

  before(async () => {
    // EC keys: the run is about intake and delivery, and RSA key generation would take most of it.
    const ec = (name: keyof typeof DEFAULT_TEMPLATES) => ({ ...DEFAULT_TEMPLATES[name], key: 'ec-p256' });
    w = await startWs1Gateway(
      { ws1: { delivery: 'escrow-gateway' }, ws1u: { delivery: 'uem-upload' } },
      { templates: { ...DEFAULT_TEMPLATES, 'smime-signing': ec('smime-signing'), 'smime-encryption': ec('smime-encryption') } },
    );
    for (const u of USERS) w.uem.addUser(u);
  });
  after(async () => {
    await w?.stop();
  });

  test(`${EVENTS} mutated enrollment events: no 5xx, and no certificate issued that its MDM did not receive`, { timeout: 240_000 }, async (t) => {
    t.diagnostic(`seed ${SEED}; WS1_FUZZ_SEED=${SEED} replays this run`);
    const random = rng(SEED);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
    const answers = new Map<number, number>();
    for (let n = 0; n < EVENTS; n++) {
      const user =
        random() < 0.8
          ? pick(USERS)
          : { id: 900 + n, uuid: `b0000000-0000-4000-8000-${String(900 + n).padStart(12, '0')}`, userName: `stranger${n}`, email: `stranger${n}@example.com` };
      const event: Record<string, unknown> = {
        EventId: 148,
        EventType: 'MDM Enrollment Complete',
        DeviceId: 1000 + n,
        DeviceUUID: `d0000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
        EnrollmentUserUUID: user.uuid,
        EnrollmentUserId: user.id,
        EnrollmentUserName: user.userName,
        EnrollmentEmailAddress: random() < 0.5 && 'email' in user ? user.email : '',
        DeviceFriendlyName: `iPhone ${n}`,
        SerialNumber: `SN${n}`,
        Udid: `udid${n}`,
        Platform: 'Apple',
        EventTime: new Date(Date.UTC(2024, 0, 1) + n * 1000).toISOString(),
      };
      for (let m = Math.floor(random() * 4); m > 0; m--) {
        const field = pick(FIELDS);
        const was = String(event[field] ?? 'x');
        switch (Math.floor(random() * 7)) {
          case 0:
            delete event[field];
            break;
          case 1:
            event[field] = pick(['', ' ', '   ']);
            break;
          case 2: {
            const at = Math.floor(random() * (was.length + 1));
            event[field] = was.slice(0, at) + pick(ODD) + was.slice(at);
            break;
          }
          case 3:
            event[field] = 'x'.repeat(50 + Math.floor(random() * 300));
            break;
          case 4:
            event[field] = Math.floor(random() * 100_000);
            break;
          case 5:
            event[field] = pick(VALUES);
            break;
          default:
            event[field] = pick(USERS)[pick(['uuid', 'id', 'userName', 'email'] as const)] ?? '';
        }
      }
      const connector = random() < 0.5 ? 'ws1' : 'ws1u';
      const r =
        random() < 0.8
          ? await w.post(connector, JSON.stringify(event))
          : await w.post(
              connector,
              `<Eventlog>${Object.entries(event)
                .map(([k, v]) => `<${k}>${xmlText(v)}</${k}>`)
                .join('')}</Eventlog>`,
              'application/xml',
            );
      answers.set(r.status, (answers.get(r.status) ?? 0) + 1);
      assert.ok(r.status >= 200 && r.status < 500, `event ${n} to ${connector} got ${r.status}: ${r.body}\n${JSON.stringify(event)}`);
    }
    t.diagnostic(`answers: ${JSON.stringify(Object.fromEntries(answers))}`);
    assert.equal((await w.trail()).events, answers.get(202) ?? 0, 'only accepted events are stored');
    await w.drained(120_000);

    const delivered = new Set<string>();
    for (const d of (await w.gw.db('deliveries').where({ status: 'delivered' })) as { serials: string }[])
      for (const s of JSON.parse(d.serials) as string[]) delivered.add(s);
    const certificates = (await w.gw.db('certificates').where({ status: 'valid' })) as {
      serial: string;
      template: string;
      subject: string;
      sans: string;
      device_id: string;
    }[];
    assert.ok(certificates.length > 20, `the run issued something (${certificates.length} certificates)`);
    const undelivered = certificates.filter((c) => !delivered.has(c.serial));
    const why = async (c: (typeof certificates)[number]) => {
      const d = (await w.gw.db('deliveries').where({ device_id: c.device_id }).first()) as { status: string; last_error: string } | undefined;
      return `${c.template} ${c.subject} for ${c.device_id}: ${d ? `delivery ${d.status} ${d.last_error}` : 'no delivery'}`;
    };
    assert.deepEqual(await Promise.all(undelivered.map(why)), [], 'every issued certificate was delivered');
    for (const c of certificates) {
      // The subject is kept as OpenSSL prints it, with C0 controls and DEL escaped as \XX.
      assert.doesNotMatch(c.subject, /\\(?:[01][0-9A-F]|7F)/, `${c.serial} certifies a control character`);
      for (const text of [c.subject, ...(JSON.parse(c.sans) as { value: string }[]).map((s) => s.value)]) {
        assert.equal(textProblem(text, { what: 'name', max: 1024 }), undefined, `${c.serial} certifies ${JSON.stringify(text)}`);
      }
    }
  });
});
