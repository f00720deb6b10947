/**
 * Serves and runs the issuance core: /pki (CA certificates, CRLs, OCSP) on
 * HTTPS and on plain HTTP, where CRL and OCSP fetchers expect it, and the
 * key pool and CRL refresh in the background.
 */
import { pkiRouter } from '../http/routes/pki.js';
import { feature, type CoreServices, type Feature } from './feature.js';

export function buildPki({ config, issuance }: CoreServices): Feature {
  return feature({
    mounts: [{ path: '/pki', router: pkiRouter({ ...issuance, defaultCa: config.pki.defaultCa }), on: ['https', 'http'] }],
    start(signal) {
      issuance.start();
      signal.addEventListener('abort', () => issuance.stop(), { once: true });
    },
    // A key being generated for the pool finishes before the database closes.
    stop: () => issuance.keyPool.idle(),
  });
}
