/** People's photos for badges (migration 018): one per person, the re-encoded image as base64. */
import type { Db } from './db.js';
import type { KnexTarget } from './sql.js';

export type PhotoType = 'image/png' | 'image/jpeg';

export interface PersonPhoto {
  userId: string;
  contentType: PhotoType;
  data: Buffer;
  width: number;
  height: number;
  bytes: number;
  sha256: string;
  updatedBy: string;
  updatedAt: number;
}

interface Row {
  user_id: string;
  content_type: PhotoType;
  data: string;
  width: number;
  height: number;
  bytes: number;
  sha256: string;
  updated_by: string;
  updated_at: number;
}

const fromRow = (r: Row): PersonPhoto => ({
  userId: r.user_id,
  contentType: r.content_type,
  data: Buffer.from(r.data, 'base64'),
  width: Number(r.width),
  height: Number(r.height),
  bytes: Number(r.bytes),
  sha256: r.sha256,
  updatedBy: r.updated_by,
  updatedAt: Number(r.updated_at),
});

export class PersonPhotoRepository {
  constructor(private readonly db: Db) {}

  /** Replaces the person's photo, in the caller's transaction. */
  async put(trx: KnexTarget, photo: PersonPhoto): Promise<void> {
    await trx('person_photos').where({ user_id: photo.userId }).delete();
    await trx('person_photos').insert({
      user_id: photo.userId,
      content_type: photo.contentType,
      data: photo.data.toString('base64'),
      width: photo.width,
      height: photo.height,
      bytes: photo.bytes,
      sha256: photo.sha256,
      updated_by: photo.updatedBy,
      updated_at: photo.updatedAt,
    });
  }

  async get(userId: string, trx: KnexTarget = this.db): Promise<PersonPhoto | undefined> {
    const r = (await trx<Row>('person_photos').where({ user_id: userId }).first()) as Row | undefined;
    return r && fromRow(r);
  }

  /** True when there was a photo to delete. */
  async delete(trx: KnexTarget, userId: string): Promise<boolean> {
    return (await trx('person_photos').where({ user_id: userId }).delete()) > 0;
  }
}
