/**
 * The admin API's own routers at /api/v1, each a feature: who the caller is
 * and the job queue, the MDM connectors (what each is, a test against its
 * vendor), the certificate inventory and the uploads of certificates
 * issued elsewhere. Features with admin routes of
 * their own (SCEP, mobile IDs, derived credentials, OTA) mount them.
 */
import { adminRouter } from '../http/routes/admin.js';
import { certificateRouter } from '../http/routes/certificates.js';
import { connectorsRouter } from '../http/routes/connectors.js';
import { unmanagedCertificatesRouter } from '../http/routes/unmanaged-certificates.js';
import { listConnector } from './connector-listing.js';
import { testConnector } from './connector-test.js';
import type { LoadedConnector } from './connectors.js';
import { feature, type CoreServices, type Feature } from './feature.js';

export function buildJobsApi({ auth, jobs, bodyLimit }: CoreServices): Feature {
  return feature({
    mounts: [
      {
        path: '/api/v1',
        router: adminRouter({ guard: auth.admin, jobs: jobs.repository, scope: auth.scope, wakeWorkers: () => jobs.queue.wake(), bodyLimit }),
      },
    ],
  });
}

export function buildConnectorsApi({ auth, consoleUrl }: CoreServices, files: LoadedConnector[]): Feature {
  const router = connectorsRouter({
    guard: auth.admin,
    list: () => files.map((c) => listConnector(c, consoleUrl())),
    test: async (id) => {
      const c = files.find((f) => f.id === id);
      return c && testConnector(c);
    },
  });
  return feature({ mounts: [{ path: '/api/v1', router }] });
}

export function buildCertificatesApi({ auth, bodyLimit, issuance }: CoreServices): Feature {
  return feature({
    mounts: [
      // Before the inventory's router, whose JSON parser takes server.bodyLimit: an upload has its own limit.
      { path: '/api/v1', router: unmanagedCertificatesRouter({ guard: auth.admin, unmanaged: issuance.unmanaged }) },
      { path: '/api/v1', router: certificateRouter({ guard: auth.admin, bodyLimit, scope: auth.scope, ...issuance }) },
    ],
  });
}
