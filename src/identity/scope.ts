/**
 * Operator scope: whom a caller of the admin API may see and act on.
 *
 * Every role carries a scope (auth.roles): all (everyone), groups (the
 * people who share at least one group with the caller's own user record,
 * and that record) or self (that record only). A caller's roles are those
 * of their credential (client-certificate rule, token, Basic user) plus
 * those of the user record named like them; the widest scope among them
 * wins. A caller without a user record reaches nobody under groups or
 * self: there is nothing to compare with.
 *
 * The rule lives here alone. Services ask `canSee` (or `sees`, with the
 * caller resolved once) for a person they hold, and hand `filter` to the
 * repositories, which apply it in SQL (src/store/people.ts, whereVisible)
 * to listings, so pages stay full and cursors right, and to lookups, so a
 * person out of scope is found by the same one query that misses an
 * unknown one. Whoever is out of scope is answered exactly as if they did
 * not exist.
 *
 * Roles also carry admin API rights (`may`): view-people opens the
 * listings and lookups of users, devices, mobile IDs and per-person
 * certificates; edit-people changes users and devices; cancel, disable
 * (and enable) and replace act on mobile IDs. admin holds every right.
 * Requesting, validating and unlocking stay with the credential profiles'
 * role lists, within the scope.
 */
import { BUILT_IN_ROLES, OPERATOR_RIGHTS, OPERATOR_SCOPES, type OperatorRight, type OperatorRoleConfig, type OperatorScopeName } from '../config/schema.js';
import type { PeopleScope, Person, PersonRepository } from '../store/people.js';

export type Scope = OperatorScopeName;

/** Who is looking: an admin API caller as the routes describe it (src/identity/requests.ts, Caller). */
export interface Viewer {
  actor: string;
  name: string;
  roles: string[];
  /**
   * The gateway acting on its own account (superseding a derived credential,
   * a PIV card holder proved by their card): no operator scope applies.
   */
  system?: boolean;
}

/** A viewer resolved once: their roles with their record's, their record, their widest scope, its SQL filter and their rights. */
export interface ResolvedViewer {
  roles: string[];
  /** The roles that count for admin API rights and route guards: `roles` without built-in ones only the user record names (`rightsRoles`). */
  guardRoles: string[];
  person: Person | undefined;
  scope: Scope;
  filter: PeopleScope;
  rights: ReadonlySet<OperatorRight>;
}

/** What a role means when auth.roles does not list it. */
export function defaultRole(role: string): OperatorRoleConfig {
  if (role === 'admin') return { scope: 'all', may: [...OPERATOR_RIGHTS] };
  // key-recovery and card-management have routes of their own (certificates.ts, derived.ts) and reached everyone before scopes.
  if ((BUILT_IN_ROLES as readonly string[]).includes(role)) return { scope: 'all', may: [] };
  return { scope: 'self', may: [] };
}

/** Every role auth.roles lists, then the built-in ones it does not: what `credgate roles list` shows. */
export function describeRoles(roles: Record<string, OperatorRoleConfig>): { role: string; scope: Scope; may: OperatorRight[]; configured: boolean }[] {
  const listed = Object.entries(roles).map(([role, r]) => ({ role, scope: r.scope, may: r.may, configured: true }));
  const builtIn = BUILT_IN_ROLES.filter((r) => !(r in roles)).map((role) => ({ role, ...defaultRole(role), configured: false }));
  return [...listed, ...builtIn];
}

const wider = (a: Scope, b: Scope): Scope => (OPERATOR_SCOPES.indexOf(a) >= OPERATOR_SCOPES.indexOf(b) ? a : b);

/** Group names compare without regard to case, as the SQL filter compares them (src/store/people.ts, whereVisible). */
const folded = (groups: readonly string[]) => new Set(groups.map((g) => g.toLowerCase()));

export class OperatorScope {
  constructor(
    private readonly deps: {
      people: PersonRepository;
      /** auth.roles */
      roles: Record<string, OperatorRoleConfig>;
    },
  ) {}

  /** The configured or default meaning of a role. */
  role(name: string): OperatorRoleConfig {
    return this.deps.roles[name] ?? defaultRole(name);
  }

  /** The widest scope among these roles; self when there are none. */
  scopeOf(roles: readonly string[]): Scope {
    return roles.reduce<Scope>((s, r) => wider(s, this.role(r).scope), 'self');
  }

  /** The admin API rights these roles hold between them. */
  rightsOf(roles: readonly string[]): Set<OperatorRight> {
    return new Set(roles.flatMap((r) => this.role(r).may));
  }

  /** The roles that hold a right, for route guards: a caller with none of them on their credential may still hold one through their user record. */
  rolesWith(right: OperatorRight): string[] {
    return [...new Set(['admin', ...Object.entries(this.deps.roles).flatMap(([name, r]) => (r.may.includes(right) ? [name] : []))])];
  }

  /**
   * The viewer's roles, record, scope and rights. One lookup of the
   * viewer's own record, made for every caller alike (it is needed for
   * their roles), so no answer waits on whether someone else exists.
   */
  async resolve(viewer: Viewer): Promise<ResolvedViewer> {
    const person = await this.deps.people.byUserName(viewer.name);
    const roles = [...new Set([...viewer.roles, ...(person?.roles ?? [])])];
    const guardRoles = rightsRoles(viewer.roles, roles);
    const rights = this.rightsOf(guardRoles);
    if (viewer.system) return { roles, guardRoles, person, scope: 'all', filter: 'all', rights };
    const scope = this.scopeOf(roles);
    return { roles, guardRoles, person, scope, filter: filterFor(scope, person), rights };
  }

  /** Whether the viewer may see (and so act on) this person. */
  async canSee(viewer: { actor: string; name: string; roles: string[] }, person: Person): Promise<boolean> {
    return sees(await this.resolve(viewer), person);
  }

  /** The SQL filter for the viewer's listings and lookups. */
  async filter(viewer: Viewer): Promise<PeopleScope> {
    return (await this.resolve(viewer)).filter;
  }

  /** Whether the viewer reaches everyone: what surfaces that list or change things across all people require. */
  async seesAll(viewer: Viewer): Promise<boolean> {
    if (viewer.system || this.scopeOf(viewer.roles) === 'all') return true;
    return (await this.resolve(viewer)).scope === 'all';
  }
}

/**
 * The roles that open admin API routes: the credential's, and those of the
 * user record except the built-in ones. admin, key-recovery and
 * card-management come from a credential an administrator issued, never
 * from a user record, which an import writes and which may name them for
 * credential profiles' sake (a profile's request list is "admin" by
 * default); a token named like a user for self-service must not become an
 * admin token through it.
 */
export function rightsRoles(credential: readonly string[], all: readonly string[]): string[] {
  return all.filter((r) => credential.includes(r) || !(BUILT_IN_ROLES as readonly string[]).includes(r));
}

/** The people a scope reaches, as the repositories filter them. */
export function filterFor(scope: Scope, self: Person | undefined): PeopleScope {
  if (scope === 'all') return 'all';
  if (!self) return { ids: [], groups: [] };
  return { ids: [self.id], groups: scope === 'groups' ? self.groups : [] };
}

/** The rule itself, for a resolved viewer: the same answer the SQL filter gives. */
export function sees(viewer: Pick<ResolvedViewer, 'scope' | 'person'>, person: Pick<Person, 'id' | 'groups'>): boolean {
  if (viewer.scope === 'all') return true;
  const self = viewer.person;
  if (!self) return false;
  if (self.id === person.id) return true;
  if (viewer.scope === 'self') return false;
  const mine = folded(self.groups);
  return person.groups.some((g) => mine.has(g.toLowerCase()));
}
