/**
 * Loads credgate.yaml: YAML with positions, ${ENV_VAR} interpolation,
 * CREDGATE_* environment overrides, then schema validation. Every problem
 * becomes a ConfigError whose lines read `file:line:col key.path: what to fix`.
 * No line repeats a secret (src/config/secret.ts) or a value taken from the
 * environment: they are named by key and variable only.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node, type YAMLError } from 'yaml';
import type { z } from 'zod';
import { configSchema, type Config } from './schema.js';
import { envOverrides } from './env.js';
import { formatIssue } from './issues.js';
import { isSecret, mayHoldSecret } from './secret.js';

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
  /** Keys of secrets written out in the file itself rather than taken from the environment, e.g. "pki.masterKey". */
  inlineSecrets: string[];
  /** Where a setting (or the closest enclosing one written) is: `file:line:col`, or the CREDGATE_* variable that set it; undefined when neither is written. */
  locate: Locate;
  /** Names of the environment variables the file's ${VAR} placeholders take. */
  variables: string[];
}

/** Where the value at a key path (or its closest written ancestor) comes from, for messages. */
export type Locate = (path: readonly PropertyKey[]) => string | undefined;

/** A YAML document parsed and validated, with what messages about it need. */
export interface ParsedDocument<T> {
  data: T;
  locate: Locate;
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
  const { data, inlineSecrets, locate, variables } = parseDocumentAs(text, source ?? '(defaults)', configSchema, { env, envOverrides: true });
  return { config: data, source, inlineSecrets, variables, locate };
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
  return parseDocumentAs(text, file, schema, opts).data;
}

/** parseYaml, keeping what later checks need to say where a setting is. */
export function parseYamlDocument<S extends z.ZodType>(
  text: string,
  file: string,
  schema: S,
  opts: { env?: NodeJS.ProcessEnv; envOverrides?: boolean } = {},
): ParsedDocument<z.output<S>> {
  const { data, locate } = parseDocumentAs(text, file, schema, opts);
  return { data, locate };
}

/** The variables ${VAR} placeholders in `text` name, whether or not the text is valid YAML. */
export function placeholderNames(text: string): string[] {
  return [...new Set([...text.matchAll(PLACEHOLDER)].map((m) => m[1]!))];
}

function parseDocumentAs<S extends z.ZodType>(
  text: string,
  file: string,
  schema: S,
  opts: { env?: NodeJS.ProcessEnv; envOverrides?: boolean },
): ParsedDocument<z.output<S>> & { inlineSecrets: string[]; variables: string[] } {
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
        return `${file}:${line}:${col} invalid YAML: ${yamlProblem(e)}`;
      }),
    );
  }
  if (doc.contents !== null && !isMap(doc.contents)) {
    throw new ConfigError([`${where(doc.contents as Node)} expected a mapping of settings at the top level`]);
  }

  // Unset variables are reported with everything else the schema finds; what
  // they left empty is not reported again.
  const { problems, filled, fromEnvOnly, unset, variables } = interpolate(doc, env, where);

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
  // A setting left out, with nothing around it written either, has no place in the file.
  const locate: Locate = (path) => {
    const variable = overriddenBy(fromEnv, path);
    if (variable) return `${variable} (environment)`;
    const node = nearestNode(doc, [...path]);
    return node && node !== doc.contents ? where(node) : undefined;
  };
  if (result.success && problems.length === 0) {
    // A secret is inline when the file holds its value: no ${VAR} filled it and no variable overrode it.
    const inlineSecrets = scalarPaths(doc)
      .filter(({ path, node }) => !fromEnvOnly.has(node) && overriddenBy(fromEnv, path) === undefined && isSecret(schema, path))
      .map(({ path }) => path.join('.'));
    return { data: result.data as z.output<S>, inlineSecrets, locate, variables };
  }
  const issues = result.success ? [] : result.error.issues.filter((issue) => !unset.has(doc.getIn(issue.path as (string | number)[], true) as Node));
  throw new ConfigError([
    ...problems,
    ...issues.map((issue) => {
      const key = issue.path.join('.');
      const variable = overriddenBy(fromEnv, issue.path);
      const origin = variable ? `${variable} (environment)` : where(nearestNode(doc, issue.path));
      const node = doc.getIn(issue.path as (string | number)[], true) as Node | undefined;
      const hide = variable !== undefined || (node !== undefined && filled.has(node)) || mayHoldSecret(schema, issue.path);
      return `${origin} ${key || '(top level)'}: ${formatIssue(issue as z.core.$ZodIssue, valueAt(data, issue.path), { hide })}`;
    }),
  ]);
}

/** The variable that set the value at `path` or a collection around it. */
function overriddenBy(fromEnv: Map<string, string>, path: readonly PropertyKey[]): string | undefined {
  for (let n = path.length; n > 0; n--) {
    const variable = fromEnv.get(path.slice(0, n).join('.'));
    if (variable) return variable;
  }
  return undefined;
}

/**
 * The parser's message without the text it stumbled on, which may be part of
 * a secret; the position already says where to look.
 */
function yamlProblem(e: YAMLError): string {
  const first = e.message.split('\n')[0]!;
  if (e.code === 'BAD_DQ_ESCAPE') return 'Invalid escape sequence in a double-quoted string';
  return first.replace(/: .*$/, '');
}

/** Every scalar of the document with its key path. */
function scalarPaths(doc: Document): { path: (string | number)[]; node: Node }[] {
  const out: { path: (string | number)[]; node: Node }[] = [];
  const walk = (node: unknown, path: (string | number)[]) => {
    if (isScalar(node)) out.push({ path, node });
    else if (isMap(node)) {
      for (const pair of node.items) if (isPair(pair) && isScalar(pair.key)) walk(pair.value, [...path, String(pair.key.value)]);
    } else if (isSeq(node)) {
      for (const [i, item] of node.items.entries()) walk(item, [...path, i]);
    }
  };
  walk(doc.contents, []);
  return out;
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

/**
 * Replaces ${VAR} and ${VAR:-default} inside string scalars, in place.
 * `filled`: scalars with any placeholder; `fromEnvOnly`: scalars that are one
 * placeholder taken from the environment, with nothing of the file's in them;
 * `unset`: scalars with a variable that is not set and has no default;
 * `variables`: every variable named.
 */
function interpolate(
  doc: Document,
  env: NodeJS.ProcessEnv,
  where: (n: Node) => string,
): { problems: string[]; filled: Set<Node>; fromEnvOnly: Set<Node>; unset: Set<Node>; variables: string[] } {
  const problems: string[] = [];
  const filled = new Set<Node>();
  const fromEnvOnly = new Set<Node>();
  const unset = new Set<Node>();
  const variables = new Set<string>();
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value !== 'string' || !node.value.includes('${')) return;
      const whole = new RegExp(`^${PLACEHOLDER.source}$`).exec(node.value);
      let defaulted = false;
      node.value = node.value.replace(PLACEHOLDER, (_m, name: string, fallback: string | undefined) => {
        variables.add(name);
        const v = env[name];
        if (v !== undefined && v !== '') return v;
        defaulted = true;
        if (fallback !== undefined) return fallback;
        problems.push(`${where(node)} environment variable ${name} is not set; export it or give a default as \${${name}:-value}`);
        unset.add(node);
        return '';
      });
      filled.add(node);
      if (whole && !defaulted) fromEnvOnly.add(node);
    },
  });
  return { problems, filled, fromEnvOnly, unset, variables: [...variables] };
}
