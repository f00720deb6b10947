/**
 * The OpenAPI documents in api/, served as they are: the Identity Agent's at
 * /mobile/v1/openapi.yaml, the admin API's at /api/v1/openapi.yaml. Each is
 * read once, when its router is built, from the first api/ folder above this
 * module (src/http/ under tsx, dist/src/http/ when built).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RequestHandler } from 'express';

export type ApiDocumentName = 'mobile-v1.openapi.yaml' | 'admin-v1.openapi.yaml';

export function apiDocument(name: ApiDocumentName): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'api', name);
    if (existsSync(file)) return readFileSync(file, 'utf8');
  }
  throw new Error(`api/${name} not found above the gateway module`);
}

/**
 * Answers with the document. It is the same for every installation and holds
 * nothing of the configuration, so it needs no credentials, and caches may
 * keep it for a few minutes.
 */
export function serveApiDocument(name: ApiDocumentName): RequestHandler {
  const text = apiDocument(name);
  return (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=300').type('application/yaml').send(text);
  };
}
