/**
 * Fenced code blocks of a Markdown file, with their info string and line, so
 * that documentation's shell examples can be run as written. A fence may be
 * indented (inside a list item); its indentation is taken off its lines.
 */
import { readFileSync } from 'node:fs';

export interface CodeBlock {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The info string's words: `sh`, `sh setup`, `yaml`. */
  info: string[];
  code: string;
}

export function codeBlocks(file: string, label = file): CodeBlock[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const blocks: CodeBlock[] = [];
  for (let n = 0; n < lines.length; n++) {
    const open = /^( *)(`{3,})\s*([^`]*)$/.exec(lines[n]!);
    if (!open) continue;
    const [, indent, fence, info] = open as unknown as [string, string, string, string];
    const body: string[] = [];
    let end = n + 1;
    for (; end < lines.length; end++) {
      const close = /^ *(`{3,})\s*$/.exec(lines[end]!);
      if (close && close[1]!.length >= fence.length) break;
      const l = lines[end]!;
      body.push(l.startsWith(indent) ? l.slice(indent.length) : l.trimStart());
    }
    if (end === lines.length) throw new Error(`${label}:${n + 1}: code block not closed`);
    blocks.push({ file: label, line: n + 1, info: info.trim().split(/\s+/).filter(Boolean), code: body.join('\n') });
    n = end;
  }
  return blocks;
}

/** `# 201 {"id": "…"}` lines: the answers an example shows, in order. */
export function shownAnswers(code: string): { status: number; body: string }[] {
  return code
    .split('\n')
    .map((l) => /^\s*# ([1-5][0-9]{2}) (.+)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ status: Number(m[1]), body: m[2]!.trim() }));
}

/** `NAME='value'` assignments of an example (exported or not): what it sets for the commands after it. */
export function quotedAssignments(code: string): Record<string, string> {
  return Object.fromEntries([...code.matchAll(/(?:^|[\s;])([A-Za-z_][A-Za-z0-9_]*)='([^']*)'/g)].map((m) => [m[1]!, m[2]!]));
}
