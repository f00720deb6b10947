/**
 * /api/v1: the admin API's own routes. Its OpenAPI document
 * (api/admin-v1.openapi.yaml) is public; whoami accepts every method; the
 * jobs need the admin role. The other routers at /api/v1 are the features'.
 */
import express, { Router } from 'express';

import { JOB_STATUSES, type JobRepository, type JobStatus } from '../../store/jobs.js';
import { Refusal } from '../../util/refusal.js';
import type { Guard } from '../auth/authenticate.js';
import { badRequest, notFound } from '../errors.js';
import { serveApiDocument } from '../openapi-document.js';

export interface AdminDeps {
  /** Route guards bound to the admin allowlist and strategies. */
  guard: Guard;
  jobs: JobRepository;
  wakeWorkers(): void;
  bodyLimit: number;
}

function positiveInt(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw badRequest(`${name} must be a positive integer`);
  return n;
}

export function adminRouter(deps: AdminDeps): Router {
  const router = Router();
  router.use(express.json({ limit: deps.bodyLimit }));

  // Public: the same for every installation and without secrets, so tooling can read it before it has a credential.
  router.get('/openapi.yaml', serveApiDocument('admin-v1.openapi.yaml'));

  router.get('/whoami', deps.guard({ methods: ['client-cert', 'bearer', 'basic'] }), (req, res) => {
    res.json({ principal: req.user });
  });

  const admin = deps.guard({ methods: ['client-cert', 'bearer'], roles: ['admin'] });

  router.get('/jobs', admin, async (req, res) => {
    const status = req.query.status as string | undefined;
    if (status !== undefined && !JOB_STATUSES.includes(status as JobStatus)) {
      throw badRequest(`status must be one of ${JOB_STATUSES.join(', ')}`);
    }
    const jobs = await deps.jobs.list({
      ...(status && { status: status as JobStatus }),
      ...(typeof req.query.type === 'string' && { type: req.query.type }),
      limit: positiveInt(req.query.limit, 'limit') ?? 50,
      ...(req.query.before !== undefined && { before: positiveInt(req.query.before, 'before') }),
    });
    res.json({ jobs });
  });

  router.get('/jobs/:id', admin, async (req, res) => {
    const job = await deps.jobs.get(positiveInt(req.params.id, 'job id')!);
    if (!job) throw notFound(`job ${req.params.id} does not exist`);
    res.json({ job });
  });

  router.post('/jobs/:id/retry', admin, async (req, res) => {
    const id = positiveInt(req.params.id, 'job id')!;
    if (!(await deps.jobs.retry(id))) {
      const job = await deps.jobs.get(id);
      if (!job) throw notFound(`job ${id} does not exist`);
      throw new Refusal('conflict', `job ${id} is ${job.status}; only dead jobs can be retried`);
    }
    deps.wakeWorkers();
    res.json({ job: await deps.jobs.get(id) });
  });

  return router;
}
