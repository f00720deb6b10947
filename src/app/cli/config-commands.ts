/** `credgate config check` and `credgate config schema`. */
import { writeFileSync } from 'node:fs';
import { loadConfig, resolveConfigPath } from '../../config/load.js';
import { jsonSchemaText, SCHEMA_PATH } from '../../config/json-schema.js';
import { checkConfiguration } from '../config-check.js';

/**
 * Checks what `serve` checks before it starts (src/app/config-check.ts),
 * without writing anything. The dev PKI files the first start writes are
 * named on stderr, not reported as missing.
 */
export async function configCheck(opts: { config?: string }): Promise<void> {
  const loaded = loadConfig(opts.config ? { path: opts.config } : {});
  const { toBeWritten } = await checkConfiguration(loaded);
  const { source } = loaded;
  const shown = source ?? `${resolveConfigPath({}).path} (absent: built-in defaults)`;
  if (toBeWritten.length > 0)
    process.stderr.write(`credgate: ${loaded.config.pki.dir}/ does not hold the dev PKI yet; \`credgate init\` or the first start writes it\n`);
  process.stdout.write(`${shown}: OK\n`);
}

export function showConfigSchema(opts: { write?: boolean }): void {
  if (opts.write) {
    writeFileSync(SCHEMA_PATH, jsonSchemaText());
    process.stdout.write(`wrote ${SCHEMA_PATH}\n`);
  } else {
    process.stdout.write(jsonSchemaText());
  }
}
