/**
 * Who may read /metrics. Its series map how the gateway is used (routes,
 * statuses, latencies, queue depth), so by default only callers on this
 * host may: a scraper next to it. Others are admitted by network or by a
 * bearer token. A refused caller gets the 404 every unknown path gets, so
 * it learns nothing, not even that /metrics exists.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { BlockList, isIPv4 } from 'node:net';
import type { RequestHandler } from 'express';

export interface MetricsAccessOptions {
  /** Networks in CIDR form (validated by the config schema). */
  allow: string[];
  token?: string | undefined;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

function networks(cidrs: string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address = '', prefix = ''] = cidr.split('/');
    list.addSubnet(address, Number(prefix), isIPv4(address) ? 'ipv4' : 'ipv6');
  }
  return list;
}

/**
 * Passes admitted requests on and sends the rest past the router, to the
 * application's 404. The address is the TCP peer's: X-Forwarded-For is
 * whatever the caller writes. A request carrying Forwarded or
 * X-Forwarded-For came through a proxy, whose own address (often loopback,
 * on the same host) says nothing about the caller, so only the token can
 * admit it.
 */
export function metricsAccess(opts: MetricsAccessOptions): RequestHandler {
  const allowed = networks(opts.allow);
  // Compared as SHA-256 digests so timingSafeEqual sees equal lengths whatever the caller sends.
  const token = opts.token === undefined ? undefined : digest(opts.token);
  return (req, _res, next) => {
    const proxied = req.headers.forwarded !== undefined || req.headers['x-forwarded-for'] !== undefined;
    const address = req.socket.remoteAddress;
    if (!proxied && address && allowed.check(address, isIPv4(address) ? 'ipv4' : 'ipv6')) return next();
    const authorization = req.headers.authorization ?? '';
    if (token && authorization.slice(0, 7).toLowerCase() === 'bearer ' && timingSafeEqual(digest(authorization.slice(7).trim()), token)) return next();
    next('router');
  };
}
