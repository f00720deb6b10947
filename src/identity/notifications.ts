/**
 * Where a request's one-time code and its notification go: the code on
 * screen, by SMS, or in the email; the notification by email or SMS.
 * When the code goes by SMS the notification must go by email, so one stolen
 * phone does not receive both. Refusals say what is missing.
 */
import type { Logger } from 'pino';
import type { MobileConfig } from '../config/schema.js';
import type { EmailMessage } from '../notify/email.js';
import { qrPng } from '../notify/qr.js';
import type { Person } from '../store/people.js';
import { IdentityError } from './errors.js';
import type { Messages } from './messages.js';

export type NotifyChoice = 'email' | 'sms' | 'none';

export interface Senders {
  email?: { send(m: EmailMessage): Promise<void> };
  sms?: { send(mobile: string, text: string): Promise<string> };
}

export interface DeliveryPlan {
  code: 'screen' | 'sms' | 'email';
  notifyBy: 'email' | 'sms' | null;
}

export interface MessageDelivery {
  channel: 'email' | 'sms';
  what: 'notification' | 'code' | 'notification+code';
  to: string;
  sent: boolean;
  error?: string;
}

export interface RequestFacts {
  person: Person;
  profile: string;
  requestId: string;
  expiresAt: number;
}

/**
 * One round of notices, one per item: an item whose every attempted channel
 * failed (a mail server down) is kept for the next round; otherwise `mark`
 * records it, so it is told once (also when it could be reached on no channel).
 */
export async function noticeRound<T>(
  due: T[],
  send: (item: T) => Promise<MessageDelivery[] | undefined>,
  mark: (item: T, deliveries: MessageDelivery[]) => Promise<void>,
): Promise<{ notified: number; failed: number }> {
  let notified = 0;
  let failed = 0;
  for (const item of due) {
    const deliveries = await send(item);
    if (!deliveries) continue;
    if (deliveries.length > 0 && deliveries.every((d) => !d.sent)) {
      failed++;
      continue;
    }
    await mark(item, deliveries);
    notified++;
  }
  return { notified, failed };
}

/** Masks an address for answers and logs: j***@example.com, +44******123. */
export const maskAddress = (to: string): string =>
  to.includes('@')
    ? to.replace(/^(.).*(@.*)$/, '$1***$2')
    : to.replace(/^(\+?\d{2}).*(\d{3})$/, (_m, a: string, b: string) => `${a}${'*'.repeat(Math.max(to.length - a.length - 3, 1))}${b}`);

export class Notifications {
  constructor(
    private readonly deps: { messages: Messages; senders: Senders; otpDelivery: MobileConfig['otpDelivery']; appLink: string; baseUrl: string; log: Logger },
  ) {}

  get channels(): { email: boolean; sms: boolean } {
    return { email: this.deps.senders.email !== undefined, sms: this.deps.senders.sms !== undefined };
  }

  /** Decides the plan for this person, or says why it cannot work. */
  plan(person: Person, choice: NotifyChoice | undefined): DeliveryPlan {
    const need = (channel: 'email' | 'sms', why: string) => {
      if (!this.deps.senders[channel])
        throw new IdentityError('bad_request', `${why}, but ${channel === 'email' ? 'email (notify.email)' : 'SMS (notify.sms)'} is not configured`);
      if (channel === 'email' && !person.email) throw new IdentityError('bad_request', `${why}, but ${person.userName} has no email address`);
      if (channel === 'sms' && !person.mobile) throw new IdentityError('bad_request', `${why}, but ${person.userName} has no mobile number`);
    };
    switch (this.deps.otpDelivery) {
      case 'sms':
        need('sms', 'the one-time code goes by SMS (mobile.otpDelivery)');
        if (choice === 'sms')
          throw new IdentityError(
            'bad_request',
            'when the one-time code goes by SMS, the notification must go by email, not SMS; choose notify "email" or "none"',
          );
        if (choice === 'none') return { code: 'sms', notifyBy: null };
        need('email', 'when the one-time code goes by SMS the notification goes by email');
        return { code: 'sms', notifyBy: 'email' };
      case 'email':
        if (choice === 'sms')
          throw new IdentityError('bad_request', 'the one-time code and the notification go by email (mobile.otpDelivery); choose notify "email"');
        need('email', 'the one-time code goes by email (mobile.otpDelivery)');
        return { code: 'email', notifyBy: 'email' };
      default: {
        if (choice === 'none') return { code: 'screen', notifyBy: null };
        if (choice) {
          need(choice, `notify is "${choice}"`);
          return { code: 'screen', notifyBy: choice };
        }
        const by = person.email && this.deps.senders.email ? 'email' : person.mobile && this.deps.senders.sms ? 'sms' : null;
        return { code: 'screen', notifyBy: by };
      }
    }
  }

  /** The link that opens the Identity Agent on this request; with the code only where the code may travel. */
  link(requestId: string, code?: string): string {
    const params = new URLSearchParams({ server: this.deps.baseUrl, request: requestId, ...(code && { code: code.replace(/\s/g, '') }) });
    return `${this.deps.appLink}${this.deps.appLink.includes('?') ? '&' : '?'}${params.toString()}`;
  }

  /** Sends what the plan says. A failed send is reported, not thrown: the request stands and can be cancelled. */
  async send(plan: DeliveryPlan, facts: RequestFacts, code: string): Promise<MessageDelivery[]> {
    const { person } = facts;
    const values = {
      displayName: person.displayName,
      userName: person.userName,
      profile: facts.profile,
      requestId: facts.requestId,
      expiresAt: new Date(facts.expiresAt).toUTCString(),
      server: this.deps.baseUrl,
      link: this.link(facts.requestId),
      code: '',
    };
    const out: MessageDelivery[] = [];
    if (plan.code === 'sms') {
      const m = await this.deps.messages.render('code-sms', { ...values, code });
      out.push(await this.attempt('sms', 'code', person.mobile!, () => this.deps.senders.sms!.send(person.mobile!, m.body)));
    }
    if (plan.notifyBy === 'email') {
      const withCode = plan.code === 'email';
      const m = await this.deps.messages.render(withCode ? 'request-email-code' : 'request-email', { ...values, ...(withCode && { code }) });
      const qr = await qrPng(this.link(facts.requestId, withCode ? code : undefined));
      out.push(
        await this.attempt('email', withCode ? 'notification+code' : 'notification', person.email!, () =>
          this.deps.senders.email!.send({
            to: person.email!,
            subject: m.subject,
            html: m.body,
            text: m.text,
            images: [{ cid: 'qr', filename: 'mobile-id.png', content: qr }],
          }),
        ),
      );
    } else if (plan.notifyBy === 'sms') {
      const m = await this.deps.messages.render('request-sms', values);
      out.push(await this.attempt('sms', 'notification', person.mobile!, () => this.deps.senders.sms!.send(person.mobile!, m.body)));
    }
    return out;
  }

  /** A renewal notice (or, for a derived credential, a re-derive notice) by each configured channel the person can be reached on. */
  async renewalNotice(
    person: Person,
    channels: ('email' | 'sms')[],
    values: Record<string, string>,
    kind: 'renewal' | 'rederive' = 'renewal',
  ): Promise<MessageDelivery[]> {
    const out: MessageDelivery[] = [];
    const all = { displayName: person.displayName, userName: person.userName, server: this.deps.baseUrl, ...values };
    if (channels.includes('email') && this.deps.senders.email && person.email) {
      const m = await this.deps.messages.render(`${kind}-email`, all);
      out.push(
        await this.attempt('email', 'notification', person.email, () =>
          this.deps.senders.email!.send({ to: person.email!, subject: m.subject, html: m.body, text: m.text }),
        ),
      );
    }
    if (channels.includes('sms') && this.deps.senders.sms && person.mobile) {
      const m = await this.deps.messages.render(`${kind}-sms`, all);
      out.push(await this.attempt('sms', 'notification', person.mobile, () => this.deps.senders.sms!.send(person.mobile!, m.body)));
    }
    return out;
  }

  private async attempt(channel: 'email' | 'sms', what: MessageDelivery['what'], to: string, send: () => Promise<unknown>): Promise<MessageDelivery> {
    try {
      await send();
      return { channel, what, to: maskAddress(to), sent: true };
    } catch (err) {
      const error = (err as Error).message.slice(0, 300);
      this.deps.log.warn({ channel, what, to: maskAddress(to), error }, 'notification not sent');
      return { channel, what, to: maskAddress(to), sent: false, error };
    }
  }
}
