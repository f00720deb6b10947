/**
 * What an enrollment event must carry for the credentials it causes to be
 * delivered, checked when it arrives: an event that could never be
 * delivered is refused with a 400 naming the field, instead of leaving
 * valid certificates behind that no device receives.
 */
import type { WorkspaceOneSettings } from './schema.js';
import type { Ws1Fields } from './event.js';

export function enrollmentGap(settings: WorkspaceOneSettings, fields: Ws1Fields): string | undefined {
  const { signing, encryption } = settings.policy.enrolled;
  if (!signing && !encryption) return undefined;
  if (settings.delivery === 'escrow-gateway') {
    // The upload names the device and the user by these UUIDs; DeviceId and EnrollmentUserId are other numbers.
    if (!fields.DeviceUUID) return 'DeviceUUID is missing: the Escrow Gateway delivers credentials to the device UUID';
    if (!fields.EnrollmentUserUUID) return 'EnrollmentUserUUID is missing: the Escrow Gateway delivers credentials to the user UUID';
  } else if (!/^\d+$/.test(fields.EnrollmentUserId ?? '')) {
    return 'EnrollmentUserId is missing or not a number: uploadsmimecerts delivers credentials to that user id';
  }
  if (!fields.EnrollmentEmailAddress && !settings.uem) {
    return 'EnrollmentEmailAddress is empty and the connector has no UEM API (uem) to look it up: S/MIME certificates name the address';
  }
  return undefined;
}
