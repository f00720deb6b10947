/**
 * SMS through any HTTP gateway: URL, method, headers and a body template
 * with {{mobile}} and {{message}}, escaped for the body's content type.
 * The gateway's answer is returned, as MyID's customSendSMS does; a non-2xx
 * answer is an error with its status.
 */
import type { NotifyConfig } from '../config/schema.js';
import { durationMs } from '../config/duration.js';
import { render, type Escaping } from './render.js';

const BODY_ESCAPING: Record<NonNullable<NotifyConfig['sms']>['contentType'], Escaping> = {
  'application/json': 'json',
  'application/x-www-form-urlencoded': 'form',
  'text/plain': 'none',
};

export class SmsSender {
  constructor(private readonly config: NonNullable<NotifyConfig['sms']>) {}

  async send(mobile: string, message: string): Promise<string> {
    const values = { mobile, message };
    const c = this.config;
    const hasBody = c.method !== 'GET';
    const res = await fetch(render(c.url, values, 'url'), {
      method: c.method,
      headers: { ...(hasBody && { 'Content-Type': c.contentType }), ...c.headers },
      ...(hasBody && { body: render(c.body, values, BODY_ESCAPING[c.contentType]) }),
      signal: AbortSignal.timeout(durationMs(c.timeout)),
    });
    const answer = (await res.text()).slice(0, 500);
    // Not the answer's text: a gateway may echo the message, which can hold a one-time code.
    if (!res.ok) throw new Error(`SMS gateway answered ${res.status} ${res.statusText}`);
    return answer;
  }
}
