/** What every CLI command needs: the validated config and a logger. */
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { createLogger, logFormat, type Logger } from '../observability/logger.js';

export interface Context extends LoadedConfig {
  log: Logger;
}

export function context(opts: { config?: string }): Context {
  const loaded = loadConfig(opts.config ? { path: opts.config } : {});
  const { level, format } = loaded.config.logging;
  return { ...loaded, log: createLogger({ level, format: logFormat(format) }) };
}
