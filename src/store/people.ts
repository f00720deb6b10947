/** People who request, validate or receive mobile identities: name, contact details, groups and roles. */
import type { Knex } from 'knex';
import { clientOf, type Db } from './db.js';
import type { KnexTarget } from './sql.js';

export interface Person {
  id: string;
  userName: string;
  displayName: string;
  email: string | null;
  mobile: string | null;
  upn: string | null;
  /** Job title, as a badge shows it. */
  title: string | null;
  groups: string[];
  roles: string[];
  createdAt: number;
  updatedAt: number;
}

/** What is written; a title left out is none. */
export type PersonFields = Omit<Person, 'id' | 'createdAt' | 'updatedAt' | 'title'> & { title?: string | null };

interface Row {
  id: string;
  user_name: string;
  display_name: string;
  email: string | null;
  mobile: string | null;
  upn: string | null;
  title: string | null;
  group_names: string;
  role_names: string;
  created_at: number;
  updated_at: number;
}

const fromRow = (r: Row): Person => ({
  id: r.id,
  userName: r.user_name,
  displayName: r.display_name,
  email: r.email,
  mobile: r.mobile,
  upn: r.upn,
  title: r.title,
  groups: JSON.parse(r.group_names) as string[],
  roles: JSON.parse(r.role_names) as string[],
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

const toRow = (p: PersonFields) => ({
  user_name: p.userName,
  display_name: p.displayName,
  email: p.email,
  mobile: p.mobile,
  upn: p.upn,
  title: p.title ?? null,
  group_names: JSON.stringify(p.groups),
  role_names: JSON.stringify(p.roles),
});

export interface PersonFilter {
  /** Prefix of the user name, display name or email, case-insensitive. */
  q?: string;
  email?: string;
  group?: string;
  role?: string;
  /** Cursor: user names after this one (listing is ordered by user name). */
  after?: string;
  limit?: number;
}

/** A LIKE pattern matching `value` literally ('!' escapes, which SQLite and MySQL both accept). */
export const likeLiteral = (value: string): string => value.replace(/[!%_]/g, (c) => `!${c}`);

/**
 * The people a caller may reach (src/identity/scope.ts decides it): everyone,
 * or those with one of `ids` or in one of `groups`. Both empty: nobody.
 * Listings apply it in SQL, so a page holds `limit` visible rows and its
 * cursor moves past hidden ones; lookups apply it in the same query that
 * finds the row, so a hidden row and a missing one cost the same.
 */
export type PeopleScope = 'all' | { ids: string[]; groups: string[] };

/**
 * Restricts `q` to visible people: on the people table itself (`column`
 * "id"), or on a column holding a person's id (`user_id`, `owner_id`) by a
 * subquery. Group names match without regard to case (they are ASCII,
 * src/identity/directory.ts), as src/identity/scope.ts compares them.
 */
export function whereVisible<Q extends Knex.QueryBuilder>(q: Q, scope: PeopleScope | undefined, column = 'id', onPeople = column === 'id'): Q {
  if (scope === undefined || scope === 'all') return q;
  if (scope.ids.length === 0 && scope.groups.length === 0) return q.whereRaw('1 = 0') as Q;
  const visible = (w: Knex.QueryBuilder) => {
    if (scope.ids.length > 0) w.whereIn('id', scope.ids);
    // LOWER on both sides: the same answer whatever collation a MariaDB column has.
    for (const g of scope.groups) w.orWhereRaw("LOWER(group_names) LIKE ? ESCAPE '!'", [`%${likeLiteral(JSON.stringify(g.toLowerCase()))}%`]);
  };
  if (onPeople) return q.where(visible) as Q;
  return q.whereIn(column, (sub: Knex.QueryBuilder) => {
    sub.select('id').from('people').where(visible);
  }) as Q;
}

export class PersonRepository {
  constructor(private readonly db: Db) {}

  async insert(trx: KnexTarget, id: string, p: PersonFields, now = Date.now()): Promise<void> {
    await trx('people').insert({ id, ...toRow(p), created_at: now, updated_at: now });
  }

  async update(trx: KnexTarget, id: string, p: PersonFields, now = Date.now()): Promise<void> {
    await trx('people')
      .where({ id })
      .update({ ...toRow(p), updated_at: now });
  }

  async get(id: string, trx: KnexTarget = this.db, scope?: PeopleScope): Promise<Person | undefined> {
    const r = (await whereVisible(trx<Row>('people').where({ id }), scope).first()) as Row | undefined;
    return r && fromRow(r);
  }

  async byUserName(userName: string, trx: KnexTarget = this.db, scope?: PeopleScope): Promise<Person | undefined> {
    const r = (await whereVisible(trx<Row>('people').where({ user_name: userName }), scope).first()) as Row | undefined;
    return r && fromRow(r);
  }

  /**
   * By id or, failing that, by user name; with a scope, only a visible
   * person. Both queries run whatever the first finds when a scope is given,
   * so a hidden id costs what a missing one does.
   */
  async find(ref: string, trx: KnexTarget = this.db, scope?: PeopleScope): Promise<Person | undefined> {
    if (scope === undefined) return (await this.get(ref, trx)) ?? this.byUserName(ref, trx);
    const [byId, byName] = await Promise.all([this.get(ref, trx, scope), this.byUserName(ref, trx, scope)]);
    return byId ?? byName;
  }

  /** People whose UPN or email is `value`, compared without case as both are (a few, when email addresses are shared). */
  async byDirectoryName(field: 'upn' | 'email', value: string, trx: KnexTarget = this.db): Promise<Person[]> {
    // MariaDB's collation ignores case; SQLite needs NOCASE, which its index for these columns has (migration 011).
    const q = trx<Row>('people').orderBy('user_name').limit(10);
    if (clientOf(this.db) === 'mysql') q.where(field, value);
    else q.whereRaw(`${field} = ? COLLATE NOCASE`, [value]);
    return ((await q) as Row[]).map(fromRow);
  }

  async byUserNames(userNames: string[], trx: KnexTarget = this.db): Promise<Map<string, Person>> {
    const out = new Map<string, Person>();
    for (let i = 0; i < userNames.length; i += 500) {
      const rows = (await trx<Row>('people').whereIn('user_name', userNames.slice(i, i + 500))) as Row[];
      for (const r of rows) out.set(r.user_name, fromRow(r));
    }
    return out;
  }

  async list(filter: PersonFilter = {}, scope?: PeopleScope): Promise<Person[]> {
    const q = whereVisible(this.db<Row>('people'), scope)
      .orderBy('user_name')
      .limit(Math.min(filter.limit ?? 100, 1000));
    if (filter.q) {
      const prefix = `${likeLiteral(filter.q)}%`;
      q.where((w) =>
        w
          .whereRaw("user_name LIKE ? ESCAPE '!'", [prefix])
          .orWhereRaw("display_name LIKE ? ESCAPE '!'", [prefix])
          .orWhereRaw("email LIKE ? ESCAPE '!'", [prefix]),
      );
    }
    if (filter.email) q.where({ email: filter.email });
    // Groups and roles are JSON arrays of strings: a member's name appears quoted.
    if (filter.group) q.whereRaw("group_names LIKE ? ESCAPE '!'", [`%${likeLiteral(JSON.stringify(filter.group))}%`]);
    if (filter.role) q.whereRaw("role_names LIKE ? ESCAPE '!'", [`%${likeLiteral(JSON.stringify(filter.role))}%`]);
    if (filter.after) q.where('user_name', '>', filter.after);
    return ((await q) as Row[]).map(fromRow);
  }
}
