/**
 * The pages of /derived/: who the card says you are and your derived
 * credentials, the QR code to scan, and refusals. Every value is escaped:
 * card subjects and directory names are not ours to trust.
 */
import { escapeHtml } from '../util/html.js';
import type { CardHolder } from '../identity/derived.js';
import type { DerivedCredential } from '../store/derived-credentials.js';

class Html {
  constructor(readonly text: string) {}
}

const show = (v: unknown): string =>
  v instanceof Html ? v.text : Array.isArray(v) ? v.map(show).join('') : v === undefined || v === null ? '' : escapeHtml(String(v));

/** A template whose interpolations are escaped, unless they are Html themselves. */
function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  return new Html(strings.reduce((out, s, i) => out + s + (i < values.length ? show(values[i]) : ''), ''));
}

const when = (ms: number | null) => (ms === null ? '' : ms >= 8.64e15 ? 'never' : new Date(ms).toUTCString());

function layout(title: string, body: Html): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>body{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;line-height:1.5}table{border-collapse:collapse}td,th{padding:.2rem .6rem;border-bottom:1px solid #ddd;text-align:left}code{word-break:break-all}.code{font-size:2rem;letter-spacing:.1em}</style>
</head>
<body>
<h1>${title}</h1>
${body}
</body>
</html>
`.text;
}

function cardLines(h: CardHolder): Html {
  return html`<p>Signed in with the PIV card of <b>${h.person.displayName}</b> (${h.person.userName}).</p>
<p><small>Card certificate: ${h.card.subject}; issued by ${h.card.issuer}; serial ${h.card.serial}; valid until ${when(h.card.notAfter)}.</small></p>`;
}

const STATUS: Record<string, string> = {
  ready: 'waiting to be collected',
  'awaiting-validation': 'waiting for validation',
  collecting: 'being collected',
  issued: 'on your device',
  disabled: 'suspended',
  cancelled: 'cancelled',
  locked: 'locked after wrong codes',
};

function credentialRows(list: DerivedCredential[]): Html {
  if (list.length === 0) return html`<p>You have no derived credential from this card yet.</p>`;
  const rows = list.map(
    (d) =>
      html`<tr><td>${d.createdAt ? when(d.createdAt) : ''}</td><td>${STATUS[d.status] ?? d.status}</td><td>${when(d.notAfter)}</td><td>${when(d.rederiveAt)}</td></tr>`,
  );
  return html`<table><thead><tr><th>Requested</th><th>Status</th><th>Expires</th><th>Derive a new one before</th></tr></thead><tbody>${rows}</tbody></table>`;
}

export function overviewPage(h: CardHolder, credentials: DerivedCredential[], formToken: string): string {
  return layout(
    'Derived credentials',
    html`${cardLines(h)}
<h2>Your derived credentials</h2>
${credentialRows(credentials)}
<p>A derived credential cannot be renewed. To replace it (a new phone, or before the date above), request a new one: it replaces the current one as soon as your app has collected it.</p>
<form method="post" action="request">
<input type="hidden" name="token" value="${formToken}">
<button type="submit">Request a derived credential</button>
</form>`,
  );
}

export function qrPage(
  h: CardHolder,
  issued: { requestId: string; code: string; link: string; server: string; qrPngBase64: string; expiresAt: number; supersedes: string | null },
): string {
  return layout(
    'Scan this code with your app',
    html`${cardLines(h)}
<p>Open the Company Portal, or your derived-credential app, and scan this QR code. Do not share it: anyone who scans it first gets the credential.</p>
<p><img id="qr" src="data:image/png;base64,${issued.qrPngBase64}" width="320" height="320" alt="QR code for your app"></p>
<p>If the app asks you to type it in: one-time code <b class="code" id="code">${issued.code}</b>, request <code id="request">${issued.requestId}</code>, server <code id="server">${issued.server}</code>.</p>
<p>The code works once, until ${when(issued.expiresAt)}.${issued.supersedes ? html` Your current derived credential is revoked once the new one is on your device.` : ''}</p>
<p><small>Link the QR code holds: <code id="link">${issued.link}</code></small></p>`,
  );
}

export function refusalPage(status: number, message: string): string {
  return layout(status === 401 ? 'Present your PIV card' : 'Derived credentials', html`<p id="refusal">${message}</p>`);
}
