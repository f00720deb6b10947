/**
 * People's photos, for their badges: set (from an upload an operator or the
 * CLI sends), read back, delete. What is stored is the gateway's own
 * re-encoding of the upload (images.ts), never the bytes that arrived; a
 * refused upload changes nothing. Every change is audited with what the
 * photo is (its SHA-256, size and dimensions), never with the image.
 */
import type { AuditRepository } from '../store/audit.js';
import type { Db } from '../store/db.js';
import type { PersonRepository } from '../store/people.js';
import type { PersonPhoto, PersonPhotoRepository, PhotoType } from '../store/person-photos.js';
import { IdentityError } from './errors.js';
import { cleanImage, IMAGE_TYPES, ImageRefused, type ImageLimits } from './images.js';

export interface PhotoInfo {
  userId: string;
  contentType: PhotoType;
  width: number;
  height: number;
  bytes: number;
  sha256: string;
  updatedBy: string;
  updatedAt: string;
}

export const photoInfo = (p: PersonPhoto): PhotoInfo => ({
  userId: p.userId,
  contentType: p.contentType,
  width: p.width,
  height: p.height,
  bytes: p.bytes,
  sha256: p.sha256,
  updatedBy: p.updatedBy,
  updatedAt: new Date(p.updatedAt).toISOString(),
});

/** Thrown for an upload larger than the limit: HTTP says 413, which a refusal kind does not. */
export class PhotoTooLarge extends IdentityError {
  constructor(message: string) {
    super('bad_request', message, undefined, 'payload_too_large');
  }
}

export class Photos {
  constructor(
    private readonly deps: {
      db: Db;
      people: PersonRepository;
      photos: PersonPhotoRepository;
      audit: AuditRepository;
      /** badges.photos: bytes, pixels, and the side photos are kept scaled down to. */
      limits: { maxBytes: number; maxPixels: number; size: number };
    },
  ) {}

  get maxBytes(): number {
    return this.deps.limits.maxBytes;
  }

  /** Checks, re-encodes and stores `bytes` as the person's photo, replacing any. */
  async set(ref: string, bytes: Buffer, contentType: string, actor: string): Promise<PhotoInfo> {
    if (!(IMAGE_TYPES as readonly string[]).includes(contentType))
      throw new IdentityError('bad_request', `a photo is image/png or image/jpeg, not ${contentType || 'untyped'}`, undefined, 'unsupported_media_type');
    // The person first: a caller without a person to give a photo to learns nothing from how the image was judged.
    const person = await this.deps.people.find(ref);
    if (!person) throw new IdentityError('not_found', `no user ${ref}`);
    const { maxBytes, maxPixels, size } = this.deps.limits;
    const limits: ImageLimits = { maxBytes, maxPixels, maxSide: size };
    let clean: Awaited<ReturnType<typeof cleanImage>>;
    try {
      clean = await cleanImage(bytes, limits, contentType as PhotoType);
    } catch (err) {
      if (!(err instanceof ImageRefused)) throw err;
      if (err.tooLarge) throw new PhotoTooLarge(`the photo ${err.message.replace(/^the image /, '')}`);
      throw new IdentityError('bad_request', `photo refused: ${err.message}`);
    }
    const photo: PersonPhoto = { userId: person.id, ...clean, bytes: clean.data.length, updatedBy: actor, updatedAt: Date.now() };
    await this.deps.db.transaction(async (trx) => {
      if (!(await this.deps.people.get(person.id, trx))) throw new IdentityError('not_found', `no user ${ref}`);
      const before = await this.deps.photos.get(person.id, trx);
      await this.deps.photos.put(trx, photo);
      await this.deps.audit.append(trx, {
        actor,
        action: 'user.photo.set',
        subjectType: 'user',
        subjectId: person.id,
        detail: {
          contentType: photo.contentType,
          width: photo.width,
          height: photo.height,
          bytes: photo.bytes,
          sha256: photo.sha256,
          uploadedBytes: bytes.length,
          replaced: before?.sha256 ?? null,
        },
      });
    });
    return photoInfo(photo);
  }

  async get(ref: string): Promise<PersonPhoto | undefined> {
    const person = await this.deps.people.find(ref);
    if (!person) throw new IdentityError('not_found', `no user ${ref}`);
    return this.deps.photos.get(person.id);
  }

  /** Deletes the person's photo; false when they had none. */
  async remove(ref: string, actor: string): Promise<boolean> {
    const person = await this.deps.people.find(ref);
    if (!person) throw new IdentityError('not_found', `no user ${ref}`);
    return this.deps.db.transaction(async (trx) => {
      const before = await this.deps.photos.get(person.id, trx);
      if (!(await this.deps.photos.delete(trx, person.id))) return false;
      await this.deps.audit.append(trx, {
        actor,
        action: 'user.photo.delete',
        subjectType: 'user',
        subjectId: person.id,
        detail: { sha256: before?.sha256 ?? null },
      });
      return true;
    });
  }

  /** The photo of a person by id, for their badges. */
  ofPerson(userId: string): Promise<PersonPhoto | undefined> {
    return this.deps.photos.get(userId);
  }
}
