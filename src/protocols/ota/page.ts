/**
 * The intermediate web page the user opens in Safari before the profile:
 * who is asking, a link to the root CA certificate, and the Enroll button
 * that downloads the Profile Service payload. Every value is HTML-escaped.
 */
import { escapeHtml } from '../../util/html.js';
import type { ProfileTexts } from './profiles.js';

const STYLE = `body{font:17px -apple-system,system-ui,sans-serif;margin:0;background:#f2f2f7;color:#1c1c1e}
main{max-width:32rem;margin:0 auto;padding:2rem 1.25rem}
.org{color:#6e6e73;margin:0}h1{font-size:1.6rem;margin:.25rem 0 1rem}
ol{padding-left:1.25rem}li{margin:.75rem 0}
.button{display:block;text-align:center;background:#007aff;color:#fff;padding:.9rem;border-radius:.75rem;text-decoration:none;font-weight:600;margin-top:1.5rem}
form{display:flex;gap:.5rem}input{flex:1;font-size:1rem;padding:.6rem}button{font-size:1rem;padding:.6rem 1rem}`;

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><main>${body}</main></body></html>
`;
}

export interface EnrollPage {
  texts: ProfileTexts;
  /** Link to the root CA certificate. */
  rootHref: string;
  rootName: string;
  /** Link to the Profile Service payload (phase 1). */
  enrollHref: string;
  expiresAt: Date;
}

export function enrollPage(p: EnrollPage): string {
  return layout(
    p.texts.displayName,
    `<p class="org">${escapeHtml(p.texts.organization)}</p>
<h1>${escapeHtml(p.texts.displayName)}</h1>
<p>${escapeHtml(p.texts.description)}</p>
<ol>
<li>If your device does not trust <a href="${escapeHtml(p.rootHref)}">${escapeHtml(p.rootName)}</a> yet, install that root certificate first.</li>
<li>Tap Enroll, then install the profile in Settings. Your device sends its identity, and your certificates are installed.</li>
</ol>
<a class="button" href="${escapeHtml(p.enrollHref)}">Enroll</a>
<p class="org">This link works on one device, until ${escapeHtml(p.expiresAt.toUTCString())}.</p>`,
  );
}

/** No code yet: a form asking for the one the operator sent. */
export function codeFormPage(texts: ProfileTexts, message?: string): string {
  return layout(
    texts.displayName,
    `<p class="org">${escapeHtml(texts.organization)}</p>
<h1>${escapeHtml(texts.displayName)}</h1>
${message ? `<p>${escapeHtml(message)}</p>` : ''}
<form method="get"><input name="code" autocomplete="one-time-code" aria-label="Enrollment code" placeholder="Enrollment code" required><button>Continue</button></form>`,
  );
}

/** A refusal, in words the user can act on. */
export function messagePage(message: string): string {
  return layout('Enrollment', `<p>${escapeHtml(message)}</p>`);
}
