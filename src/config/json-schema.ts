/** JSON Schema for editors and CI, generated from the zod schema (config/credgate.schema.json). */
import { z } from 'zod';
import { configSchema } from './schema.js';

export const SCHEMA_PATH = 'config/credgate.schema.json';

export function jsonSchemaText(): string {
  const schema = z.toJSONSchema(configSchema, { io: 'input', target: 'draft-2020-12' });
  return `${JSON.stringify({ ...schema, title: 'credgate configuration' }, null, 2)}\n`;
}
