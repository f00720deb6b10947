/**
 * A badge, filled from a person record: as structured data the Identity
 * Agent draws itself (each element's box, the text it shows, images as
 * data), and as one rendered PNG for apps and viewers that show a picture.
 * Rendering is sharp's: the canvas, the images scaled into their boxes, and
 * the text as SVG in the server's sans-serif font (the app uses the
 * device's system font instead). The QR area is left white with a grey
 * outline: its content is a short-lived assertion the app fetches fresh
 * whenever it shows the badge, which a picture made at collection could
 * only hold stale.
 */
import sharp, { type OverlayOptions } from 'sharp';
import type { BadgeElementConfig, BadgeField, BadgeLayoutConfig } from '../config/badges.js';
import type { PhotoType } from '../store/person-photos.js';

export interface BadgeImage {
  contentType: PhotoType;
  data: Buffer;
  width: number;
  height: number;
}

/** A configured layout with the image files it names read, checked and re-encoded (src/app/badges.ts). */
export interface PreparedLayout {
  name: string;
  layout: BadgeLayoutConfig;
  /** The image of each `image` element, by its index in layout.elements. */
  images: Map<number, BadgeImage>;
}

/** What fills a badge: the text of each field (null when the person has none) and the person's photo. */
export interface BadgeValues {
  fields: Record<BadgeField, string | null>;
  photo: BadgeImage | null;
}

const imageData = (i: BadgeImage) => ({ contentType: i.contentType, width: i.width, height: i.height, data: i.data.toString('base64') });
export type BadgeImageData = ReturnType<typeof imageData>;

type Box = { x: number; y: number; width: number; height: number };
export type BadgeElementData =
  | ({ type: 'text'; field?: BadgeField; value: string; fontSize: number; color: string; bold: boolean; align: 'left' | 'center' | 'right' } & Box)
  | ({ type: 'photo' | 'image'; fit: 'cover' | 'contain'; image: BadgeImageData | null } & Box)
  | ({ type: 'rect'; color: string } & Box)
  | { type: 'qr'; x: number; y: number; size: number };

export interface BadgeData {
  layout: string;
  description?: string;
  width: number;
  height: number;
  background: string;
  elements: BadgeElementData[];
}

function imageOf(p: PreparedLayout, e: BadgeElementConfig, i: number, values: BadgeValues): BadgeImage | null {
  if (e.type === 'photo') return values.photo;
  if (e.type === 'image') return p.images.get(i) ?? null;
  return null;
}

/** The badge as the app draws it. */
export function badgeData(p: PreparedLayout, values: BadgeValues): BadgeData {
  const { layout } = p;
  const elements = layout.elements.map((e, i): BadgeElementData => {
    const box = 'width' in e ? { x: e.x, y: e.y, width: e.width, height: e.height } : undefined;
    switch (e.type) {
      case 'text':
        return {
          type: 'text',
          ...(e.field && { field: e.field }),
          value: e.field ? (values.fields[e.field] ?? '') : e.text!,
          ...box!,
          fontSize: e.fontSize,
          color: e.color,
          bold: e.bold,
          align: e.align,
        };
      case 'photo':
      case 'image': {
        const image = imageOf(p, e, i, values);
        return { type: e.type, ...box!, fit: e.fit, image: image && imageData(image) };
      }
      case 'rect':
        return { type: 'rect', ...box!, color: e.color };
      default:
        return { type: 'qr', x: e.x, y: e.y, size: e.size };
    }
  });
  return {
    layout: p.name,
    ...(layout.description && { description: layout.description }),
    width: layout.width,
    height: layout.height,
    background: layout.background,
    elements,
  };
}

const xml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);

/**
 * The font size a text is drawn at: the layout's, or smaller for a text
 * estimated too wide for its box (sans-serif glyphs average about 0.6 em,
 * bold 0.66), down to 60% of it; what is still too wide is cut off at the
 * box's edges. The app, drawing with the device's own font, fits text its own way.
 */
export function fittedFontSize(value: string, fontSize: number, width: number, bold: boolean): number {
  const estimated = [...value].length * fontSize * (bold ? 0.66 : 0.6);
  if (estimated <= width) return fontSize;
  return Math.max(Math.floor((fontSize * width) / estimated), Math.ceil(fontSize * 0.6));
}

/** One text element as an SVG of its box; text past the box is cut off by the SVG's own edges. */
function textSvg(e: Extract<BadgeElementData, { type: 'text' }>): Buffer {
  const anchor = { left: ['start', 0], center: ['middle', e.width / 2], right: ['end', e.width] } as const;
  const [textAnchor, x] = anchor[e.align];
  const size = fittedFontSize(e.value, e.fontSize, e.width, e.bold);
  // The baseline, so that capitals sit about in the middle of the box.
  const y = (e.height + size * 0.7) / 2;
  return Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${e.width}" height="${e.height}">` +
      `<text x="${x}" y="${y.toFixed(1)}" font-family="sans-serif" font-size="${size}" font-weight="${e.bold ? 'bold' : 'normal'}" ` +
      `fill="${e.color}" text-anchor="${textAnchor}" xml:space="preserve">${xml(e.value)}</text></svg>`,
  );
}

function qrAreaSvg(size: number): Buffer {
  return Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}">` +
      `<rect x="1" y="1" width="${size - 2}" height="${size - 2}" fill="#ffffff" stroke="#9e9e9e" stroke-width="2" stroke-dasharray="8 6"/></svg>`,
  );
}

/** The badge as a PNG of layout.width x layout.height pixels, elements drawn in order. */
export async function renderBadge(data: BadgeData, images: (BadgeImage | null)[]): Promise<Buffer> {
  const layers: OverlayOptions[] = [];
  for (const [i, e] of data.elements.entries()) {
    switch (e.type) {
      case 'rect':
        layers.push({ input: { create: { width: e.width, height: e.height, channels: 4, background: e.color } }, left: e.x, top: e.y });
        break;
      case 'text':
        if (e.value) layers.push({ input: textSvg(e), left: e.x, top: e.y });
        break;
      case 'photo':
      case 'image': {
        const image = images[i];
        if (!image) break;
        const fitted = await sharp(image.data)
          .resize({ width: e.width, height: e.height, fit: e.fit, background: { r: 0, g: 0, b: 0, alpha: 0 } })
          .png()
          .toBuffer();
        layers.push({ input: fitted, left: e.x, top: e.y });
        break;
      }
      case 'qr':
        layers.push({ input: qrAreaSvg(e.size), left: e.x, top: e.y });
        break;
    }
  }
  return sharp({ create: { width: data.width, height: data.height, channels: 4, background: data.background } })
    .composite(layers)
    .png({ compressionLevel: 9 })
    .toBuffer();
}

/** The images a badge's elements show, by element index, for renderBadge. */
export function badgeImages(p: PreparedLayout, values: BadgeValues): (BadgeImage | null)[] {
  return p.layout.elements.map((e, i) => imageOf(p, e, i, values));
}
