/**
 * The Citrix SecureVault key store compares email addresses case-sensitively
 * (docs/vendors/citrix.md): the address in the user record must be lower
 * case and match Exchange and LDAP exactly. Certificates for SecureVault
 * therefore carry the address in lower case, and an address in another case
 * is reported when the mobile ID is requested (to the operator) and when it
 * is collected (in the log).
 */
import type { TemplateData } from '../pki/template.js';
import type { MobileProfile } from './profiles.js';

export const CITRIX_CONTAINER = 'citrix-securevault';

export const hasCitrixContainer = (profile: Pick<MobileProfile, 'certificates'>): boolean => profile.certificates.some((c) => c.container === CITRIX_CONTAINER);

/** What the operator should fix, or undefined when the address is already lower case (or absent). */
export function citrixEmailWarning(person: { userName: string; email: string | null }): string | undefined {
  const { email } = person;
  if (!email || email === email.toLowerCase()) return undefined;
  return `the email address of ${person.userName} (${email}) is not in lower case: its Citrix SecureVault certificates carry ${email.toLowerCase()}, and the Citrix credential store compares addresses case-sensitively; change it to lower case in the user record, on Exchange and in LDAP so they match exactly`;
}

/** Template data for a SecureVault certificate: the user's email in lower case. */
export function forCitrix<T extends TemplateData>(data: T): T {
  const email = data.user?.email;
  return typeof email === 'string' ? { ...data, user: { ...data.user, email: email.toLowerCase() } } : data;
}
