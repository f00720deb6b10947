/**
 * Fills a template's subject and subjectAltNames from user and device
 * attributes: `CN={{user.displayName}}, O=Example Bank`. The DN is split
 * into attributes before values are filled in, so a value containing a comma
 * ("Smith, Jane") stays one attribute.
 */
import type { NameAttribute } from './certificate.js';
import type { AltName } from './extensions.js';
import { unsafeCharacter } from '../util/unsafe-text.js';

export class TemplateError extends Error {}

export interface TemplateData {
  user?: Record<string, unknown>;
  device?: Record<string, unknown>;
  /** Subject attributes a SCEP one-time challenge was bound to. */
  challenge?: Record<string, unknown>;
}

export interface NameTemplate {
  subject: string;
  subjectAltNames: { type: AltName['type']; value: string; optional?: boolean }[];
}

const PLACEHOLDER = /\{\{\s*([a-zA-Z]+(?:\.[a-zA-Z0-9_]+)+)\s*\}\}/g;

/** Splits "CN=a, O=b\, c" into [["CN","a"],["O","b, c"]]. */
export function parseDnTemplate(dn: string): [string, string][] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < dn.length; i++) {
    const ch = dn[i]!;
    if (ch === '\\' && i + 1 < dn.length) {
      current += dn[++i];
    } else if (ch === ',') {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => {
      const eq = p.indexOf('=');
      if (eq < 1) throw new TemplateError(`subject template part "${p}" is not TYPE=value`);
      return [p.slice(0, eq).trim().toUpperCase(), p.slice(eq + 1).trim()];
    });
}

function lookup(data: TemplateData, path: string): string | undefined {
  let v: unknown = data;
  for (const k of path.split('.')) v = v && typeof v === 'object' && Object.hasOwn(v, k) ? (v as Record<string, unknown>)[k] : undefined;
  if (v === undefined || v === null || v === '') return undefined;
  const text = typeof v === 'string' ? v : String(v);
  // Whoever supplied the attribute (a directory, an MDM, an API caller), a name never carries invisible or control characters.
  const bad = unsafeCharacter(text);
  if (bad) throw new TemplateError(`${path} has ${bad.description}`);
  return text;
}

/** Fills placeholders; returns undefined (with the missing name) when one has no value. */
function fill(text: string, data: TemplateData): { value?: string; missing?: string } {
  let missing: string | undefined;
  const value = text.replace(PLACEHOLDER, (_m, path: string) => {
    const v = lookup(data, path);
    if (v === undefined) missing ??= path;
    return v ?? '';
  });
  return missing ? { missing } : { value };
}

export function renderNames(name: string, tpl: NameTemplate, data: TemplateData): { subject: NameAttribute[]; subjectAltNames: AltName[] } {
  const subject = parseDnTemplate(tpl.subject).map(([type, text]) => {
    const { value, missing } = fill(text, data);
    if (missing) throw new TemplateError(`template ${name} needs ${missing} for ${type}, and it has no value`);
    return { type, value: value! };
  });
  const subjectAltNames: AltName[] = [];
  for (const san of tpl.subjectAltNames) {
    const { value, missing } = fill(san.value, data);
    if (missing) {
      if (san.optional) continue;
      throw new TemplateError(`template ${name} needs ${missing} for its ${san.type} subjectAltName, and it has no value`);
    }
    subjectAltNames.push({ type: san.type, value: value! } as AltName);
  }
  return { subject, subjectAltNames };
}
