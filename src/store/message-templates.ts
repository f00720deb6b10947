/** Operator-edited texts of notifications (renewal notices, request messages); built-in defaults apply when none is stored. */
import type { Db } from './db.js';
import type { KnexTarget } from './sql.js';

export interface MessageTemplate {
  name: string;
  subject: string | null;
  body: string;
  updatedBy: string;
  updatedAt: number;
}

interface Row {
  name: string;
  subject: string | null;
  body: string;
  updated_by: string;
  updated_at: number;
}

export class MessageTemplateRepository {
  constructor(private readonly db: Db) {}

  async get(name: string): Promise<MessageTemplate | undefined> {
    const r = (await this.db<Row>('message_templates').where({ name }).first()) as Row | undefined;
    return r && { name: r.name, subject: r.subject, body: r.body, updatedBy: r.updated_by, updatedAt: Number(r.updated_at) };
  }

  /** Replaces a template (insert or update). */
  async put(trx: KnexTarget, t: Omit<MessageTemplate, 'updatedAt'>, now = Date.now()): Promise<void> {
    const row = { subject: t.subject, body: t.body, updated_by: t.updatedBy, updated_at: now };
    const n = await trx('message_templates').where({ name: t.name }).update(row);
    if (n === 0) await trx('message_templates').insert({ name: t.name, ...row });
  }

  async remove(trx: KnexTarget, name: string): Promise<boolean> {
    return (await trx('message_templates').where({ name }).delete()) > 0;
  }
}
