/**
 * Loads credgate.yaml: YAML with positions, ${ENV_VAR} interpolation,
 * CREDGATE_* environment overrides, then schema validation. Every problem
 * becomes a ConfigError whose lines read `file:line:col key.path: what to fix`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isMap, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { configSchema, type Config } from './schema.js';
import { envOverrides } from './env.js';
import { formatIssue } from './issues.js';

export const DEFAULT_CONFIG_PATH = 'config/credgate.yaml';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

export interface LoadOptions {
  /** Explicit path (--config); wins over CREDGATE_CONFIG and the default. */
  path?: string;
  env?: NodeJS.ProcessEnv;
}

export interface LoadedConfig {
  config: Config;
  /** The file read, or undefined when running on built-in defaults. */
  source: string | undefined;
}

export function resolveConfigPath(opts: LoadOptions): { path: string; explicit: boolean } {
  const env = opts.env ?? process.env;
  if (opts.path) return { path: opts.path, explicit: true };
  if (env.CREDGATE_CONFIG) return { path: env.CREDGATE_CONFIG, explicit: true };
  return { path: DEFAULT_CONFIG_PATH, explicit: false };
}

export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  const { path, explicit } = resolveConfigPath(opts);
  let text = '';
  let source: string | undefined = path;
  if (!existsSync(path)) {
    if (explicit) throw new ConfigError([`${path}: no such file; pass an existing file with --config or CREDGATE_CONFIG`]);
    source = undefined;
  } else {
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigError([`${path}: cannot read: ${(err as Error).message}`]);
    }
  }
  return { config: parseConfig(text, source ?? '(defaults)', env), source };
}

/** Parses and validates configuration text; `file` is used in messages only. */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Config {
  return parseYaml(text, file, configSchema, { env, envOverrides: true });
}

/**
 * Parses YAML against any schema with the same guarantees as the main
 * configuration: ${VAR} interpolation and errors at file:line:col.
 * CREDGATE_* overrides apply only where `envOverrides` is set.
 */
export function parseYaml<S extends z.ZodType>(
  text: string,
  file: string,
  schema: S,
  opts: { env?: NodeJS.ProcessEnv; envOverrides?: boolean } = {},
): z.output<S> {
  const env = opts.env ?? process.env;
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const where = (node: Node | null | undefined): string => {
    const offset = node?.range?.[0];
    if (offset === undefined) return file;
    const { line, col } = lineCounter.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const { line, col } = lineCounter.linePos(e.pos[0]);
        return `${file}:${line}:${col} invalid YAML: ${e.message.split('\n')[0]}`;
      }),
    );
  }
  if (doc.contents !== null && !isMap(doc.contents)) {
    throw new ConfigError([`${where(doc.contents as Node)} expected a mapping of settings at the top level`]);
  }

  const problems = interpolate(doc, env, where);
  if (problems.length > 0) throw new ConfigError(problems);

  // Environment overrides are applied to the document so that validation
  // errors can still say where the bad value came from.
  const fromEnv = new Map<string, string>();
  for (const o of opts.envOverrides ? envOverrides(schema, env) : []) {
    if (doc.contents === null) doc.contents = doc.createNode({}) as never;
    doc.setIn(o.path, o.value);
    fromEnv.set(o.path.join('.'), o.variable);
  }

  const data = (doc.toJS() ?? {}) as unknown;
  const result = schema.safeParse(data);
  if (result.success) return result.data as z.output<S>;
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const key = issue.path.join('.');
      const variable = fromEnv.get(key);
      const origin = variable ? `${variable} (environment)` : where(nearestNode(doc, issue.path));
      return `${origin} ${key || '(top level)'}: ${formatIssue(issue as z.core.$ZodIssue, valueAt(data, issue.path))}`;
    }),
  );
}

function valueAt(data: unknown, path: PropertyKey[]): unknown {
  let v: unknown = data;
  for (const k of path) v = v && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}

/** The node at `path`, or its closest existing ancestor (for missing keys). */
function nearestNode(doc: Document, path: PropertyKey[]): Node | null {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n) as (string | number)[], true);
    if (node && typeof node === 'object' && 'range' in node) return node as Node;
  }
  return null;
}

const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Replaces ${VAR} and ${VAR:-default} inside string scalars, in place. */
function interpolate(doc: Document, env: NodeJS.ProcessEnv, where: (n: Node) => string): string[] {
  const problems: string[] = [];
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value !== 'string' || !node.value.includes('${')) return;
      node.value = node.value.replace(PLACEHOLDER, (_m, name: string, fallback: string | undefined) => {
        const v = env[name];
        if (v !== undefined && v !== '') return v;
        if (fallback !== undefined) return fallback;
        problems.push(`${where(node)} environment variable ${name} is not set; export it or give a default as \${${name}:-value}`);
        return '';
      });
    },
  });
  return problems;
}
