/**
 * Writes `DIR/ws1.yaml`, the connector of bench/ws1/run.sh's ingestion part:
 * the console calls as ws1-events with BENCH_EVENTS_PASSWORD (from the
 * environment, so it is not on a command line), and the Escrow Gateway is
 * one nothing reaches, since that part runs no job workers. EG_DIR holds the
 * throwaway client identity run.sh makes for it.
 *
 *   BENCH_EVENTS_PASSWORD=... node --import tsx bench/ws1/connector-file.ts DIR EG_DIR
 */
import { join } from 'node:path';
import { writeConnectorFile, ws1Settings } from '../../test/helpers/connector-files.js';

const [dir, egDir] = process.argv.slice(2);
const eventsPassword = process.env.BENCH_EVENTS_PASSWORD;
if (!dir || !egDir || !eventsPassword) {
  process.stderr.write('usage: BENCH_EVENTS_PASSWORD=... connector-file.ts DIR EG_DIR\n');
  process.exit(2);
}
writeConnectorFile(
  dir,
  'ws1',
  ws1Settings({
    eventsPassword,
    pkcs12: { format: 'apple', password: 'eg-profile-password' },
    escrowGateway: {
      url: 'https://127.0.0.1:9',
      clientPkcs12: join(egDir, 'client.p12'),
      clientPkcs12Password: 'bench-eg-p12',
      serverCa: join(egDir, 'client.pem'),
    },
  }),
);
