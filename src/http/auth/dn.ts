/**
 * Distinguished-name comparison for allowlists. Admins write subjects in many
 * styles ("CN=a, O=b", "/O=b/CN=a"); we compare the multiset of TYPE=value
 * pairs with types upper-cased and values trimmed, which is what they mean.
 */
const ALIASES: Record<string, string> = { EMAILADDRESS: 'E', EMAIL: 'E', COMMONNAME: 'CN' };

export function parseDn(dn: string): string[] {
  const text = dn.trim().replace(/^\//, '');
  const sep = dn.trim().startsWith('/') ? '/' : /[,\n]/.test(text) ? /[,\n]/ : ',';
  return text
    .split(sep)
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const eq = part.indexOf('=');
      const type = part.slice(0, eq).trim().toUpperCase();
      return `${ALIASES[type] ?? type}=${part.slice(eq + 1).trim()}`;
    })
    .sort();
}

export function sameDn(a: string, b: string): boolean {
  const x = parseDn(a);
  const y = parseDn(b);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** node:crypto prints subjects one RDN per line; make that a one-line DN for display. */
export const oneLineDn = (nodeSubject: string): string => nodeSubject.split('\n').filter(Boolean).join(', ');
