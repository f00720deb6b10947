/** Badge layouts in the configuration: portrait, inside the badge, known fields and image types, and profiles that name them. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { badgeProfileProblems } from '../../src/app/badges.js';
import { fittedFontSize } from '../../src/identity/badge-render.js';
import { badgeFields } from '../../src/identity/badges.js';
import type { Person } from '../../src/store/people.js';

const layout = (body: string) => `badges:\n  layouts:\n    staff:\n${body}`;
const elements = (...lines: string[]) => `      elements:\n${lines.map((l) => `        - ${l}\n`).join('')}`;
const refused = (yaml: string, pattern: RegExp) => assert.throws(() => parseConfig(yaml, 'credgate.yaml', {}), pattern);

test('defaults: a 640 x 1010 portrait on white; text 28 px black, left, its height from the font; photos cover, images contain', () => {
  const c = parseConfig(
    layout(
      elements(
        '{ type: text, field: displayName, x: 0, y: 0, width: 100 }',
        '{ type: photo, x: 0, y: 100, width: 100, height: 100 }',
        '{ type: image, file: logo.JPEG, x: 0, y: 300, width: 10, height: 10 }',
      ),
    ),
    'f',
    {},
  );
  const l = c.badges.layouts.staff!;
  assert.deepEqual([l.width, l.height, l.background], [640, 1010, '#ffffff']);
  assert.deepEqual(l.elements[0], {
    type: 'text',
    field: 'displayName',
    x: 0,
    y: 0,
    width: 100,
    height: 35,
    fontSize: 28,
    color: '#000000',
    bold: false,
    align: 'left',
  });
  assert.equal((l.elements[1] as { fit: string }).fit, 'cover');
  assert.equal((l.elements[2] as { fit: string }).fit, 'contain');
  assert.deepEqual(c.badges.photos, { maxBytes: '5mb', maxPixels: 25_000_000, size: 1024 });
  assert.equal(c.badges.maxImageBytes, '512kb');
});

test('layout mistakes are refused with what to fix', () => {
  const text = '{ type: text, text: Staff, x: 0, y: 0, width: 100 }';
  refused(layout(`      width: 800\n      height: 600\n${elements(text)}`), /badges are portrait: height \(600\) must be greater than width \(800\)/);
  refused(layout(elements('{ type: photo, x: 500, y: 0, width: 200, height: 200 }')), /the photo element \(500,0 200x200\) reaches past the 640x1010 badge/);
  refused(layout(elements('{ type: qr, x: 0, y: 0, size: 100 }', '{ type: qr, x: 0, y: 200, size: 100 }')), /at most one qr area/);
  refused(layout(elements('{ type: text, field: title, text: Staff, x: 0, y: 0, width: 100 }')), /give either field .* or text/);
  refused(layout(elements('{ type: text, x: 0, y: 0, width: 100 }')), /give either field .* or text/);
  refused(layout(elements('{ type: text, field: salary, x: 0, y: 0, width: 100 }')), /field: expected "displayName", .*got "salary"/);
  refused(layout(elements('{ type: image, file: logo.gif, x: 0, y: 0, width: 10, height: 10 }')), /expected a PNG or JPEG file \(\.png, \.jpg, \.jpeg\)/);
  refused(layout(elements('{ type: text, text: Staff, x: 0, y: 0, width: 100, rotate: 90 }')), /rotate/);
  refused(layout(elements('{ type: video, x: 0, y: 0, width: 10, height: 10 }')), /type/);
  refused(layout(elements('{ type: rect, x: 0, y: 0, width: 10, height: 10, color: red }')), /expected a colour such as "#1a2b3c"/);
  refused(layout('      elements: []\n'), /elements/);
});

test('a profile lists layouts and a default among them; device-identity profiles carry none; named layouts must exist', () => {
  const profile = (badges: string, encoding = 'identity-agent') =>
    `credentialProfiles:\n  p:\n    encoding: ${encoding}\n    certificates: [{ template: tls-client }]\n    badges: ${badges}\n`;
  refused(profile('{ layouts: [staff, visitor], default: guest }'), /default must be one of the listed layouts/);
  refused(profile('{ layouts: [staff, staff] }'), /a layout is listed twice/);
  refused(profile('{ layouts: [] }'), /layouts/);
  refused(profile('{ layouts: [staff] }', 'device-identity'), /device-identity profiles are not collected by the Identity Agent/);
  const c = parseConfig(profile('{ layouts: [staff, visitor], default: visitor }'), 'f', {});
  assert.deepEqual(badgeProfileProblems(c), [
    {
      path: ['credentialProfiles', 'p', 'badges', 'layouts', 0],
      message: 'credentialProfiles.p.badges.layouts[0]: no badge layout named "staff" (configured: none; add them under badges.layouts)',
    },
    {
      path: ['credentialProfiles', 'p', 'badges', 'layouts', 1],
      message: 'credentialProfiles.p.badges.layouts[1]: no badge layout named "visitor" (configured: none; add them under badges.layouts)',
    },
  ]);
});

test('badge fields from the person record: the first group, all groups, the expiry as a date; none is null', () => {
  const person: Person = {
    id: 'u-1',
    userName: 'jane',
    displayName: 'Jane Smith',
    email: 'jane@example.com',
    mobile: null,
    upn: null,
    title: null,
    groups: ['Treasury', 'London'],
    roles: [],
    createdAt: 0,
    updatedAt: 0,
  };
  assert.deepEqual(badgeFields(person, { mobileId: 'm-1', expires: Date.UTC(2027, 11, 6, 23, 59) }), {
    displayName: 'Jane Smith',
    userName: 'jane',
    title: null,
    group: 'Treasury',
    groups: 'Treasury, London',
    email: 'jane@example.com',
    upn: null,
    userId: 'u-1',
    mobileId: 'm-1',
    expires: '2027-12-06',
  });
  assert.deepEqual(badgeFields({ ...person, groups: [] }, { mobileId: null, expires: null }).group, null);
});

test('rendered text keeps its size when it fits its box, shrinks when estimated too wide, and never below 60%', () => {
  assert.equal(fittedFontSize('Jane Smith', 40, 600, true), 40);
  const long = 'Alexandra Montgomery-Fitzwilliam';
  const shrunk = fittedFontSize(long, 40, 600, true);
  assert.equal(shrunk, 28);
  assert.ok(long.length * shrunk * 0.66 <= 600, 'estimated within the box');
  assert.equal(fittedFontSize('x'.repeat(500), 40, 600, false), 24, 'at least 60% of the layout size');
  assert.equal(fittedFontSize('Ünïcødé', 20, 300, false), 20, 'characters, not bytes');
});
