/** Credential profiles as mobile identities use them: who may do what (the profile's `roles`). */
import type { CredentialProfileConfig, PROFILE_ROLE_KINDS } from '../config/schema.js';
import type { Logger } from 'pino';
import type { CertificatePurpose } from '../pki/presets.js';
import type { Revoker } from '../pki/revoker.js';
import type { AuditRepository } from '../store/audit.js';
import type { CertificateRepository } from '../store/certificates.js';
import type { Db } from '../store/db.js';
import type { Device, DeviceRepository } from '../store/devices.js';
import type { MobileIdRepository } from '../store/mobile-ids.js';
import type { MobileSessionRepository } from '../store/mobile-sessions.js';
import type { Person, PersonRepository } from '../store/people.js';

export type RoleKind = (typeof PROFILE_ROLE_KINDS)[number];
type ProfileCertificate = CredentialProfileConfig['certificates'][number];
/** A certificate issued from a template (or taken from the person's escrow). */
export type IssuedSlot = Omit<ProfileCertificate, 'template' | 'unmanaged'> & { template: string; unmanaged?: undefined; purpose: CertificatePurpose };
/** The person's current uploaded certificate issued elsewhere for a purpose (unmanaged-certificates.ts). */
export type UnmanagedSlot = Pick<ProfileCertificate, 'container'> & { unmanaged: CertificatePurpose; template?: undefined; purpose: CertificatePurpose };
export type ProfileSlot = IssuedSlot | UnmanagedSlot;
/** A configured profile with each certificate's purpose settled (from the profile, else the template's preset, or the unmanaged slot's). */
export type MobileProfile = Omit<CredentialProfileConfig, 'certificates'> & {
  name: string;
  certificates: ProfileSlot[];
};

/** What a slot is called where a template name goes (collection answers, skipped lists): "unmanaged:<purpose>" is never a template name. */
export const slotName = (c: ProfileSlot): string => c.template ?? `unmanaged:${c.unmanaged}`;

/** "*" in a profile's role list admits anyone. */
export function mayAct(profile: MobileProfile, kind: RoleKind, roles: readonly string[]): boolean {
  const allowed = profile.roles[kind];
  return allowed.includes('*') || roles.some((r) => allowed.includes(r));
}

/** Derived credentials are requested by their holder with a PIV card, and re-derived instead of renewed. */
export const isDerived = (p: Pick<MobileProfile, 'encoding'>): boolean => p.encoding === 'derived-credential';

/** Profiles the Identity Agent collects (device-identity profiles go through OTA or SCEP). */
export const collectable = (p: MobileProfile): boolean => p.encoding !== 'device-identity';

/** What certificate templates may refer to as {{user.x}} and {{device.x}}. */
export function templateData(person: Person, device: Pick<Device, 'id' | 'serial' | 'platform' | 'model' | 'osVersion'>) {
  const opt = (v: string | null) => v ?? undefined;
  return {
    user: {
      id: person.id,
      userName: person.userName,
      displayName: person.displayName,
      email: opt(person.email),
      upn: opt(person.upn),
      mobile: opt(person.mobile),
    },
    device: { id: device.id, serialNumber: device.serial, platform: device.platform, model: opt(device.model), osVersion: opt(device.osVersion) },
  };
}

/** What the collection and lifecycle services both work on. */
export interface MobileStores {
  db: Db;
  people: PersonRepository;
  devices: DeviceRepository;
  mobileIds: MobileIdRepository;
  sessions: MobileSessionRepository;
  certificates: CertificateRepository;
  audit: AuditRepository;
  revoker: Revoker;
  profiles: Record<string, MobileProfile>;
  log: Logger;
}
