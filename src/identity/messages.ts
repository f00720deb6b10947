/**
 * The texts people receive about their mobile IDs. Each has a built-in
 * default that operators may replace through the admin API
 * (`PUT /api/v1/mobile/templates/{name}`); placeholders are {{name}},
 * escaped for HTML in email.
 */
import type { Db } from '../store/db.js';
import type { AuditRepository } from '../store/audit.js';
import type { MessageTemplate, MessageTemplateRepository } from '../store/message-templates.js';
import { render } from '../notify/render.js';
import { IdentityError } from './errors.js';

export type Channel = 'email' | 'sms';

interface Default {
  channel: Channel;
  subject?: string;
  body: string;
  about: string;
}

const COLLECT = 'Open the Identity Agent on your phone and collect it';

export const DEFAULT_MESSAGES: Record<string, Default> = {
  'request-email': {
    channel: 'email',
    about: 'a mobile ID is ready to collect (the code reaches the user another way)',
    subject: 'Your mobile ID is ready to collect',
    body: `<p>Hello {{displayName}},</p>\n<p>A mobile ID (<b>{{profile}}</b>) is ready for you. ${COLLECT} with the one-time code you were given:</p>\n<p><a href="{{link}}">{{link}}</a></p>\n<p><img src="cid:qr" alt="QR code for the Identity Agent"></p>\n<p>Request: {{requestId}}. It expires {{expiresAt}}.</p>`,
  },
  'request-email-code': {
    channel: 'email',
    about: 'a mobile ID is ready to collect, with its one-time code',
    subject: 'Your mobile ID is ready to collect',
    body: `<p>Hello {{displayName}},</p>\n<p>A mobile ID (<b>{{profile}}</b>) is ready for you. ${COLLECT}, or scan the QR code with it.</p>\n<p>Your one-time code: <b>{{code}}</b></p>\n<p><a href="{{link}}">{{link}}</a></p>\n<p><img src="cid:qr" alt="QR code for the Identity Agent"></p>\n<p>Request: {{requestId}}. The code works once and expires {{expiresAt}}.</p>`,
  },
  'request-sms': {
    channel: 'sms',
    about: 'a mobile ID is ready to collect',
    body: 'Your mobile ID is ready. Open the Identity Agent to collect it: {{link}}',
  },
  'code-sms': {
    channel: 'sms',
    about: 'the one-time code',
    body: 'Your mobile ID code: {{code}} (request {{requestId}}). It works once.',
  },
  'renewal-email': {
    channel: 'email',
    about: 'certificates of a mobile ID expire soon',
    subject: 'Your mobile ID expires on {{notAfter}}',
    body: '<p>Hello {{displayName}},</p>\n<p>The certificates of your mobile ID ({{profile}}) expire on <b>{{notAfter}}</b>, in {{days}} days. Ask your administrator for a replacement before then.</p>',
  },
  'renewal-sms': {
    channel: 'sms',
    about: 'certificates of a mobile ID expire soon',
    body: 'Your mobile ID ({{profile}}) expires on {{notAfter}}. Ask your administrator for a replacement.',
  },
  'rederive-email': {
    channel: 'email',
    about: 'a derived credential is due to be derived anew (it cannot be renewed)',
    subject: 'Derive a new mobile credential before {{rederiveBy}}',
    body: '<p>Hello {{displayName}},</p>\n<p>Your derived credential ({{profile}}) cannot be renewed. Derive a new one before <b>{{rederiveBy}}</b>: sign in with your PIV card at <a href="{{link}}">{{link}}</a> and scan the QR code with your app. The new one replaces the current one, which expires on {{notAfter}}.</p>',
  },
  'rederive-sms': {
    channel: 'sms',
    about: 'a derived credential is due to be derived anew',
    body: 'Your derived credential ({{profile}}) must be derived anew before {{rederiveBy}}: use your PIV card at {{link}}',
  },
};

export interface RenderedMessage {
  channel: Channel;
  subject: string;
  /** HTML for email, plain text for SMS. */
  body: string;
  /** Plain text alternative of an email. */
  text: string;
}

const MAX_BODY = { email: 20_000, sms: 640 };

const plain = (html: string) =>
  html
    .replace(/<img[^>]*>/gi, '')
    .replace(/<br\s*\/?>|<\/p>/gi, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\n{3,}/g, '\n\n')
    .trim();

export class Messages {
  constructor(private readonly deps: { db: Db; templates: MessageTemplateRepository; audit: AuditRepository }) {}

  async render(name: string, values: Record<string, string>): Promise<RenderedMessage> {
    const d = DEFAULT_MESSAGES[name]!;
    const stored = await this.deps.templates.get(name);
    const subject = render(stored?.subject ?? d.subject ?? '', values, 'none');
    if (d.channel === 'sms') return { channel: 'sms', subject: '', body: render(stored?.body ?? d.body, values, 'none'), text: '' };
    const html = render(stored?.body ?? d.body, values, 'html');
    return { channel: 'email', subject, body: html, text: plain(html) };
  }

  async list(): Promise<(Pick<MessageTemplate, 'name' | 'subject' | 'body'> & { channel: Channel; about: string; custom: boolean })[]> {
    return Promise.all(
      Object.entries(DEFAULT_MESSAGES).map(async ([name, d]) => {
        const stored = await this.deps.templates.get(name);
        return {
          name,
          channel: d.channel,
          about: d.about,
          subject: d.channel === 'email' ? (stored?.subject ?? d.subject ?? null) : null,
          body: stored?.body ?? d.body,
          custom: stored !== undefined,
        };
      }),
    );
  }

  async put(name: string, input: { subject?: unknown; body?: unknown }, actor: string): Promise<void> {
    const d = DEFAULT_MESSAGES[name];
    if (!d) throw new IdentityError('not_found', `no message template "${name}"; templates: ${Object.keys(DEFAULT_MESSAGES).join(', ')}`);
    if (typeof input.body !== 'string' || input.body.trim() === '' || input.body.length > MAX_BODY[d.channel]) {
      throw new IdentityError('bad_request', `body is required: ${d.channel === 'email' ? 'HTML' : 'text'} of at most ${MAX_BODY[d.channel]} characters`);
    }
    let subject: string | null = null;
    if (d.channel === 'email') {
      if (typeof input.subject !== 'string' || input.subject.trim() === '' || input.subject.length > 256 || /[\r\n]/.test(input.subject)) {
        throw new IdentityError('bad_request', 'subject is required: one line of at most 256 characters');
      }
      subject = input.subject;
    } else if (input.subject !== undefined) {
      throw new IdentityError('bad_request', `${name} is an SMS template: it has no subject`);
    }
    await this.deps.db.transaction(async (trx) => {
      await this.deps.templates.put(trx, { name, subject, body: input.body as string, updatedBy: actor });
      await this.deps.audit.append(trx, { actor, action: 'message-template.update', subjectType: 'message-template', subjectId: name });
    });
  }

  async reset(name: string, actor: string): Promise<void> {
    if (!DEFAULT_MESSAGES[name]) throw new IdentityError('not_found', `no message template "${name}"`);
    await this.deps.db.transaction(async (trx) => {
      if (await this.deps.templates.remove(trx, name))
        await this.deps.audit.append(trx, { actor, action: 'message-template.reset', subjectType: 'message-template', subjectId: name });
    });
  }
}
