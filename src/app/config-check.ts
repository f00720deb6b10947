/**
 * One check for `credgate serve` and `credgate config check`, so that what
 * the one refuses the other reports, every problem at once rather than one
 * per restart: unsafe settings, the master key, CREDGATE_* variables that
 * name no setting, what settings name (templates, CAs, SCEP and credential
 * profiles, connectors), the files they name, and the connector files with
 * theirs, and the image files of badge layouts. Each line says where the setting is (file:line:col, or the
 * variable that set it).
 */
import { ConfigError, type LoadedConfig } from '../config/load.js';
import { unknownVariables } from '../config/env.js';
import { configSchema } from '../config/schema.js';
import { badgeProblems } from './badges.js';
import { MasterKeyError, resolveMasterKey } from '../pki/master-key.js';
import { configFileProblems } from './config-files.js';
import { masterKeyMismatch } from './pki-setup.js';
import { connectorFileProblems, connectorPolicyProblems, readConnectorFiles, type LoadedConnector } from './connectors.js';
import { derivedProblems } from './derived.js';
import type { SettingProblem } from './errors.js';
import { templateCaProblems } from './issuance.js';
import { credentialProfileProblems, mobileProblems } from './mobile.js';
import { otaProblems } from './ota.js';
import { connectorProfileProblems, scepProfileProblems } from './scep.js';
import { unsafeSettings } from './unsafe-settings.js';

export interface CheckedConfiguration {
  /** Dev PKI files that are not there yet and that `credgate init` or the first start writes. */
  toBeWritten: string[];
}

/** Throws a ConfigError listing every problem; returns what the first start will still write. */
export async function checkConfiguration(loaded: LoadedConfig, env: NodeJS.ProcessEnv = process.env): Promise<CheckedConfiguration> {
  const { config } = loaded;
  const connectors = readConnectorFiles(config.connectors.dir);
  const placed = (p: SettingProblem) => place(loaded, connectors.loaded, p);

  const problems = unsafeSettings(loaded, env);
  let masterKey: Buffer | undefined | 'unusable';
  try {
    masterKey = resolveMasterKey({ configured: config.pki.masterKey, pkiDir: config.pki.dir, env });
  } catch (err) {
    if (!(err instanceof MasterKeyError)) throw err;
    problems.push(err.message);
    masterKey = 'unusable';
  }
  const mismatch = masterKey === 'unusable' ? undefined : masterKeyMismatch(config, masterKey, env);
  if (mismatch) {
    problems.push(mismatch);
    masterKey = 'unusable';
  }
  problems.push(
    ...[
      ...templateCaProblems(config),
      ...scepProfileProblems(config, connectors.loaded),
      ...credentialProfileProblems(config),
      ...mobileProblems(config),
      ...otaProblems(config),
      ...derivedProblems(config),
      // Async: the image files badge layouts place are decoded.
      ...(await badgeProblems(config)),
    ].map(placed),
  );
  const files = configFileProblems(config, masterKey);
  problems.push(...files.problems.map(placed));
  problems.push(...connectors.problems);
  problems.push(
    ...[
      ...connectorPolicyProblems(connectors.loaded, Object.keys(config.templates)),
      ...connectorProfileProblems(config, connectors.loaded),
      ...connectorFileProblems(connectors.loaded),
    ].map(placed),
  );
  problems.push(...unknownVariables(configSchema, env, [...loaded.variables, ...connectors.variables]));
  if (problems.length > 0) throw new ConfigError(problems);
  return { toBeWritten: files.toBeWritten };
}

/** The problem's line, led by where its setting is: file:line:col, or the file alone when the setting has no place in it. */
function place(loaded: LoadedConfig, connectors: LoadedConnector[], p: SettingProblem): string {
  const where = p.file ? (connectors.find((c) => c.file === p.file)?.locate(p.path) ?? p.file) : loaded.locate(p.path);
  return where ? `${where} ${p.message}` : p.message;
}
