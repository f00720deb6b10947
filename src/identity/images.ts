/**
 * Images that reach a badge, person photos uploaded by operators and the
 * files badge layouts name: accepted only as PNG or JPEG that really decode,
 * within a size in bytes and in pixels, and kept only as re-encoded by the
 * gateway, so what the app receives carries none of the original's metadata
 * (EXIF GPS position, camera serial, comments, ICC profiles).
 *
 * Decoding is libvips' (sharp); the pixel limit is checked from the header
 * before any pixel is decoded, so a small file that claims huge dimensions
 * (a decompression bomb) costs nothing. The first bytes must be a PNG or
 * JPEG signature before sharp sees the data at all: sharp also reads SVG,
 * GIF, TIFF, WebP and HEIF, none of which a badge takes, and SVG may refer to
 * other files.
 */
import { createHash } from 'node:crypto';
import sharp, { type Metadata } from 'sharp';
import type { PhotoType } from '../store/person-photos.js';

// Decoded images are not kept in sharp's operation cache: they are photos of people.
sharp.cache(false);

export const IMAGE_TYPES: readonly PhotoType[] = ['image/png', 'image/jpeg'];

/** Why an image was refused, told to whoever sent it; `tooLarge` when only its size in bytes is wrong. */
export class ImageRefused extends Error {
  constructor(
    message: string,
    readonly tooLarge = false,
  ) {
    super(message);
    this.name = 'ImageRefused';
  }
}

export interface CleanImage {
  contentType: PhotoType;
  data: Buffer;
  width: number;
  height: number;
  sha256: string;
}

export interface ImageLimits {
  maxBytes: number;
  maxPixels: number;
  /** Scale down to fit this many pixels on the longer side; never enlarged. */
  maxSide?: number;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const JPEG_SIGNATURE = Buffer.from([0xff, 0xd8, 0xff]);

/** The type the first bytes announce, if PNG or JPEG. */
export function signatureType(bytes: Buffer): PhotoType | undefined {
  if (bytes.subarray(0, 8).equals(PNG_SIGNATURE)) return 'image/png';
  if (bytes.subarray(0, 3).equals(JPEG_SIGNATURE)) return 'image/jpeg';
  return undefined;
}

const label = (t: PhotoType) => (t === 'image/png' ? 'PNG' : 'JPEG');
/** libvips' reason, on one short line. */
const reason = (err: unknown) =>
  String((err as Error)?.message ?? err)
    .split('\n')[0]!
    .slice(0, 160);

/**
 * Decodes `bytes` as PNG or JPEG (as `declared` says, when given) and
 * re-encodes it in the same format, turned upright as its EXIF orientation
 * says and scaled down to `maxSide`. Throws ImageRefused.
 */
export async function cleanImage(bytes: Buffer, limits: ImageLimits, declared?: PhotoType): Promise<CleanImage> {
  if (bytes.length === 0) throw new ImageRefused('the image is empty');
  if (bytes.length > limits.maxBytes) throw new ImageRefused(`the image is ${bytes.length} bytes; at most ${limits.maxBytes} are accepted`, true);
  const type = signatureType(bytes);
  if (!type) throw new ImageRefused(`not a PNG or JPEG image${declared ? ` (the content type says ${declared})` : ''}`);
  if (declared && type !== declared) throw new ImageRefused(`the content type says ${declared}, but the image is a ${label(type)}`);
  const input = () => sharp(bytes, { limitInputPixels: limits.maxPixels, failOn: 'warning', sequentialRead: true });
  let meta: Metadata;
  try {
    // The header alone, without sharp's own pixel limit, so that an image too large is told its size below.
    meta = await sharp(bytes, { limitInputPixels: false, failOn: 'warning' }).metadata();
  } catch (err) {
    throw new ImageRefused(`not a readable ${label(type)} image: ${reason(err)}`);
  }
  if (meta.format !== (type === 'image/png' ? 'png' : 'jpeg') || !meta.width || !meta.height) throw new ImageRefused(`not a readable ${label(type)} image`);
  if (meta.width * meta.height > limits.maxPixels)
    throw new ImageRefused(`the image is ${meta.width}x${meta.height} pixels; at most ${limits.maxPixels} pixels (width times height) are accepted`);
  try {
    let pipeline = input().rotate();
    if (limits.maxSide) pipeline = pipeline.resize({ width: limits.maxSide, height: limits.maxSide, fit: 'inside', withoutEnlargement: true });
    // sharp writes no metadata unless asked to (withMetadata/keepExif): EXIF, XMP, IPTC, comments and the ICC profile are left behind.
    pipeline = type === 'image/png' ? pipeline.png({ compressionLevel: 9 }) : pipeline.jpeg({ quality: 90 });
    const { data, info } = await pipeline.toBuffer({ resolveWithObject: true });
    return { contentType: type, data, width: info.width, height: info.height, sha256: createHash('sha256').update(data).digest('hex') };
  } catch (err) {
    throw new ImageRefused(`the ${label(type)} image could not be decoded: ${reason(err)}`);
  }
}
