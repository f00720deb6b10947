/**
 * One check for `credgate serve` and `credgate config check`, so that what
 * the one refuses the other reports: unsafe settings and invalid connector
 * files, every problem at once rather than one per restart.
 */
import { ConfigError, type LoadedConfig } from '../config/load.js';
import { loadConnectorFiles } from './connectors.js';
import { unsafeSettings } from './unsafe-settings.js';

export function checkConfiguration(loaded: LoadedConfig, env: NodeJS.ProcessEnv = process.env): void {
  const problems = unsafeSettings(loaded, env);
  try {
    loadConnectorFiles(loaded.config.connectors.dir);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  if (problems.length > 0) throw new ConfigError(problems);
}
