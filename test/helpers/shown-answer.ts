/**
 * The answers documentation shows after an example (`# 201 {"id": "…", …}`),
 * read as patterns and compared with what the gateway answered:
 * - `…` as a value stands for any value, as an object member for any further
 *   members, as an array element for any further elements;
 * - an object shown without `…` has exactly the members shown;
 * - in a string, `…` stands for any text and each digit for any digit (codes,
 *   serials and dates are examples); any number stands for any number;
 * - `true`, `false`, `null` and other string characters are literal.
 */

type Pattern =
  | { kind: 'any' }
  | { kind: 'literal'; value: boolean | null }
  | { kind: 'number' }
  | { kind: 'string'; re: RegExp; shown: string }
  | { kind: 'object'; members: [string, Pattern][]; open: boolean }
  | { kind: 'array'; items: Pattern[]; open: boolean };

const ELLIPSIS = '…';

export function parseShown(text: string): Pattern {
  let i = 0;
  const fail = (what: string): never => {
    throw new Error(`shown answer ${JSON.stringify(text)}: ${what} at ${i}`);
  };
  const space = () => {
    while (/\s/.test(text[i] ?? '')) i++;
  };
  const eat = (c: string) => {
    space();
    if (text[i] !== c) fail(`expected ${c}`);
    i++;
  };
  const string = (): string => {
    eat('"');
    let s = '';
    while (text[i] !== '"') {
      if (i >= text.length) fail('unterminated string');
      if (text[i] === '\\') {
        s += JSON.parse(`"${text.slice(i, i + 2)}"`) as string;
        i += 2;
      } else s += text[i++];
    }
    i++;
    return s;
  };
  const value = (): Pattern => {
    space();
    const c = text[i];
    if (c === ELLIPSIS) {
      i++;
      return { kind: 'any' };
    }
    if (c === '"') {
      const s = string();
      const re = s
        .split(ELLIPSIS)
        .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/[0-9]/g, '[0-9]'))
        .join('.*');
      return { kind: 'string', re: new RegExp(`^${re}$`, 's'), shown: s };
    }
    if (c === '{') {
      i++;
      const members: [string, Pattern][] = [];
      let open = false;
      space();
      if (text[i] === '}') {
        i++;
        return { kind: 'object', members, open };
      }
      for (;;) {
        space();
        if (text[i] === ELLIPSIS) {
          i++;
          open = true;
        } else {
          const key = string();
          eat(':');
          members.push([key, value()]);
        }
        space();
        if (text[i] === '}') {
          i++;
          return { kind: 'object', members, open };
        }
        eat(',');
      }
    }
    if (c === '[') {
      i++;
      const items: Pattern[] = [];
      let open = false;
      space();
      if (text[i] === ']') {
        i++;
        return { kind: 'array', items, open };
      }
      for (;;) {
        space();
        if (text[i] === ELLIPSIS && /[\s,\]]/.test(text[i + 1] ?? '')) {
          i++;
          open = true;
        } else {
          items.push(value());
        }
        space();
        if (text[i] === ']') {
          i++;
          return { kind: 'array', items, open };
        }
        eat(',');
      }
    }
    const word = /^(true|false|null|-?[0-9][0-9.eE+-]*)/.exec(text.slice(i))?.[0] ?? fail('expected a value');
    i += word.length;
    if (word === 'true' || word === 'false' || word === 'null') return { kind: 'literal', value: JSON.parse(word) as boolean | null };
    return { kind: 'number' };
  };
  const p = value();
  space();
  if (i !== text.length) fail('unexpected text');
  return p;
}

/** Where `actual` differs from the shown pattern, one line each; empty when it matches. */
export function mismatches(pattern: Pattern, actual: unknown, at = '$'): string[] {
  const show = (v: unknown) => JSON.stringify(v)?.slice(0, 120);
  switch (pattern.kind) {
    case 'any':
      return [];
    case 'literal':
      return actual === pattern.value ? [] : [`${at}: shown ${show(pattern.value)}, got ${show(actual)}`];
    case 'number':
      return typeof actual === 'number' ? [] : [`${at}: shown a number, got ${show(actual)}`];
    case 'string':
      return typeof actual === 'string' && pattern.re.test(actual) ? [] : [`${at}: shown ${show(pattern.shown)}, got ${show(actual)}`];
    case 'array': {
      if (!Array.isArray(actual)) return [`${at}: shown an array, got ${show(actual)}`];
      const n = pattern.items.length;
      if (pattern.open ? actual.length < n : actual.length !== n) return [`${at}: shown ${n}${pattern.open ? ' or more' : ''} elements, got ${actual.length}`];
      return pattern.items.flatMap((p, k) => mismatches(p, actual[k], `${at}[${k}]`));
    }
    case 'object': {
      if (!actual || typeof actual !== 'object' || Array.isArray(actual)) return [`${at}: shown an object, got ${show(actual)}`];
      const obj = actual as Record<string, unknown>;
      const out: string[] = [];
      for (const [k, p] of pattern.members) {
        if (!(k in obj)) out.push(`${at}.${k}: shown, missing`);
        else out.push(...mismatches(p, obj[k], `${at}.${k}`));
      }
      if (!pattern.open) {
        const shown = new Set(pattern.members.map(([k]) => k));
        for (const k of Object.keys(obj)) if (!shown.has(k)) out.push(`${at}.${k}: not shown (add it, or "…")`);
      }
      return out;
    }
  }
}
