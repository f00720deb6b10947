/** The text check every vendor field passes: what it refuses, what it lets through, and how it says so. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { eventProblem, FIELD, fieldProblems, textProblem, userProblem } from '../../src/connectors/field-text.js';
import type { MdmEvent } from '../../src/connectors/connector.js';

const name = FIELD.displayName;

describe('vendor field text', () => {
  test('control characters (C0 with NUL, DEL, C1), bidirectional controls, U+FFFD and unpaired surrogates are refused, named by code point', () => {
    const cases: [string, RegExp][] = [
      ['\u0000', /^display name has a control character \(U\+0000\)$/],
      ['\u001b', /control character \(U\+001B\)/],
      ['\u007f', /control character \(U\+007F\)/],
      ['\u0085', /control character \(U\+0085\)/],
      ['\u009f', /control character \(U\+009F\)/],
      ['\u200e', /bidirectional control character \(U\+200E\)/],
      ['\u200f', /bidirectional control character \(U\+200F\)/],
      ['\u061c', /bidirectional control character \(U\+061C\)/],
      ...['\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069'].map((ch): [string, RegExp] => [
        ch,
        /bidirectional control character/,
      ]),
      ['\ufffd', /U\+FFFD, the replacement character/],
      ['\ud800', /unpaired surrogate/],
      ['\udfff', /unpaired surrogate/],
      ['\ude00\ud83d', /unpaired surrogate/],
    ];
    for (const [ch, says] of cases) {
      const value = `Jane${ch}Smith`;
      const problem = textProblem(value, name);
      assert.match(problem ?? '', says, JSON.stringify(value));
      assert.ok(!problem!.includes('Jane'), 'the value is never repeated');
    }
  });

  test('names in any script pass, emoji and joiners included', () => {
    for (const value of [
      'Jürgen Groß',
      "Zoë O'Brien-Smith",
      'שרה כהן',
      'محمد علي',
      '山田 太郎',
      'Smith, Jane',
      'CN=x',
      '😀 team',
      '👩\u200d💻',
      'a\u00a0b',
      '',
    ]) {
      assert.equal(textProblem(value, name), undefined, JSON.stringify(value));
    }
  });

  test('lengths are counted and the limit said; addresses must be name@domain, ASCII', () => {
    assert.equal(textProblem('d'.repeat(191), FIELD.deviceId), undefined);
    assert.equal(textProblem('d'.repeat(192), FIELD.deviceId), 'device id is 192 characters long; at most 191 are accepted');
    // RFC 5322 dot-atoms: what mail systems hand out, "&" and "'" included.
    for (const good of ['jane.smith+tag@mail.example.com', 'r&d@example.com', "o'brien@example.com", 'a!#$%*/=?^_`{|}~-z@x-1.example.com']) {
      assert.equal(textProblem(good, FIELD.email), undefined, good);
    }
    for (const bad of [
      'jane',
      'jane@',
      '@example.com',
      'jane smith@example.com',
      'jané@example.com',
      'jane@exämple.com',
      'a@b',
      'r&amp;d@example.com',
      'a..b@example.com',
      '.a@example.com',
      '"a b"@example.com',
      'a@[192.0.2.1]',
      'a@-x.example.com',
      'a,b@example.com',
      'a<b>@example.com',
    ]) {
      assert.equal(textProblem(bad, FIELD.email), 'email address is not an address of the form name@domain.example', bad);
    }
    assert.equal(textProblem(12 as unknown as string, FIELD.userName), 'user name is not text');
  });

  test('fields are looked at by their rules; absent ones are not', () => {
    const rules = { DeviceFriendlyName: FIELD.deviceName, EnrollmentEmailAddress: FIELD.email };
    assert.deepEqual(fieldProblems({ DeviceFriendlyName: 'a\u202eb', EnrollmentEmailAddress: undefined, PhoneNumber: '\u0000', Other: null }, rules), [
      { field: 'DeviceFriendlyName', problem: 'device name has a bidirectional control character (U+202E)' },
    ]);
  });

  test('a normalized event: user, device and event type, and attributes no rule names (templates may use any) get a generic one', () => {
    const event: MdmEvent = {
      connectorId: 'c',
      type: 'enrolled',
      vendorType: 'x',
      user: { id: 'u', email: 'u@example.com' },
      device: { id: 'd' },
      occurredAt: new Date(),
      dedupeKey: 'k',
    };
    assert.equal(eventProblem(event), undefined);
    assert.match(eventProblem({ ...event, user: { ...event.user, upn: 'u\u0000@corp' } }) ?? '', /^user principal name has a control character/);
    assert.match(eventProblem({ ...event, device: { id: 'd', name: 'a\ud800' } }) ?? '', /^device name has an unpaired surrogate/);
    assert.match(eventProblem({ ...event, device: { id: 'd', color: 'red\u202e' } as MdmEvent['device'] }) ?? '', /^color has a bidirectional control/);
    assert.match(eventProblem({ ...event, vendorType: 'E'.repeat(129) }) ?? '', /^event type is 129 characters long/);
    assert.match(userProblem({ id: 'u'.repeat(192) }) ?? '', /^user id is 192 characters long; at most 191 are accepted$/);
  });
});
