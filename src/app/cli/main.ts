/**
 * The `credgate` command. Operator mistakes (bad config, unreachable
 * database, port in use) print one line and exit with status 2.
 */
import { Command } from 'commander';
import { ConfigError } from '../../config/load.js';
import { DEFAULT_TOKEN_LIFETIME, NEVER } from '../../http/auth/api-tokens.js';
import { API_ROLES } from '../../http/auth/roles.js';
import { StartupError } from '../errors.js';
import { jobsList, jobsRetry, jobsShow, tokensCreate, tokensList, tokensRevoke } from './admin-commands.js';
import { configCheck, configSchema } from './config-commands.js';
import { connectorsList, connectorsTest } from './connector-commands.js';
import { init } from './init.js';
import { rotateMaster } from './keys.js';
import { serve } from './serve.js';

const program = new Command('credgate')
  .description('MDM certificate gateway')
  .option('-c, --config <file>', 'configuration file (default: $CREDGATE_CONFIG or config/credgate.yaml)')
  .showHelpAfterError();

const global = () => program.opts<{ config?: string }>();
const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

program.command('serve', { isDefault: true }).description('run the gateway').action(() => serve(global()));
program.command('init').description('write the master key and dev PKI, migrate the database').action(() => init(global()));

const config = program.command('config').description('configuration');
config.command('check').description('validate the configuration and exit').action(() => configCheck(global()));
config
  .command('schema')
  .description('print the JSON Schema of the configuration')
  .option('--write', 'write it to config/credgate.schema.json')
  .action((o: { write?: boolean }) => configSchema(o));

const connectors = program.command('connectors').description('MDM connectors: one <id>.yaml each in connectors.dir');
connectors
  .command('list')
  .description('each connector: kind, file, the URLs its console calls and how the console authenticates')
  .option('--json', 'print JSON')
  .action((o: { json?: boolean }) => connectorsList({ ...global(), ...o }));
connectors
  .command('test <id>')
  .description("check a connector against its vendor with its configured credentials, one line per check; exit status 1 when one fails, 2 for a configuration problem")
  .option('--json', 'print JSON')
  .action((id: string, o: { json?: boolean }) => connectorsTest(id, { ...global(), ...o }));

const jobs = program.command('jobs').description('the durable job queue');
jobs
  .command('list')
  .option('--status <status>', 'queued, running, done or dead')
  .option('--type <type>', 'job type')
  .option('--limit <n>', 'how many, newest first', '50')
  .option('--json', 'print JSON')
  .action((o: Record<string, string>) => jobsList({ ...global(), ...o }));
jobs.command('show <id>').action((id: string) => jobsShow(id, global()));
jobs.command('retry <id>').description('run a dead job again').action((id: string) => jobsRetry(id, global()));

const keys = program.command('keys').description('private keys at rest');
keys
  .command('rotate-master')
  .description('re-wrap every key at rest under a new master key')
  .action(() => rotateMaster(global()));

const tokens = program.command('tokens').description('admin API bearer tokens (creating and revoking one is audited)');
tokens
  .command('create')
  .description('create a token and print it once')
  .requiredOption('--name <name>', 'who or what the token is for (required)')
  .option(
    '--role <role>',
    `role to grant, repeatable: ${API_ROLES.join(', ')} or a role the credential profiles name; without any, the token has no role (for mobile IDs it still holds those of the user named like it)`,
    collect,
  )
  .option('--expires <lifetime>', `a duration such as 30d or 12h, or "${NEVER}": the token then works until revoked`, DEFAULT_TOKEN_LIFETIME)
  .action((o: { name: string; role?: string[]; expires: string }) => tokensCreate({ ...global(), ...o, role: o.role ?? [] }));
tokens.command('list').description('list tokens: id, name, roles, expiry, revocation (never the tokens)').action(() => tokensList(global()));
tokens.command('revoke <id>').description('revoke a token at once').action((id: string) => tokensRevoke(id, global()));

function fail(err: unknown): never {
  if (err instanceof ConfigError || err instanceof StartupError) {
    process.stderr.write(`credgate: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`credgate: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
}

program.parseAsync(process.argv).catch(fail);
