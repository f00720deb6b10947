/**
 * Badges as an operator and a phone see them: a photo uploaded through the
 * admin API comes back without its EXIF metadata (`file` and the JPEG's own
 * segments say so); a phone collecting a mobile ID gets the profile's badges
 * with the person's record and photo in them, and a PNG that `file` and
 * pngjs read as a portrait badge with the photo's pixels where the layout
 * puts them. Uploads that are not what they claim (text, SVG, HTML, a JPEG
 * called PNG, a small file claiming huge dimensions, too many bytes) get a
 * clear 4xx and change nothing. The photo survives a restart, and
 * `credgate users photo` sets and reads it from the command line.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync, crc32 } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { PNG } from 'pngjs';
import { parse as parseYaml } from 'yaml';
import sharp from 'sharp';
import request from 'supertest';
import { TokenRepository } from '../../src/store/tokens.js';
import { runCli, assertOneLineError, REPO } from '../helpers/cli.js';
import { curl } from '../helpers/curl.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { freePort } from '../helpers/net.js';
import { adminCurlArgs } from '../helpers/pki.js';
import { tempDir } from '../helpers/tmp.js';

type Json = Record<string, unknown>;
interface Element {
  type: string;
  field?: string;
  value?: string;
  x: number;
  y: number;
  width?: number;
  height?: number;
  size?: number;
  image?: { contentType: string; width: number; height: number; data: string } | null;
}
interface Badge {
  layout: string;
  default: boolean;
  width: number;
  height: number;
  elements: Element[];
  png: string;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** What `file` (libmagic) says a file is: an identification independent of the gateway's image library. */
const fileSays = (path: string) => execFileSync('file', ['-b', path], { encoding: 'utf8' }).trim();

/** The marker segments of a JPEG up to the scan: [marker, payload]. */
function jpegSegments(jpeg: Buffer): [number, Buffer][] {
  assert.equal(jpeg.readUInt16BE(0), 0xffd8, 'starts with SOI');
  const out: [number, Buffer][] = [];
  let at = 2;
  while (at + 4 <= jpeg.length) {
    assert.equal(jpeg[at], 0xff, `marker at ${at}`);
    const marker = jpeg[at + 1]!;
    const length = jpeg.readUInt16BE(at + 2);
    out.push([marker, jpeg.subarray(at + 4, at + 2 + length)]);
    if (marker === 0xda) break; // start of scan: entropy-coded data follows
    at += 2 + length;
  }
  return out;
}
const hasExif = (jpeg: Buffer) => jpegSegments(jpeg).some(([m, p]) => m === 0xe1 && p.subarray(0, 4).toString('latin1') === 'Exif');

/** A PNG whose header claims `width` x `height` pixels, with one tiny compressed row: a decompression bomb's header, in a few dozen bytes. */
function claimedPng(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([Buffer.from(type, 'latin1'), data])) >>> 0, 0);
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(1 + 3 * 16))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const GREEN = { r: 0, g: 176, b: 80 };
const BLUE = { r: 20, g: 40, b: 200 };
const near = (png: PNG, x: number, y: number, c: { r: number; g: number; b: number }, what: string) => {
  const i = (png.width * y + x) << 2;
  const got = [png.data[i]!, png.data[i + 1]!, png.data[i + 2]!];
  assert.ok(
    Math.abs(got[0]! - c.r) <= 12 && Math.abs(got[1]! - c.g) <= 12 && Math.abs(got[2]! - c.b) <= 12,
    `${what} at ${x},${y}: expected ${JSON.stringify(c)}, got ${got}`,
  );
};

const layouts = (logo: string) => ({
  staff: {
    description: 'Staff badge',
    width: 600,
    height: 960,
    background: '#f0f0f0',
    elements: [
      { type: 'rect', x: 0, y: 0, width: 600, height: 120, color: '#ffcc00' },
      { type: 'image', file: logo, x: 20, y: 20, width: 200, height: 80 },
      { type: 'photo', x: 150, y: 150, width: 300, height: 400 },
      { type: 'text', field: 'displayName', x: 20, y: 580, width: 560, fontSize: 40, bold: true, align: 'center' },
      { type: 'text', field: 'title', x: 20, y: 640, width: 560, fontSize: 28, align: 'center' },
      { type: 'text', field: 'group', x: 20, y: 690, width: 560, fontSize: 24, align: 'center' },
      { type: 'text', text: 'Valid until', x: 20, y: 860, width: 300, fontSize: 20 },
      { type: 'text', field: 'expires', x: 20, y: 890, width: 300, fontSize: 24 },
      { type: 'qr', x: 400, y: 760, size: 160 },
    ],
  },
  visitor: {
    width: 400,
    height: 600,
    elements: [
      { type: 'text', text: 'VISITOR', x: 0, y: 40, width: 400, fontSize: 48, bold: true, align: 'center', color: '#c00000' },
      { type: 'text', field: 'userName', x: 0, y: 300, width: 400, fontSize: 24, align: 'center' },
      { type: 'text', field: 'mobileId', x: 0, y: 540, width: 400, fontSize: 12, align: 'center' },
    ],
  },
});

describe('badges and person photos', () => {
  let gw: TestGateway;
  let dir: string;
  let base: string;
  let port: number;
  let rootPem: Buffer;
  let overrides: Json;
  let photoFile: string;
  let storedSha: string;
  let noAdminToken: string;

  const admin = () => adminCurlArgs(join(dir, 'certs'));
  const api = (method: string, path: string, body?: unknown) =>
    curl(`${base}/api/v1${path}`, [
      ...admin(),
      '-X',
      method,
      ...(body === undefined ? [] : ['-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(body)]),
    ]);
  /** PUT a file as the photo, with the given Content-Type, as an operator's script would. */
  const upload = (user: string, file: string, type: string, extra: string[] = admin()) =>
    curl(`${base}/api/v1/users/${user}/photo`, [...extra, '-X', 'PUT', '-H', `Content-Type: ${type}`, '--data-binary', `@${file}`]);
  const download = async (user: string, to: string) => {
    const r = await curl(`${base}/api/v1/users/${user}/photo`, [...admin(), '-o', to, '-D', '-']);
    return { status: r.status, headers: r.body };
  };
  const storedPhoto = async () => {
    const r = await api('GET', '/users/jane/photo/info');
    assert.equal(r.status, 200, r.body);
    return r.json().photo as { sha256: string; contentType: string; width: number; height: number; updatedBy: string };
  };

  before(async () => {
    dir = tempDir();
    port = await freePort();
    base = `https://localhost:${port}`;
    const logo = join(dir, 'logo.jpeg'); // .jpeg, not only .jpg
    writeFileSync(
      logo,
      await sharp({ create: { width: 400, height: 160, channels: 3, background: BLUE } })
        .jpeg({ quality: 95 })
        .toBuffer(),
    );
    overrides = {
      server: { port, publicUrl: base },
      badges: { layouts: layouts(logo), photos: { maxBytes: '300kb', maxPixels: 4_000_000, size: 800 } },
      credentialProfiles: {
        badged: { certificates: [{ template: 'tls-client', container: 'none' }], badges: { layouts: ['visitor', 'staff'], default: 'staff' } },
        plain: { certificates: [{ template: 'tls-client', container: 'none' }] },
      },
    };
    gw = await startTestGateway({ dir, overrides });
    rootPem = readFileSync(join(dir, 'certs/root-ca.pem'));
    noAdminToken = (await new TokenRepository(gw.db).create({ name: 'helpdesk', roles: [] })).token;
    const created = await api('POST', '/users', {
      userName: 'jane',
      displayName: 'Jane Smith',
      email: 'jane@example.com',
      title: 'Head of Payments',
      groups: ['Treasury', 'London'],
    });
    assert.equal(created.status, 201, created.body);
    assert.equal((created.json().user as Json).title, 'Head of Payments');

    // A phone's photo: EXIF with a GPS position and the camera owner's note.
    photoFile = join(dir, 'jane.jpg');
    writeFileSync(
      photoFile,
      await sharp({ create: { width: 600, height: 800, channels: 3, background: GREEN } })
        .withExif({
          IFD0: { ImageDescription: 'secret-note-from-camera', Make: 'ExamplePhone' },
          IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 0/1', GPSLongitudeRef: 'W', GPSLongitude: '0/1 7/1 0/1' },
        })
        .jpeg({ quality: 95 })
        .toBuffer(),
    );
  });
  after(async () => {
    await gw?.stop();
  });

  test('a JPEG photo uploaded with EXIF and GPS comes back re-encoded without them; the change is audited', async () => {
    const original = readFileSync(photoFile);
    assert.ok(hasExif(original), 'the upload carries EXIF');
    assert.match(fileSays(photoFile), /Exif/, '`file` sees the EXIF of the upload');
    assert.ok(original.includes('secret-note-from-camera'));

    const put = await upload('jane', photoFile, 'image/jpeg; charset=binary');
    assert.equal(put.status, 200, put.body);
    const info = put.json().photo as { contentType: string; width: number; height: number; sha256: string; updatedBy: string };
    assert.deepEqual([info.contentType, info.width, info.height], ['image/jpeg', 600, 800]);
    assert.equal(info.updatedBy, 'client-cert:admin');

    const back = join(dir, 'back.jpg');
    const got = await download('jane', back);
    assert.equal(got.status, 200);
    assert.match(got.headers, /content-type: image\/jpeg/i);
    assert.match(got.headers, /cache-control: no-store/i);
    const stored = readFileSync(back);
    assert.equal(sha256(stored), info.sha256);
    assert.ok(!hasExif(stored), 'no EXIF segment in what is stored');
    assert.ok(!stored.includes('secret-note-from-camera') && !stored.includes('ExamplePhone'), 'nothing of the metadata survives');
    assert.match(fileSays(back), /^JPEG image data/);
    assert.doesNotMatch(fileSays(back), /Exif/, '`file` finds no EXIF either');
    assert.deepEqual(
      jpegSegments(stored)
        .map(([m]) => m)
        .filter((m) => m >= 0xe1 && m <= 0xef),
      [],
      'no APP1-APP15 segment (EXIF, XMP, ICC, IPTC) at all',
    );
    storedSha = info.sha256;

    const audit = await api('GET', '/audit?action=user.photo.set');
    const entry = (audit.json().entries as { actor: string; detail: Json }[])[0]!;
    assert.equal(entry.actor, 'client-cert:admin');
    assert.equal(entry.detail.sha256, info.sha256);
    assert.ok(!JSON.stringify(audit.json()).includes(stored.toString('base64').slice(0, 40)), 'the audit row holds no image');
  });

  test('the phone collects a mobile ID whose badges hold the record, the photo and a rendered portrait PNG with the photo where the layout puts it', async () => {
    const r = await api('POST', '/mobile-ids', { user: 'jane', credentialProfile: 'badged' });
    assert.equal(r.status, 201, r.body);
    const { mobileId, code } = r.json() as { mobileId: { id: string }; code: string };
    const s = await request(base)
      .post('/mobile/v1/sessions')
      .ca(rootPem)
      .send({ request: mobileId.id, code, device: { serial: 'BADGE0001', platform: 'android' } });
    assert.equal(s.status, 201, JSON.stringify(s.body));
    const fetched = await request(base).get('/mobile/v1/credentials').ca(rootPem).set('Authorization', `Bearer ${s.body.token}`);
    assert.equal(fetched.status, 200, JSON.stringify(fetched.body));
    // What the app gets is what api/mobile-v1.openapi.yaml describes.
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    ajv.addSchema(parseYaml(readFileSync(join(REPO, 'api/mobile-v1.openapi.yaml'), 'utf8')) as object, 'mobile-v1');
    const valid = ajv.validate({ $ref: 'mobile-v1#/components/schemas/Credentials' }, fetched.body);
    assert.ok(valid, `the answer follows the OpenAPI document: ${ajv.errorsText()}`);
    const badges = fetched.body.badges as Badge[];
    assert.deepEqual(
      badges.map((b) => [b.layout, b.default]),
      [
        ['staff', true],
        ['visitor', false],
      ],
      'the default layout first, then the rest in the profile order',
    );
    const [staff, visitor] = badges as [Badge, Badge];
    const text = (b: Badge, field: string) => b.elements.find((e) => e.type === 'text' && e.field === field)?.value;
    assert.equal(text(staff, 'displayName'), 'Jane Smith');
    assert.equal(text(staff, 'title'), 'Head of Payments');
    assert.equal(text(staff, 'group'), 'Treasury');
    const notAfter = (fetched.body.credentials as { notAfter: string }[])[0]!.notAfter;
    assert.equal(text(staff, 'expires'), notAfter.slice(0, 10), 'the mobile ID expires with its certificate');
    assert.equal(text(visitor, 'userName'), 'jane');
    assert.equal(text(visitor, 'mobileId'), mobileId.id);
    assert.deepEqual(
      staff.elements.find((e) => e.type === 'text' && !e.field),
      {
        type: 'text',
        value: 'Valid until',
        x: 20,
        y: 860,
        width: 300,
        height: 25,
        fontSize: 20,
        color: '#000000',
        bold: false,
        align: 'left',
      },
    );

    const photo = staff.elements.find((e) => e.type === 'photo')!;
    assert.deepEqual([photo.x, photo.y, photo.width, photo.height], [150, 150, 300, 400]);
    assert.equal(photo.image?.contentType, 'image/jpeg');
    assert.equal(sha256(Buffer.from(photo.image!.data, 'base64')), storedSha, 'the photo as stored, metadata-free');
    const logo = staff.elements.find((e) => e.type === 'image')!;
    assert.equal(logo.image?.contentType, 'image/jpeg');
    assert.ok(!hasExif(Buffer.from(logo.image!.data, 'base64')));
    assert.deepEqual(
      staff.elements.find((e) => e.type === 'qr'),
      { type: 'qr', x: 400, y: 760, size: 160 },
      'the app draws the QR code here',
    );

    const pngFile = join(dir, 'staff.png');
    writeFileSync(pngFile, Buffer.from(staff.png, 'base64'));
    assert.match(fileSays(pngFile), /^PNG image data, 600 x 960,/, 'portrait, as the layout says');
    const png = PNG.sync.read(readFileSync(pngFile));
    assert.ok(png.height > png.width);
    near(png, 300, 350, GREEN, 'the photo');
    near(png, 152, 152, GREEN, "the photo's top left corner");
    near(png, 448, 548, GREEN, "the photo's bottom right corner");
    near(png, 148, 350, { r: 240, g: 240, b: 240 }, 'the background just left of the photo');
    near(png, 120, 60, BLUE, 'the logo');
    near(png, 500, 60, { r: 255, g: 204, b: 0 }, 'the band');
    near(png, 480, 840, { r: 255, g: 255, b: 255 }, 'the QR area, left blank for the app');
    let dark = 0;
    for (let x = 20; x < 580; x++) for (let y = 580; y < 630; y++) if (png.data[(png.width * y + x) << 2]! < 80) dark++;
    assert.ok(dark > 200, `the name is drawn (${dark} dark pixels)`);

    const visitorPng = PNG.sync.read(Buffer.from(visitor.png, 'base64'));
    assert.deepEqual([visitorPng.width, visitorPng.height], [400, 600]);

    const plain = await api('POST', '/mobile-ids', { user: 'jane', credentialProfile: 'plain' });
    const p = plain.json() as { mobileId: { id: string }; code: string };
    const s2 = await request(base)
      .post('/mobile/v1/sessions')
      .ca(rootPem)
      .send({ request: p.mobileId.id, code: p.code, device: { serial: 'BADGE0002', platform: 'ios' } });
    const f2 = await request(base).get('/mobile/v1/credentials').ca(rootPem).set('Authorization', `Bearer ${s2.body.token}`);
    assert.deepEqual(f2.body.badges, [], 'a profile without layouts carries no badges');

    // A person without a photo or title: the badge still comes, with nothing where they would be, and the operator is told.
    assert.equal((await api('POST', '/users', { userName: 'bob', displayName: 'Bob Jones', email: 'bob@example.com' })).status, 201);
    const bob = (await api('POST', '/mobile-ids', { user: 'bob', credentialProfile: 'badged' })).json() as { mobileId: { id: string }; code: string };
    const s3 = await request(base)
      .post('/mobile/v1/sessions')
      .ca(rootPem)
      .send({ request: bob.mobileId.id, code: bob.code, device: { serial: 'BADGE0003', platform: 'android' } });
    const f3 = await request(base).get('/mobile/v1/credentials').ca(rootPem).set('Authorization', `Bearer ${s3.body.token}`);
    assert.equal(f3.status, 200, JSON.stringify(f3.body));
    const bobStaff = (f3.body.badges as Badge[])[0]!;
    assert.equal(bobStaff.elements.find((e) => e.type === 'photo')!.image, null);
    assert.equal(text(bobStaff, 'title'), '');
    near(PNG.sync.read(Buffer.from(bobStaff.png, 'base64')), 300, 350, { r: 240, g: 240, b: 240 }, 'the background where the photo would be');
    assert.match(gw.logs(), new RegExp(`"mobileId":"${bob.mobileId.id}".*badge has a place for a photo, but the person has none`));
  });

  test('operators list the layouts and preview one for a person', async () => {
    const listed = await api('GET', '/badge-layouts');
    assert.equal(listed.status, 200, listed.body);
    const staff = (listed.json().layouts as Json[]).find((l) => l.name === 'staff')!;
    assert.deepEqual(staff.profiles, [{ name: 'badged', default: true }]);
    assert.deepEqual(staff.fields, ['displayName', 'title', 'group', 'expires']);
    assert.equal(staff.qr, true);
    const file = join(dir, 'preview.png');
    const preview = await curl(`${base}/api/v1/badge-layouts/staff/preview?user=jane`, [...admin(), '-o', file]);
    assert.equal(preview.status, 200);
    assert.match(fileSays(file), /^PNG image data, 600 x 960,/);
    near(PNG.sync.read(readFileSync(file)), 300, 350, GREEN, 'the photo');
    assert.equal((await api('GET', '/badge-layouts/nope/preview?user=jane')).status, 404);
    assert.equal((await api('GET', '/badge-layouts/staff/preview?user=nobody')).status, 404);
    assert.equal((await api('GET', '/badge-layouts/staff/preview')).status, 400);
  });

  test('uploads that are not a PNG or JPEG within the limits get a clear 4xx and change nothing; never a 5xx', async () => {
    const write = (name: string, data: Buffer | string) => {
      const f = join(dir, name);
      writeFileSync(f, data);
      return f;
    };
    const cases: [string, string, string, number, RegExp][] = [
      ['text as PNG', write('note.png', 'this is not an image at all'), 'image/png', 400, /not a PNG or JPEG image/],
      ['HTML', write('page.html', '<html><script>alert(1)</script></html>'), 'text/html', 415, /image\/png or image\/jpeg/],
      [
        'SVG',
        write('face.svg', '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><image href="file:///etc/passwd"/></svg>'),
        'image/svg+xml',
        415,
        /image\/png or image\/jpeg/,
      ],
      ['SVG called PNG', join(dir, 'face.svg'), 'image/png', 400, /not a PNG or JPEG image/],
      ['a JPEG called PNG', photoFile, 'image/png', 400, /content type says image\/png, but the image is a JPEG/],
      ['a decompression bomb', write('bomb.png', claimedPng(100_000, 100_000)), 'image/png', 400, /100000x100000 pixels; at most 4000000/],
      ['a truncated PNG', write('cut.png', claimedPng(64, 64).subarray(0, 40)), 'image/png', 400, /PNG/],
      ['an empty body', write('empty.png', ''), 'image/png', 400, /empty/],
      ['too many bytes', write('huge.jpg', Buffer.concat([readFileSync(photoFile), Buffer.alloc(400 * 1024)])), 'image/jpeg', 413, /limit/],
      ['no type', photoFile, 'application/octet-stream', 415, /image\/png or image\/jpeg/],
    ];
    for (const [what, file, type, status, message] of cases) {
      const r = await upload('jane', file, type);
      assert.equal(r.status, status, `${what}: ${r.body}`);
      assert.match(String(r.json().message), message, what);
      assert.equal((await storedPhoto()).sha256, storedSha, `${what} changed nothing`);
    }
    assert.ok(claimedPng(100_000, 100_000).length < 200, 'the bomb is a small file');
    const noBody = await curl(`${base}/api/v1/users/jane/photo`, [...admin(), '-X', 'PUT', '-H', 'Content-Type: image/png']);
    assert.equal(noBody.status, 400, noBody.body);
    assert.match(String(noBody.json().message), /the image is empty/);
    assert.equal((await storedPhoto()).sha256, storedSha, 'no body changed nothing');

    // Who may ask: no certificate, no admin role, and an unknown person learn nothing about the image.
    assert.equal((await upload('jane', photoFile, 'image/jpeg', ['--cacert', join(dir, 'certs/root-ca.pem')])).status, 401);
    const helpdesk = ['--cacert', join(dir, 'certs/root-ca.pem'), '-H', `Authorization: Bearer ${noAdminToken}`];
    assert.equal((await upload('jane', photoFile, 'image/jpeg', helpdesk)).status, 403);
    assert.equal((await curl(`${base}/api/v1/users/jane/photo`, helpdesk)).status, 403);
    assert.equal((await upload('nobody', photoFile, 'image/jpeg')).status, 404);
    assert.equal((await upload('nobody', join(dir, 'note.png'), 'image/png')).status, 404, 'an unknown person first, whatever the image');
    assert.equal((await storedPhoto()).sha256, storedSha);
    assert.doesNotMatch(gw.logs(), /"level":50/, 'no error logged');
  });

  test('a PNG photo stays PNG; DELETE removes it and is audited; a photo survives a restart; `credgate users photo` sets and reads it', async () => {
    const pngPhoto = join(dir, 'jane.png');
    writeFileSync(
      pngPhoto,
      await sharp({ create: { width: 2000, height: 1500, channels: 3, background: GREEN } })
        .png()
        .toBuffer(),
    );
    const put = await upload('jane', pngPhoto, 'image/png');
    assert.equal(put.status, 200, put.body);
    assert.deepEqual(
      [(put.json().photo as Json).contentType, (put.json().photo as Json).width, (put.json().photo as Json).height],
      ['image/png', 800, 600],
      'scaled down to badges.photos.size',
    );
    assert.equal((await api('DELETE', '/users/jane/photo')).status, 204);
    assert.equal((await api('GET', '/users/jane/photo')).status, 404);
    assert.equal((await api('DELETE', '/users/jane/photo')).status, 404);
    assert.equal(((await api('GET', '/audit?action=user.photo.delete')).json().entries as Json[]).length, 1);
    const again = await upload('jane', photoFile, 'image/jpeg');
    assert.equal(again.status, 200);

    await gw.stop();
    const config = join(dir, 'cli.yaml');
    writeFileSync(config, `database: { client: sqlite, filename: ${join(dir, 'data/credgate.db')} }\npki: { dir: ${join(dir, 'certs')} }\n`);
    const out = join(dir, 'from-cli.jpg');
    const got = runCli(['--config', config, 'users', 'photo', 'get', 'jane', '--out', out], { cwd: dir });
    assert.equal(got.status, 0, got.stderr);
    assert.equal(sha256(readFileSync(out)), storedSha, 'the same photo after the gateway stopped, from the database');

    const other = join(dir, 'other.jpeg');
    writeFileSync(
      other,
      await sharp({ create: { width: 300, height: 400, channels: 3, background: BLUE } })
        .jpeg()
        .toBuffer(),
    );
    const set = runCli(['--config', config, 'users', 'photo', 'set', 'jane', other], { cwd: dir });
    assert.equal(set.status, 0, set.stderr);
    assert.match(set.stdout, /^photo of jane set: image\/jpeg 300x400, \d+ bytes, sha256 [0-9a-f]{64}\n$/);
    assertOneLineError(
      runCli(['--config', config, 'users', 'photo', 'set', 'jane', join(dir, 'note.png')], { cwd: dir }),
      /note\.png is not a PNG or JPEG image/,
    );
    assertOneLineError(
      runCli(['--config', config, 'users', 'photo', 'set', 'jane', join(dir, 'bomb.png')], { cwd: dir }),
      /photo refused: the image is 100000x100000 pixels/,
    );
    assertOneLineError(runCli(['--config', config, 'users', 'photo', 'set', 'nobody', other], { cwd: dir }), /no user nobody/);

    gw = await startTestGateway({ dir, overrides });
    const info = await storedPhoto();
    assert.deepEqual([info.contentType, info.width, info.height], ['image/jpeg', 300, 400], "after a restart, the CLI's photo");
    assert.match(info.updatedBy, /^cli:/);
  });
});

describe('badge layouts are checked at start', () => {
  const start = (badges: Json, profiles: Json = {}) => {
    const dir = tempDir();
    return startTestGateway({ dir, overrides: { badges, credentialProfiles: profiles } }).then(
      async (gw) => {
        await gw.stop();
        return undefined;
      },
      (err: Error) => err.message,
    );
  };
  const withImage = (file: string) => ({ layouts: { l: { elements: [{ type: 'image', file, x: 0, y: 0, width: 100, height: 100 }] } } });

  test('a missing, oversized or non-image file, or a profile naming no configured layout, stops the start with what to fix', async () => {
    const dir = tempDir();
    const text = join(dir, 'logo.png');
    writeFileSync(text, 'not an image');
    const big = join(dir, 'big.jpg');
    writeFileSync(big, Buffer.alloc(600 * 1024, 0xff));
    assert.match((await start(withImage(join(dir, 'missing.png'))))!, /badges\.layouts\.l\.elements\[0\]\.file: .*missing\.png cannot be read \(ENOENT\)/);
    assert.match((await start(withImage(text)))!, /badges\.layouts\.l\.elements\[0\]\.file: .*logo\.png: not a PNG or JPEG image/);
    assert.match((await start(withImage(big)))!, /big\.jpg is 614400 bytes; badges\.maxImageBytes allows 524288/);
    assert.match(
      (await start({}, { p: { certificates: [{ template: 'tls-client' }], badges: { layouts: ['staff'] } } }))!,
      /credentialProfiles\.p\.badges\.layouts\[0\]: no badge layout named "staff"/,
    );
  });

  test('`credgate config check` says where in the file a bad layout is', () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'credgate.yaml'),
      ['badges:', '  layouts:', '    staff:', '      elements:', '        - { type: image, file: nowhere.png, x: 0, y: 0, width: 10, height: 10 }', ''].join(
        '\n',
      ),
    );
    const r = runCli(['config', 'check', '--config', 'credgate.yaml'], { cwd: dir });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /credgate\.yaml:5:\d+ badges\.layouts\.staff\.elements\[0\]\.file: nowhere\.png cannot be read \(ENOENT\)/);
    writeFileSync(
      join(dir, 'credgate.yaml'),
      ['badges:', '  layouts:', '    staff:', '      elements:', '        - { type: text, field: salary, x: 0, y: 0, width: 10 }', ''].join('\n'),
    );
    const unknown = runCli(['config', 'check', '--config', 'credgate.yaml'], { cwd: dir });
    assert.match(unknown.stderr, /credgate\.yaml:5:\d+ badges\.layouts\.staff\.elements\.0\.field: expected "displayName", .* got "salary"/);
  });
});
