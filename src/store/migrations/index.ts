/**
 * Migrations are listed in code (not discovered on disk) so the same set runs
 * from TypeScript sources and from the compiled build.
 */
import type { Knex } from 'knex';
import * as m001 from './001_foundation.js';
import * as m002 from './002_issuance.js';
import * as m003 from './003_mdm_events.js';
import * as m004 from './004_scep.js';
import * as m005scep from './005_scep_renewals.js';
import * as m006 from './006_ota.js';
import * as m007 from './007_mobile_identities.js';
import * as m009 from './009_job_priority.js';
import * as m010 from './010_intune.js';
import * as m011 from './011_derived_credentials.js';
import * as m013 from './013_citrix_certsrv.js';
import * as m014 from './014_mobile_name_attempts.js';
import * as m015 from './015_scep_request_privacy.js';
import * as m016 from './016_scep_challenge_creators.js';
import * as m017 from './017_holder_proofs.js';
import * as m018 from './018_person_photos.js';
import * as m020 from './020_unmanaged_certificates.js';

interface Migration {
  up(db: Knex): Promise<void>;
  down(db: Knex): Promise<void>;
}

const migrations: Record<string, Migration> = {
  '001_foundation': m001,
  '002_issuance': m002,
  '003_mdm_events': m003,
  '004_scep': m004,
  '005_scep_renewals': m005scep,
  '006_ota': m006,
  '007_mobile_identities': m007,
  '009_job_priority': m009,
  '010_intune': m010,
  '011_derived_credentials': m011,
  '013_citrix_certsrv': m013,
  '014_mobile_name_attempts': m014,
  '015_scep_request_privacy': m015,
  '016_scep_challenge_creators': m016,
  '017_holder_proofs': m017,
  '018_person_photos': m018,
  '020_unmanaged_certificates': m020,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations).sort(),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};
