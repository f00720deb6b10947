/** `credgate serve`: run the gateway until SIGINT/SIGTERM. */
import { startGateway } from '../gateway.js';
import { checkConfiguration } from '../config-check.js';
import { context } from '../context.js';
import { guideWanted, startGuide } from './start-guide.js';

const hostInUrl = (host: string) => (host.includes(':') ? `[${host}]` : host);

export async function serve(opts: { config?: string }): Promise<void> {
  const loaded = context(opts);
  const { config, source, log } = loaded;
  await checkConfiguration(loaded);
  log.info({ config: source ?? '(built-in defaults)', database: config.database.client }, 'starting credgate');
  const gateway = await startGateway({ config, log });
  log.info(
    {
      url: gateway.url,
      adminApi: `${gateway.url}/api/v1`,
      health: `${gateway.url}/healthz`,
      metrics: !config.metrics.enabled
        ? undefined
        : config.metrics.listener
          ? `http://${hostInUrl(config.metrics.listener.host)}:${gateway.metricsPort}/metrics`
          : `${gateway.url}/metrics`,
    },
    `credgate listening on ${gateway.url}`,
  );
  if (guideWanted(gateway)) process.stderr.write(startGuide({ config, source, gateway }));
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    gateway.stop().then(
      () => {
        log.flush();
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'unclean shutdown');
        process.exit(1);
      },
    );
  };
  // A failure in background work is logged, not allowed to take the gateway
  // down with requests in flight; jobs that were running are retried.
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}
