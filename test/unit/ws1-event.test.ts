/** Workspace ONE event parsing: both formats, every known type, both time styles, and the dedupe key. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EventFormatError, eventType, parseBody, parseEventTime, toMdmEvent } from '../../connectors/workspace-one/event.js';

describe('Workspace ONE events', () => {
  test('event types by EventId, else by current or legacy EventType name', () => {
    const cases: [Record<string, string>, string][] = [
      [{ EventId: '148' }, 'enrolled'],
      [{ EventId: '39' }, 'unenrolled'],
      [{ EventId: '229' }, 'wiped'],
      [{ EventId: '178' }, 'compliance-changed'],
      [{ EventType: 'MDM Enrollment Complete' }, 'enrolled'],
      [{ EventType: 'BreakMDMConfirmed' }, 'unenrolled'],
      [{ EventType: 'DeviceEnterpriseWipeRequested' }, 'wiped'],
      [{ EventType: 'compliance status changed' }, 'compliance-changed'],
      [{ EventId: '1', EventType: 'Device Renamed' }, 'unknown'],
    ];
    for (const [fields, type] of cases) assert.equal(eventType(fields), type, JSON.stringify(fields));
  });

  test('ISO times with 7 fractional digits and legacy /Date(ms)/ times', () => {
    assert.equal(parseEventTime('2020-02-24T16:52:25.9231303Z').toISOString(), '2020-02-24T16:52:25.923Z');
    assert.equal(parseEventTime('/Date(1368076195887)/').toISOString(), '2013-05-09T05:09:55.887Z');
    assert.equal(parseEventTime('/Date(1368076195887+0200)/').toISOString(), '2013-05-09T05:09:55.887Z');
    assert.throws(() => parseEventTime('24/02/2020'), EventFormatError);
    assert.throws(() => parseEventTime(undefined), /EventTime is missing/);
  });

  test('JSON and XML give the same fields; the dedupe key is (EventId, device, EventTime)', () => {
    const json = parseBody(
      '{"EventId":148,"DeviceId":15,"DeviceUUID":"d-1","EventTime":"2024-01-01T00:00:00Z","EnrollmentUserUUID":"u-1","EnrollmentUserId":12,"EnrollmentEmailAddress":" a@b.c "}',
      'application/json',
    );
    const xml = parseBody(
      '<Eventlog><EventId>148</EventId><DeviceId>15</DeviceId><DeviceUUID>d-1</DeviceUUID><EventTime>2024-01-01T00:00:00Z</EventTime><EnrollmentUserUUID>u-1</EnrollmentUserUUID><EnrollmentUserId>12</EnrollmentUserId><EnrollmentEmailAddress> a@b.c </EnrollmentEmailAddress></Eventlog>',
      'text/xml',
    );
    assert.deepEqual(xml, json);
    const e = toMdmEvent('ws1', json);
    assert.equal(e.dedupeKey, '148:d-1:2024-01-01T00:00:00Z');
    assert.deepEqual(e.user, { id: 'u-1', vendorId: '12', email: 'a@b.c' });
    assert.equal(e.device.id, 'd-1');
    assert.equal(toMdmEvent('ws1', { ...json, DeviceUUID: '' }).device.id, '15', 'DeviceId when there is no UUID');
  });

  test('bad bodies are EventFormatErrors with the reason', () => {
    for (const [body, type, reason] of [
      ['', 'application/json', /empty body/],
      ['[1,2]', 'application/json', /expected a JSON object/],
      ['{"EventId": {"x": 1}}', 'application/json', /plain value/],
      ['<Other/>', 'application/xml', /root element <Eventlog>/],
      ['<Eventlog><EventId>1</Eventlog>', 'application/xml', /malformed XML/],
    ] as const) {
      assert.throws(
        () => parseBody(body, type),
        (e: Error) => e instanceof EventFormatError && reason.test(e.message),
        body,
      );
    }
    assert.throws(() => toMdmEvent('ws1', { EventId: 'abc', EventTime: '2024-01-01T00:00:00Z' }), /EventId must be an integer/);
    assert.throws(() => toMdmEvent('ws1', { EventTime: '2024-01-01T00:00:00Z' }), /neither EventId nor EventType/);
  });

  test('XML entities a DOCTYPE declares are never expanded (no entity tricks in event bodies): a reference to one is malformed', () => {
    const body = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "expanded">]><Eventlog><EventType>&e;</EventType></Eventlog>';
    assert.throws(
      () => parseBody(body, 'application/xml'),
      (e: Error) => e instanceof EventFormatError && /^malformed XML: entity &e; is not expanded/.test(e.message) && !e.message.includes('expanded"'),
    );
    const external = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/hostname">]><Eventlog><EventType>&e;</EventType></Eventlog>';
    assert.throws(() => parseBody(external, 'application/xml'), EventFormatError);
    // Declared but unused: the document is read, the declaration ignored.
    assert.equal(parseBody('<!DOCTYPE x [<!ENTITY e "expanded">]><Eventlog><EventType>x</EventType></Eventlog>', 'application/xml').EventType, 'x');
  });

  test("XML's predefined entities and character references are decoded, and nothing else", () => {
    const fields = parseBody(
      '<Eventlog><EnrollmentEmailAddress>r&amp;d@example.com</EnrollmentEmailAddress><DeviceFriendlyName>&lt;a&gt; &quot;b&quot; &apos;c&apos; &amp;amp; &#65;&#x42;&#x0043; &#x1F600;</DeviceFriendlyName><Udid><![CDATA[r&amp;d &#65;]]></Udid><SerialNumber>&#x202E;</SerialNumber></Eventlog>',
      'text/xml',
    );
    assert.equal(fields.EnrollmentEmailAddress, 'r&d@example.com');
    assert.equal(fields.DeviceFriendlyName, '<a> "b" \'c\' &amp; ABC \u{1F600}', 'decoded once: &amp;amp; is the text &amp;');
    assert.equal(fields.Udid, 'r&amp;d &#65;', 'CDATA is text as written');
    assert.equal(fields.SerialNumber, '\u202e', 'decoded; the field check refuses it');
    for (const [text, says] of [
      ['&#0;', /&#0; names no character XML allows/],
      ['&#x1;', /&#x1; names no character XML allows/],
      ['&#xD800;', /names no character XML allows/],
      ['&#xFFFE;', /names no character XML allows/],
      ['&#x110000;', /names no character XML allows/],
      ['&#99999999999999999999;', /^malformed XML: &#99999999999999… names no character/],
      ['&copy;', /entity &copy; is not expanded/],
      ['&nbsp;', /entity &nbsp; is not expanded/],
      ['&#x41', /malformed XML/],
      ['&#X41;', /malformed XML/],
      ['AT&T', /malformed XML/],
    ] as const) {
      assert.throws(
        () => parseBody(`<Eventlog><EventType>${text}</EventType></Eventlog>`, 'application/xml'),
        (e: Error) => e instanceof EventFormatError && says.test(e.message),
        text,
      );
    }
  });
});
