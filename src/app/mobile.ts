/** Builds mobile identities from configuration: people and devices (the directory). */
import type { Config } from '../config/schema.js';
import { Directory } from '../identity/directory.js';
import type { Db } from '../store/db.js';
import { DeviceRepository } from '../store/devices.js';
import { PersonRepository } from '../store/people.js';
import type { Issuance } from './issuance.js';

export interface Mobile {
  directory: Directory;
}

export function buildMobile(_config: Config, db: Db, issuance: Issuance): Mobile {
  const people = new PersonRepository(db);
  const devices = new DeviceRepository(db);
  return { directory: new Directory({ db, people, devices, audit: issuance.audit }) };
}
