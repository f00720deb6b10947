/**
 * HTTP Basic (RFC 7617) against users from configuration. Checked in the
 * route guard itself rather than through passport: a passport strategy is
 * re-created per request, and passport-http cut passwords at their first
 * colon, which RFC 7617 allows inside a password.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import basicAuth from 'basic-auth';
import type { BasicUser } from '../../config/schema.js';
import { AddressThrottle } from '../address-throttle.js';
import type { Principal } from './principal.js';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** One throttle for every BasicUsers of the process, so a guesser gains nothing by moving between connectors. */
const basicThrottle = new AddressThrottle();

export class BasicUsers {
  private readonly byName: Map<string, { digest: Buffer; principal: Principal }>;
  // Compared as SHA-256 digests so timingSafeEqual sees equal lengths and
  // the time taken depends neither on where the passwords differ nor on
  // whether the user exists.
  private readonly unknown = digest('credgate: no such user');

  constructor(
    users: BasicUser[],
    readonly throttle: AddressThrottle = basicThrottle,
  ) {
    this.byName = new Map(users.map((u) => [u.username, { digest: digest(u.password), principal: { name: u.principal, method: 'basic', roles: u.roles } }]));
  }

  get size(): number {
    return this.byName.size;
  }

  /** The principal for an `Authorization: Basic …` header, or false. */
  verify(authorization: string): Principal | false {
    const credentials = basicAuth.parse(authorization);
    if (!credentials) return false;
    const user = this.byName.get(credentials.name);
    const ok = timingSafeEqual(digest(credentials.pass), user?.digest ?? this.unknown);
    return ok && user ? { ...user.principal } : false;
  }
}
