/** {{name}} placeholders filled from a flat map, escaped for where the text goes (HTML, JSON, form, URL or plain). */
import { escapeHtml } from '../util/html.js';

export type Escaping = 'html' | 'json' | 'form' | 'url' | 'none';

const escapers: Record<Escaping, (s: string) => string> = {
  html: escapeHtml,
  json: (s) => JSON.stringify(s).slice(1, -1),
  form: (s) => new URLSearchParams({ v: s }).toString().slice(2),
  url: encodeURIComponent,
  none: (s) => s,
};

/** Unknown placeholders are left as they are, so a typo shows in the message instead of vanishing. */
export function render(template: string, values: Record<string, string>, escaping: Escaping): string {
  return template.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (whole, key: string) => (key in values ? escapers[escaping](values[key]!) : whole));
}
