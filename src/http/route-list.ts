/**
 * The routes an express app serves, as "METHOD /path" with express's
 * `:param` placeholders, read from its routers' stacks. The admin API's
 * OpenAPI document is checked against this list, so a route added without
 * being documented is noticed (test/e2e/admin-openapi.test.ts).
 *
 * Express publishes no API for this: the walk reads the `router` package's
 * layers (`route.path`, `route.methods`, and `rawPath`, the path a router was
 * mounted at), which package-lock.json pins.
 */
import type { Express } from 'express';

export interface RouteEntry {
  /** Upper case: GET, POST, … */
  method: string;
  path: string;
}

interface Layer {
  rawPath?: unknown;
  route?: { path: unknown; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

const paths = (p: unknown): string[] => (typeof p === 'string' ? [p] : Array.isArray(p) ? p.filter((x): x is string => typeof x === 'string') : []);

function walk(stack: Layer[], prefix: string, out: RouteEntry[]): void {
  for (const layer of stack) {
    if (layer.route) {
      const methods = Object.keys(layer.route.methods).filter((m) => m !== '_all');
      for (const path of paths(layer.route.path)) for (const m of methods) out.push({ method: m.toUpperCase(), path: prefix + path });
      continue;
    }
    const mounted = layer.handle?.stack;
    // A mounted router; "/" mounts it at the prefix itself.
    if (Array.isArray(mounted)) for (const path of paths(layer.rawPath)) walk(mounted, prefix + (path === '/' ? '' : path), out);
  }
}

export function routesOf(app: Express): RouteEntry[] {
  const out: RouteEntry[] = [];
  walk(((app as unknown as { router?: { stack?: Layer[] } }).router?.stack ?? []) as Layer[], '', out);
  return out;
}
