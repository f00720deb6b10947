/** The append-only audit trail: rows are inserted, never updated or deleted. */
import type { Db } from './db.js';
import { sqlOf, type SqlTarget } from './sql.js';

export interface AuditEntry {
  id: number;
  at: number;
  actor: string;
  action: string;
  subjectType: string;
  subjectId: string;
  reason: string | null;
  detail: unknown;
}

export type NewAuditEntry = Omit<AuditEntry, 'id' | 'at' | 'reason' | 'detail'> & { reason?: string | null; detail?: unknown };

interface Row {
  id: number;
  at: number;
  actor: string;
  action: string;
  subject_type: string;
  subject_id: string;
  reason: string | null;
  detail: string | null;
}

export interface AuditFilter {
  subjectType?: string;
  subjectId?: string;
  action?: string;
  actor?: string;
  since?: number;
  limit?: number;
  before?: number;
}

// Every issuance appends one: plain SQL (store/sql.ts).
const APPEND = 'INSERT INTO audit (at, actor, action, subject_type, subject_id, reason, detail) VALUES (?, ?, ?, ?, ?, ?, ?)';

export class AuditRepository {
  constructor(private readonly db: Db) {}

  /** Appends inside the caller's transaction, so the audit row exists exactly when the change does. */
  async append(target: SqlTarget, entry: NewAuditEntry, now = Date.now()): Promise<void> {
    await sqlOf(target).run(APPEND, [
      now,
      entry.actor,
      entry.action,
      entry.subjectType,
      entry.subjectId,
      entry.reason ?? null,
      entry.detail === undefined ? null : JSON.stringify(entry.detail),
    ]);
  }

  /** Which of these certificates `actor` issued (the issuance row written with each certificate says). */
  async issuedBy(actor: string, serials: string[]): Promise<Set<string>> {
    if (serials.length === 0) return new Set();
    const rows = (await this.db('audit')
      .where({ action: 'certificate.issue', subject_type: 'certificate', actor })
      .whereIn('subject_id', serials)
      .select('subject_id')) as { subject_id: string }[];
    return new Set(rows.map((r) => r.subject_id));
  }

  async list(filter: AuditFilter = {}): Promise<AuditEntry[]> {
    const q = this.db<Row>('audit')
      .orderBy('id', 'desc')
      .limit(Math.min(filter.limit ?? 100, 1000));
    if (filter.subjectType) q.where({ subject_type: filter.subjectType });
    if (filter.subjectId) q.where({ subject_id: filter.subjectId });
    if (filter.action) q.where({ action: filter.action });
    if (filter.actor) q.where({ actor: filter.actor });
    if (filter.since) q.where('at', '>=', filter.since);
    if (filter.before) q.where('id', '<', filter.before);
    return ((await q) as Row[]).map((r) => ({
      id: Number(r.id),
      at: Number(r.at),
      actor: r.actor,
      action: r.action,
      subjectType: r.subject_type,
      subjectId: r.subject_id,
      reason: r.reason,
      detail: r.detail === null ? null : (JSON.parse(r.detail) as unknown),
    }));
  }
}
