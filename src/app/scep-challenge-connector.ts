/**
 * Which connector decides a SCEP profile's challenges: challenge
 * { connector: <id> }, or { <kind>: <id> }, which also requires the
 * connector to be of that kind (src/config/schema.ts lists the kinds it
 * accepts there).
 */
import type { Config, ScepProfileConfig } from '../config/schema.js';

export interface ChallengeConnector {
  id: string;
  /** The kind { <kind>: <id> } requires; undefined for { connector: <id> }. */
  kind?: string;
  /** The setting's key under `challenge`, as messages name it. */
  key: string;
}

export function challengeConnector(challenge: ScepProfileConfig['challenge']): ChallengeConnector | undefined {
  if (typeof challenge !== 'object' || 'static' in challenge) return undefined;
  const [key, id] = Object.entries(challenge)[0]!;
  return key === 'connector' ? { id, key } : { id, kind: key, key };
}

/** The SCEP profiles whose challenges the connector decides. */
export function profilesValidatedBy(config: Config, connectorId: string): string[] {
  return Object.entries(config.scep.profiles)
    .filter(([, p]) => challengeConnector(p.challenge)?.id === connectorId)
    .map(([name]) => name);
}
