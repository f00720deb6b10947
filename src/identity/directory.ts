/**
 * People and devices: create, update, find, and bulk import from CSV or
 * JSON. Input is validated before anything is written; an import is one
 * transaction, so a file with one bad row changes nothing and the answer
 * lists every bad row. Every change is audited in its own transaction.
 *
 * Finding and updating reach only the people in the caller's operator scope
 * (scope.ts), and devices through their owner; anyone else reads as unknown.
 * A caller whose scope is not all changes a person's display name and
 * mobile number only: groups decide scope and roles decide rights, so
 * changing them would widen a reach; the email address and UPN are names
 * that certificates certify and that find a person for MDM enrollments
 * (escrowed-keys.ts), so giving someone another person's would reach past
 * the scope; and a new user name or serial could collide with one out of
 * sight, whose refusal would reveal it. Creating and importing need scope
 * all (the route guard), for that same reason.
 */
import { randomUUID } from 'node:crypto';
import { parse as parseCsv, CsvError } from 'csv-parse/sync';
import type { Knex } from 'knex';
import { z } from 'zod';
import type { AuditRepository } from '../store/audit.js';
import type { Db } from '../store/db.js';
import { PLATFORMS, type Device, type DeviceFields, type DeviceFilter, type DeviceRepository } from '../store/devices.js';
import type { PeopleScope, Person, PersonFields, PersonFilter, PersonRepository } from '../store/people.js';
import type { KnexTarget } from '../store/sql.js';
import { EMAIL_ADDRESS } from '../util/email-address.js';
import { unsafeCharacter } from '../util/unsafe-text.js';
import { IdentityError } from './errors.js';
import type { OperatorScope, ResolvedViewer, Viewer } from './scope.js';

const text = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .superRefine((s, ctx) => {
      const bad = unsafeCharacter(s);
      if (bad) ctx.addIssue({ code: 'custom', message: `must not contain ${bad.description}` });
    });
const optional = <T extends z.ZodType>(t: T) => z.preprocess((v) => (v === '' ? null : v), t.nullish()).transform((v) => v ?? null);
const label = text(64).regex(/^[\w.@ -]+$/, { message: 'expected letters, digits, spaces and . _ @ -' });
/** Lists arrive as JSON arrays or, from CSV, as one cell separated by ';'. */
const labels = z
  .preprocess(
    (v) =>
      typeof v === 'string'
        ? v
            .split(';')
            .map((s) => s.trim())
            .filter(Boolean)
        : v,
    z.array(label).max(100),
  )
  .default([]);

/** Mobile numbers are kept as + and digits, whatever separators they were written with. */
export const mobileNumber = z
  .string()
  .trim()
  .regex(/^\+?[0-9][0-9 ().-]{4,30}$/, { message: 'expected a phone number such as +44 7700 900123' })
  .transform((s) => s.replace(/[ ().-]/g, ''))
  .refine((s) => s.replace('+', '').length >= 5 && s.replace('+', '').length <= 15, { message: 'expected 5 to 15 digits' });

const personFields = {
  userName: text(191).regex(/^\S+$/, { message: 'must not contain spaces' }),
  displayName: text(256),
  email: optional(z.email({ pattern: EMAIL_ADDRESS, message: 'expected an email address' }).max(254)),
  mobile: optional(mobileNumber),
  upn: optional(text(256).regex(/^[^@\s]+@[^@\s]+$/, { message: 'expected a UPN such as jane@corp.example.com' })),
  title: optional(text(128)),
  groups: labels,
  roles: labels,
};
const personInput = z.strictObject(personFields);

export const SERIAL = /^[A-Za-z0-9][A-Za-z0-9-]{2,63}$/;
const deviceFields = {
  serial: z
    .string()
    .trim()
    .regex(SERIAL, { message: 'expected 3 to 64 letters, digits or dashes' })
    .transform((s) => s.toUpperCase()),
  platform: z.preprocess(
    (v) => (typeof v === 'string' ? v.trim().toLowerCase() : v),
    z.enum(PLATFORMS, { message: `expected one of ${PLATFORMS.join(', ')}` }),
  ),
  model: optional(text(128)),
  osVersion: optional(text(64)),
  /** The owner's id or user name. */
  owner: optional(text(191)),
};
const deviceInput = z.strictObject(deviceFields);
type DeviceInput = z.infer<typeof deviceInput>;

const MAX_IMPORT_ROWS = 10_000;

/** "path: message" for each problem, as an operator reads them. */
export function describeIssues(error: z.ZodError, prefix = ''): string[] {
  return error.issues.map((i) => {
    const at = [prefix, ...i.path.map(String)].filter(Boolean).join('.');
    return at ? `${at}: ${i.message}` : i.message;
  });
}

function parseOrThrow<T>(schema: z.ZodType<T>, input: unknown): T {
  const r = schema.safeParse(input);
  if (!r.success) throw new IdentityError('bad_request', describeIssues(r.error).join('; '));
  return r.data;
}

export interface ImportRow {
  /** Line in the CSV file, or index in the JSON array (from 1). */
  row: number;
  value: Record<string, unknown>;
}

export interface ImportResult {
  created: number;
  updated: number;
  unchanged: number;
}

/** Reads rows from CSV (header line of field names) or a JSON array. */
export function importRows(body: unknown, kind: 'csv' | 'json', fields: readonly string[]): ImportRow[] {
  let rows: ImportRow[];
  if (kind === 'csv') {
    if (typeof body !== 'string' || body.trim() === '')
      throw new IdentityError('bad_request', `expected CSV with a header line naming columns from: ${fields.join(', ')}`);
    let parsed: { record: Record<string, string>; info: { lines: number } }[];
    try {
      parsed = parseCsv(body, { columns: true, info: true, bom: true, trim: true, skip_empty_lines: true }) as typeof parsed;
    } catch (err) {
      if (err instanceof CsvError) throw new IdentityError('bad_request', `CSV: ${err.message}`);
      throw err;
    }
    const header = Object.keys(parsed[0]?.record ?? {});
    const unknown = header.filter((h) => !fields.includes(h));
    if (unknown.length) throw new IdentityError('bad_request', `CSV: unknown column ${unknown.map((u) => `"${u}"`).join(', ')}; columns: ${fields.join(', ')}`);
    rows = parsed.map((p) => ({ row: p.info.lines, value: p.record }));
  } else {
    if (!Array.isArray(body)) throw new IdentityError('bad_request', 'expected a JSON array of objects');
    rows = body.map((value, i) => {
      if (!value || typeof value !== 'object' || Array.isArray(value)) throw new IdentityError('bad_request', `[${i + 1}]: expected an object`);
      return { row: i + 1, value: value as Record<string, unknown> };
    });
  }
  if (rows.length === 0) throw new IdentityError('bad_request', 'nothing to import');
  if (rows.length > MAX_IMPORT_ROWS) throw new IdentityError('bad_request', `at most ${MAX_IMPORT_ROWS} rows per import; split the file`);
  return rows;
}

/** Validates every row; one IdentityError lists all the bad ones. */
function validateRows<T>(rows: ImportRow[], schema: z.ZodType<T>, key: (v: T) => string): { row: number; value: T }[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  const out: { row: number; value: T }[] = [];
  for (const r of rows) {
    const parsed = schema.safeParse(r.value);
    if (!parsed.success) {
      problems.push(...describeIssues(parsed.error, `row ${r.row}`));
      continue;
    }
    const k = key(parsed.data);
    const first = seen.get(k);
    if (first !== undefined) problems.push(`row ${r.row}: ${k} is already in row ${first}`);
    seen.set(k, r.row);
    out.push({ row: r.row, value: parsed.data });
  }
  if (problems.length)
    throw new IdentityError(
      'bad_request',
      `nothing was imported: ${problems.slice(0, 50).join('; ')}${problems.length > 50 ? `; and ${problems.length - 50} more` : ''}`,
    );
  return out;
}

const samePerson = (a: PersonFields, b: PersonFields) => JSON.stringify(personFieldsOf(a)) === JSON.stringify(personFieldsOf(b));
const personFieldsOf = (p: PersonFields): PersonFields => ({
  userName: p.userName,
  displayName: p.displayName,
  email: p.email,
  mobile: p.mobile,
  upn: p.upn,
  title: p.title ?? null,
  groups: p.groups,
  roles: p.roles,
});

export const PERSON_COLUMNS = Object.keys(personFields);
export const DEVICE_COLUMNS = Object.keys(deviceFields);

/** What a caller whose scope is not all may change (the header says why). */
const SCOPED_PERSON_FIELDS = ['displayName', 'mobile'];
const SCOPED_DEVICE_FIELDS = ['platform', 'model', 'osVersion', 'owner'];

function onlyScopedFields(patch: object, allowed: string[], me: ResolvedViewer): void {
  if (me.scope === 'all') return;
  const refused = Object.keys(patch).filter((k) => !allowed.includes(k));
  if (refused.length > 0)
    throw new IdentityError(
      'forbidden',
      `with operator scope ${me.scope} you may change only ${allowed.join(', ')}; ${refused.join(', ')} needs a role with scope all`,
    );
}

export class Directory {
  constructor(private readonly deps: { db: Db; people: PersonRepository; devices: DeviceRepository; audit: AuditRepository; scope: OperatorScope }) {}

  // --- people ---

  async createPerson(input: unknown, actor: string): Promise<Person> {
    const fields = parseOrThrow(personInput, input);
    const id = randomUUID();
    await this.deps.db.transaction(async (trx) => {
      if (await this.deps.people.byUserName(fields.userName, trx))
        throw new IdentityError('conflict', `a user named "${fields.userName}" exists; update it instead`);
      await this.deps.people.insert(trx, id, fields);
      await this.deps.audit.append(trx, {
        actor,
        action: 'user.create',
        subjectType: 'user',
        subjectId: id,
        detail: { userName: fields.userName, roles: fields.roles, groups: fields.groups },
      });
    });
    return (await this.deps.people.get(id))!;
  }

  /** Changes the given fields; null clears an optional one. */
  async updatePerson(ref: string, patch: unknown, caller: Viewer): Promise<Person> {
    if (!patch || typeof patch !== 'object' || Array.isArray(patch)) throw new IdentityError('bad_request', 'expected an object of fields to change');
    const me = await this.deps.scope.resolve(caller);
    const actor = caller.actor;
    return this.deps.db.transaction(async (trx) => {
      const current = await this.deps.people.find(ref, trx, me.filter);
      if (!current) throw new IdentityError('not_found', `no user ${ref}`);
      onlyScopedFields(patch, SCOPED_PERSON_FIELDS, me);
      const fields = parseOrThrow(personInput, { ...personFieldsOf(current), ...(patch as object) });
      if (fields.userName !== current.userName && (await this.deps.people.byUserName(fields.userName, trx))) {
        throw new IdentityError('conflict', `a user named "${fields.userName}" exists`);
      }
      await this.deps.people.update(trx, current.id, fields);
      await this.deps.audit.append(trx, {
        actor,
        action: 'user.update',
        subjectType: 'user',
        subjectId: current.id,
        detail: { changed: Object.keys(patch as object) },
      });
      return (await this.deps.people.get(current.id, trx))!;
    });
  }

  /** A person by id or user name, if the viewer's scope reaches them. */
  async person(ref: string, viewer: Viewer): Promise<Person | undefined> {
    return this.deps.people.find(ref, this.deps.db, await this.deps.scope.filter(viewer));
  }

  /** People the viewer's scope reaches, filtered in SQL so a page holds `limit` of them. */
  async findPeople(filter: PersonFilter, viewer: Viewer): Promise<Person[]> {
    return this.deps.people.list(filter, await this.deps.scope.filter(viewer));
  }

  /** Creates new user names and updates existing ones, all or nothing. */
  async importPeople(body: unknown, kind: 'csv' | 'json', actor: string): Promise<ImportResult> {
    const rows = validateRows(importRows(body, kind, PERSON_COLUMNS), personInput, (p) => `user name "${p.userName}"`);
    return this.deps.db.transaction(async (trx) => {
      const existing = await this.deps.people.byUserNames(
        rows.map((r) => r.value.userName),
        trx,
      );
      const result: ImportResult = { created: 0, updated: 0, unchanged: 0 };
      for (const { value } of rows) {
        const current = existing.get(value.userName);
        if (current && samePerson(current, value)) {
          result.unchanged++;
        } else if (current) {
          await this.deps.people.update(trx, current.id, value);
          await this.deps.audit.append(trx, { actor, action: 'user.update', subjectType: 'user', subjectId: current.id, detail: { source: 'import' } });
          result.updated++;
        } else {
          const id = randomUUID();
          await this.deps.people.insert(trx, id, value);
          await this.deps.audit.append(trx, {
            actor,
            action: 'user.create',
            subjectType: 'user',
            subjectId: id,
            detail: { userName: value.userName, source: 'import' },
          });
          result.created++;
        }
      }
      return result;
    });
  }

  // --- devices ---

  /** Registers a device by serial number, which makes it a known mobile for profiles restricted to those. */
  async registerDevice(input: unknown, actor: string): Promise<Device> {
    const given = parseOrThrow(deviceInput, input);
    const id = randomUUID();
    await this.deps.db.transaction(async (trx) => {
      const known = await this.deps.devices.bySerial(given.serial, trx);
      if (known) throw new IdentityError('conflict', `device ${given.serial} is already registered as ${known.id}; update it instead`);
      const fields = await this.deviceFields(given, trx);
      await this.deps.devices.insert(trx, id, fields);
      await this.deps.audit.append(trx, {
        actor,
        action: 'device.register',
        subjectType: 'device',
        subjectId: id,
        detail: { serial: fields.serial, platform: fields.platform, ownerId: fields.ownerId },
      });
    });
    return (await this.deps.devices.get(id))!;
  }

  async updateDevice(ref: string, patch: unknown, caller: Viewer): Promise<Device> {
    if (!patch || typeof patch !== 'object' || Array.isArray(patch)) throw new IdentityError('bad_request', 'expected an object of fields to change');
    const me = await this.deps.scope.resolve(caller);
    const actor = caller.actor;
    return this.deps.db.transaction(async (trx) => {
      const current = await this.findDevice(ref, me.filter, trx);
      if (!current) throw new IdentityError('not_found', `no device ${ref}`);
      onlyScopedFields(patch, SCOPED_DEVICE_FIELDS, me);
      const given = parseOrThrow(deviceInput, {
        serial: current.serial,
        platform: current.platform,
        model: current.model,
        osVersion: current.osVersion,
        owner: current.ownerId,
        ...(patch as object),
      });
      if (given.serial !== current.serial && (await this.deps.devices.bySerial(given.serial, trx)))
        throw new IdentityError('conflict', `device ${given.serial} is already registered`);
      const fields = await this.deviceFields(given, trx, me.filter);
      await this.deps.devices.update(trx, current.id, fields);
      await this.deps.audit.append(trx, {
        actor,
        action: 'device.update',
        subjectType: 'device',
        subjectId: current.id,
        detail: { changed: Object.keys(patch as object) },
      });
      return (await this.deps.devices.get(current.id, trx))!;
    });
  }

  /** A device by id or serial, if the viewer's scope reaches its owner (one without an owner: scope all only). */
  async device(ref: string, viewer: Viewer): Promise<Device | undefined> {
    return this.findDevice(ref, await this.deps.scope.filter(viewer));
  }

  /** Both lookups run when a scope limits them, so a hidden device costs what a missing one does. */
  private async findDevice(ref: string, scope: PeopleScope, trx: KnexTarget = this.deps.db): Promise<Device | undefined> {
    if (scope === 'all') return (await this.deps.devices.get(ref, trx)) ?? this.deps.devices.bySerial(ref.toUpperCase(), trx);
    const [byId, bySerial] = await Promise.all([this.deps.devices.get(ref, trx, scope), this.deps.devices.bySerial(ref.toUpperCase(), trx, scope)]);
    return byId ?? bySerial;
  }

  async findDevices(filter: DeviceFilter, viewer: Viewer): Promise<Device[]> {
    return this.deps.devices.list(filter, await this.deps.scope.filter(viewer));
  }

  async importDevices(body: unknown, kind: 'csv' | 'json', actor: string): Promise<ImportResult> {
    const rows = validateRows(importRows(body, kind, DEVICE_COLUMNS), deviceInput, (d) => `serial ${d.serial}`);
    return this.deps.db.transaction(async (trx) => {
      const owners = await this.deps.people.byUserNames([...new Set(rows.map((r) => r.value.owner).filter((o): o is string => o !== null))], trx);
      const problems: string[] = [];
      const resolved: DeviceFields[] = [];
      for (const { row, value } of rows) {
        const owner = value.owner === null ? null : (owners.get(value.owner) ?? (await this.deps.people.get(value.owner, trx)));
        if (owner === undefined) problems.push(`row ${row}: owner: no user "${value.owner}"`);
        else resolved.push({ serial: value.serial, platform: value.platform, model: value.model, osVersion: value.osVersion, ownerId: owner?.id ?? null });
      }
      if (problems.length) throw new IdentityError('bad_request', `nothing was imported: ${problems.slice(0, 50).join('; ')}`);
      const existing = await this.deps.devices.bySerials(
        resolved.map((d) => d.serial),
        trx,
      );
      const result: ImportResult = { created: 0, updated: 0, unchanged: 0 };
      for (const d of resolved) {
        const current = existing.get(d.serial);
        if (current && current.platform === d.platform && current.model === d.model && current.osVersion === d.osVersion && current.ownerId === d.ownerId) {
          result.unchanged++;
        } else if (current) {
          await this.deps.devices.update(trx, current.id, d);
          await this.deps.audit.append(trx, { actor, action: 'device.update', subjectType: 'device', subjectId: current.id, detail: { source: 'import' } });
          result.updated++;
        } else {
          const id = randomUUID();
          await this.deps.devices.insert(trx, id, d);
          await this.deps.audit.append(trx, {
            actor,
            action: 'device.register',
            subjectType: 'device',
            subjectId: id,
            detail: { serial: d.serial, source: 'import' },
          });
          result.created++;
        }
      }
      return result;
    });
  }

  /** An owner out of the caller's scope reads as no user, as in every other lookup. */
  private async deviceFields(d: DeviceInput, trx: Knex.Transaction, scope: PeopleScope = 'all'): Promise<DeviceFields> {
    let ownerId: string | null = null;
    if (d.owner !== null) {
      const owner = await this.deps.people.find(d.owner, trx, scope);
      if (!owner) throw new IdentityError('bad_request', `owner: no user "${d.owner}"`);
      ownerId = owner.id;
    }
    return { serial: d.serial, platform: d.platform, model: d.model, osVersion: d.osVersion, ownerId };
  }
}
