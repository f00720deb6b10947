/**
 * The roles the admin API's route guards check, in one place: guards name
 * their roles with this type, and tokens may carry only roles that mean
 * something. Credential profiles add their own: their request, validate
 * and unlock lists are matched against the caller's roles too
 * (src/identity/requests.ts, rolesOf), and so do operator roles
 * (auth.roles: a scope and admin API rights, src/identity/scope.ts), so a
 * token may carry those as well.
 */
import { BUILT_IN_ROLES, type CredentialProfileConfig, type OperatorRoleConfig } from '../../config/schema.js';

export const API_ROLES = BUILT_IN_ROLES;
export type ApiRole = (typeof API_ROLES)[number];

/** The roles a token may carry: the API's, the operator roles of auth.roles, then those the credential profiles' role lists name ("*" is anyone, not a role). */
export function grantableRoles(
  profiles: Record<string, Pick<CredentialProfileConfig, 'roles'>>,
  operatorRoles: Record<string, OperatorRoleConfig> = {},
): string[] {
  const named = Object.values(profiles).flatMap((p) => Object.values(p.roles).flat());
  return [...new Set<string>([...API_ROLES, ...Object.keys(operatorRoles), ...named.filter((r) => r !== '*')])];
}
