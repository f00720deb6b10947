/**
 * Badge layouts (`badges.layouts`): what a mobile ID's badge shows and where,
 * for the Identity Agent to draw and for the gateway to render as a PNG.
 * The Identity Agent displays badges in portrait only, with the device's
 * system font and horizontal text, so a layout can say no more than that: a
 * portrait canvas, and boxes holding text (a field of the person record or a
 * fixed label), the person's photo, an image file, a coloured band, or the
 * area where the app draws a QR code. The files a layout names are read and
 * decoded at start (src/app/badges.ts), not here.
 */
import { extname } from 'node:path';
import { z } from 'zod';

/**
 * Fields of the person record (and of the mobile ID) a text element may show:
 * group is the person's first group, groups all of them; userId and
 * mobileId are identifiers; expires is the date the mobile ID's certificates
 * expire (YYYY-MM-DD).
 */
export const BADGE_FIELDS = ['displayName', 'userName', 'title', 'group', 'groups', 'email', 'upn', 'userId', 'mobileId', 'expires'] as const;
export type BadgeField = (typeof BADGE_FIELDS)[number];

/** Image files a layout may place: PNG or JPEG, by any of their usual extensions. */
export const BADGE_IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg'] as const;

const MAX_SIDE = 4000;
const coordinate = z.number().int().min(0).max(MAX_SIDE);
const length = z.number().int().min(1).max(MAX_SIDE);
const color = z.string().regex(/^#[0-9a-fA-F]{6}$/, { message: 'expected a colour such as "#1a2b3c"' });
const fit = z.enum(['cover', 'contain']).describe('cover: fills the box, cropping what overflows; contain: fits inside the box, leaving the rest transparent.');

const box = {
  x: coordinate.describe('Left edge, in pixels from the left of the badge.'),
  y: coordinate.describe('Top edge, in pixels from the top of the badge.'),
  width: length,
  height: length,
};

const text = z
  .strictObject({
    type: z.literal('text'),
    field: z
      .enum(BADGE_FIELDS, { message: `expected a field of the person record: ${BADGE_FIELDS.join(', ')}` })
      .optional()
      .describe(`Field shown: ${BADGE_FIELDS.join(', ')}.`),
    text: z.string().min(1).max(128).optional().describe('A fixed label instead of a field, e.g. "Staff".'),
    ...box,
    height: length.optional().describe('Default: the font size and a quarter.'),
    fontSize: z.number().int().min(6).max(200).default(28).describe('In pixels; the system font of the device.'),
    color: color.default('#000000'),
    bold: z.boolean().default(false),
    align: z.enum(['left', 'center', 'right']).default('left'),
  })
  .refine((t) => (t.field === undefined) !== (t.text === undefined), { message: 'give either field (from the person record) or text (a fixed label)' })
  .transform((t) => ({ ...t, height: t.height ?? Math.ceil(t.fontSize * 1.25) }));

const photo = z.strictObject({ type: z.literal('photo'), ...box, fit: fit.default('cover') });

const image = z.strictObject({
  type: z.literal('image'),
  file: z
    .string()
    .min(1)
    .refine((f) => (BADGE_IMAGE_EXTENSIONS as readonly string[]).includes(extname(f).toLowerCase()), {
      message: `expected a PNG or JPEG file (${BADGE_IMAGE_EXTENSIONS.join(', ')})`,
    })
    .describe('PNG or JPEG file (.png, .jpg or .jpeg), at most badges.maxImageBytes; relative to the directory the gateway runs in.'),
  ...box,
  fit: fit.default('contain'),
});

const band = z.strictObject({ type: z.literal('rect'), ...box, color: color.describe('Fill colour.') });

const qr = z.strictObject({
  type: z.literal('qr'),
  x: box.x,
  y: box.y,
  size: z.number().int().min(64).max(MAX_SIDE).describe('Width and height of the square area the Identity Agent draws a fresh QR code in.'),
});

const element = z.discriminatedUnion('type', [text, photo, image, band, qr], {
  error: 'expected an element of type text, photo, image, rect or qr',
});

export const badgeLayout = z
  .strictObject({
    description: z.string().max(256).optional(),
    width: z.number().int().min(100).max(2000).default(640).describe('In pixels; the app scales the badge to the width of the screen.'),
    height: z.number().int().min(100).max(MAX_SIDE).default(1010).describe('In pixels; larger than width: badges are portrait.'),
    background: color.default('#ffffff'),
    elements: z.array(element).min(1).max(64).describe('Drawn in this order, later ones over earlier ones.'),
  })
  .superRefine((l, ctx) => {
    if (l.height <= l.width)
      ctx.addIssue({ code: 'custom', path: ['height'], message: `badges are portrait: height (${l.height}) must be greater than width (${l.width})` });
    l.elements.forEach((e, i) => {
      const [w, h] = e.type === 'qr' ? [e.size, e.size] : [e.width, e.height];
      if (e.x + w > l.width || e.y + h > l.height)
        ctx.addIssue({
          code: 'custom',
          path: ['elements', i],
          message: `the ${e.type} element (${e.x},${e.y} ${w}x${h}) reaches past the ${l.width}x${l.height} badge`,
        });
    });
    if (l.elements.filter((e) => e.type === 'qr').length > 1) ctx.addIssue({ code: 'custom', path: ['elements'], message: 'a badge has at most one qr area' });
  });

const size = z.string().regex(/^\d+(b|kb|mb)$/i, { message: 'expected a size such as "512kb" or "2mb"' });

export const badges = z
  .strictObject({
    layouts: z
      .record(z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, { message: 'expected a lower-case name (letters, digits, dashes)' }), badgeLayout)
      .default({})
      .describe('Badge layouts by name; a credential profile lists those its mobile IDs carry (credentialProfiles.<name>.badges).'),
    maxImageBytes: size.default('512kb').describe('Largest image file a layout may place; larger files are refused at start.'),
    photos: z
      .strictObject({
        maxBytes: size.default('5mb').describe('Largest photo upload accepted; larger ones get 413.'),
        maxPixels: z
          .number()
          .int()
          .min(10_000)
          .max(100_000_000)
          .default(25_000_000)
          .describe('Largest photo, width times height, accepted; checked before the image is decoded, so a small file claiming huge dimensions is refused.'),
        size: z.number().int().min(64).max(4000).default(1024).describe('Photos are kept scaled down to fit this many pixels on their longer side.'),
      })
      .prefault({}),
  })
  .prefault({})
  .describe('Badges on mobile IDs: layouts, and limits on images and person photos.');

export type BadgeLayoutConfig = z.infer<typeof badgeLayout>;
export type BadgeElementConfig = BadgeLayoutConfig['elements'][number];
export type BadgesConfig = z.infer<typeof badges>;

/** A credential profile's badges: the layouts its mobile IDs carry, and the one the app shows first. */
export const profileBadges = z
  .strictObject({
    layouts: z.array(z.string().min(1)).min(1).max(16).describe('Names of badge layouts (badges.layouts).'),
    default: z.string().min(1).optional().describe('The layout the app shows first and uses for identity checks from phone to phone; default the first.'),
  })
  .refine((b) => b.default === undefined || b.layouts.includes(b.default), { message: 'default must be one of the listed layouts', path: ['default'] })
  .refine((b) => new Set(b.layouts).size === b.layouts.length, { message: 'a layout is listed twice', path: ['layouts'] });
