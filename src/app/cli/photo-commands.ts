/**
 * `credgate users photo set|get|delete`: a person's badge photo, on the
 * database directly, checked and re-encoded exactly as the admin API does
 * (src/identity/photos.ts) and audited as the operating-system user.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { sizeBytes } from '../../config/duration.js';
import type { Config } from '../../config/schema.js';
import { signatureType } from '../../identity/images.js';
import { Photos } from '../../identity/photos.js';
import { AuditRepository } from '../../store/audit.js';
import type { Db } from '../../store/db.js';
import { PersonRepository } from '../../store/people.js';
import { PersonPhotoRepository } from '../../store/person-photos.js';
import { Refusal } from '../../util/refusal.js';
import { StartupError } from '../errors.js';
import { cliActor, withDb } from './admin-commands.js';

const print = (text: string) => process.stdout.write(`${text}\n`);

function photosOf(db: Db, config: Config): Photos {
  return new Photos({
    db,
    people: new PersonRepository(db),
    photos: new PersonPhotoRepository(db),
    audit: new AuditRepository(db),
    limits: { ...config.badges.photos, maxBytes: sizeBytes(config.badges.photos.maxBytes) },
  });
}

/** A refusal is the operator's to fix: one line, exit status 2. */
async function refusalsAsErrors<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof Refusal) throw new StartupError(err.message);
    throw err;
  }
}

export async function photoSet(user: string, file: string, opts: { config?: string; json?: boolean }): Promise<void> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new StartupError(`${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  // The type is what the file is, whatever its name ends with (.png, .jpg and .jpeg alike); the photo service then decodes it.
  const type = signatureType(bytes);
  if (!type) throw new StartupError(`${file} is not a PNG or JPEG image`);
  const info = await withDb(opts, (db, config) => refusalsAsErrors(photosOf(db, config).set(user, bytes, type, cliActor())));
  if (opts.json) print(JSON.stringify(info, null, 2));
  else print(`photo of ${user} set: ${info.contentType} ${info.width}x${info.height}, ${info.bytes} bytes, sha256 ${info.sha256}`);
}

export async function photoGet(user: string, opts: { config?: string; out: string }): Promise<void> {
  const photo = await withDb(opts, (db, config) => refusalsAsErrors(photosOf(db, config).get(user)));
  if (!photo) throw new StartupError(`user ${user} has no photo`);
  writeFileSync(opts.out, photo.data, { mode: 0o600 });
  print(`wrote ${opts.out}: ${photo.contentType} ${photo.width}x${photo.height}, ${photo.bytes} bytes`);
}

export async function photoDelete(user: string, opts: { config?: string }): Promise<void> {
  const removed = await withDb(opts, (db, config) => refusalsAsErrors(photosOf(db, config).remove(user, cliActor())));
  if (!removed) throw new StartupError(`user ${user} has no photo`);
  print(`photo of ${user} deleted`);
}
