/**
 * The `credgate` command. Operator mistakes (bad config, unreachable
 * database, port in use) print one line and exit with status 2.
 */
import { Command } from 'commander';
import { ConfigError } from '../../config/load.js';
import { DEFAULT_TOKEN_LIFETIME, NEVER } from '../../http/auth/api-tokens.js';
import { API_ROLES } from '../../http/auth/roles.js';
import { StartupError } from '../errors.js';
import { jobsList, jobsRetry, jobsShow, rolesList, tokensCreate, tokensList, tokensRevoke } from './admin-commands.js';
import { certificatesDeleteImport, certificatesImport, certificatesImported } from './certificate-commands.js';
import { configCheck, showConfigSchema } from './config-commands.js';
import { endQuietlyOnClosedPipe } from './closed-pipe.js';
import { connectorsList, connectorsTest } from './connector-commands.js';
import { init } from './init.js';
import { rotateMaster } from './keys.js';
import { photoDelete, photoGet, photoSet } from './photo-commands.js';
import { serve } from './serve.js';
import { signingSigners, signingVerify } from './signing-commands.js';
import { packageVersion } from './version.js';

endQuietlyOnClosedPipe();

const program = new Command('credgate')
  .description('MDM certificate gateway')
  .version(packageVersion(), '-V, --version', 'print the version and exit')
  .option('-c, --config <file>', 'configuration file (default: $CREDGATE_CONFIG or config/credgate.yaml)')
  .showHelpAfterError();

const global = () => program.opts<{ config?: string }>();
const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

program
  .command('serve', { isDefault: true })
  .description('run the gateway')
  .action(() => serve(global()));
program
  .command('init')
  .description('write the master key and dev PKI, migrate the database')
  .action(() => init(global()));

const config = program.command('config').description('check the configuration, or print its JSON Schema');
config
  .command('check')
  .description('validate the configuration and exit')
  .action(() => configCheck(global()));
config
  .command('schema')
  .description('print the JSON Schema of the configuration')
  .option('--write', 'write it to config/credgate.schema.json')
  .action((o: { write?: boolean }) => showConfigSchema(o));

const connectors = program.command('connectors').description('MDM connectors: one <id>.yaml each in connectors.dir');
connectors
  .command('list')
  .description('each connector: kind, file, the URLs its console calls and how the console authenticates')
  .option('--json', 'print JSON')
  .action((o: { json?: boolean }) => connectorsList({ ...global(), ...o }));
connectors
  .command('test <id>')
  .description(
    'check a connector against its vendor with its configured credentials, one line per check; exit status 1 when one fails, 2 for a configuration problem',
  )
  .option('--json', 'print JSON')
  .action((id: string, o: { json?: boolean }) => connectorsTest(id, { ...global(), ...o }));

const jobs = program.command('jobs').description('the durable job queue');
jobs
  .command('list')
  .description('list jobs, newest first: id, status, type, tries, last error')
  .option('--status <status>', 'only jobs in this state: queued, running, done or dead')
  .option('--type <type>', 'only jobs of this type')
  .option('--limit <n>', 'how many', '50')
  .option('--json', 'print JSON instead of a table')
  .action((o: Record<string, string>) => jobsList({ ...global(), ...o }));
jobs
  .command('show')
  .description('print one job as JSON, with its payload and last error')
  .argument('<id>', 'job id')
  .action((id: string) => jobsShow(id, global()));
jobs
  .command('retry')
  .description('run a dead job again, with a fresh attempt budget (queued, running and done jobs are refused)')
  .argument('<id>', 'job id')
  .action((id: string) => jobsRetry(id, global()));

const keys = program.command('keys').description('private keys at rest: rotate the master key that wraps them');
keys
  .command('rotate-master')
  .description('re-wrap every key at rest under a new master key')
  .action(() => rotateMaster(global()));

const signing = program.command('signing').description('the content-signing certificates of /mobile/v1 and the holder assertions they sign');
signing
  .command('signers')
  .description('each configured content-signing certificate: current or previous, kid, fingerprint, validity, and until when apps accept it')
  .option('--json', 'print JSON')
  .action((o: { json?: boolean }) => signingSigners({ ...global(), ...o }));
signing
  .command('verify')
  .description(
    "check a badge's holder assertion offline against the configured certificates (signature, type, audience, time); exit status 1 when it is not valid. Whether the mobile ID is still valid only the gateway knows: POST /api/v1/holder-assertions/verify",
  )
  .argument('<assertion>', 'the compact JWS read from the QR code')
  .action((assertion: string) => signingVerify(assertion, global()));

const certificates = program.command('certificates').description("people's certificates issued elsewhere, uploaded with their keys (unmanaged)");
certificates
  .command('import')
  .description("keep a person's PKCS#12 from another CA for a purpose; credential profiles deliver it (the current one for that purpose is superseded)")
  .argument('<user>', 'user name or id')
  .argument('<file>', 'the PKCS#12 (.p12/.pfx) file')
  .requiredOption('--purpose <purpose>', 'authentication, signing or encryption: the profile slot `unmanaged: <purpose>` it fills')
  .option('--password-file <file>', "file holding the PKCS#12's password (one trailing newline is ignored); without it, the password is empty")
  .option('--note <text>', 'why, for the audit trail')
  .option('--json', 'print JSON')
  .action((user: string, file: string, o: { purpose: string; passwordFile?: string; note?: string; json?: boolean }) =>
    certificatesImport(user, file, { ...global(), ...o }),
  );
certificates
  .command('imported')
  .description("list a person's imported certificates, newest first: serial, purpose, state, expiry, subject, issuer")
  .argument('<user>', 'user name or id')
  .option('--json', 'print JSON')
  .action((user: string, o: { json?: boolean }) => certificatesImported(user, { ...global(), ...o }));
certificates
  .command('delete-import')
  .description('delete an imported certificate and destroy its key (credgate cannot revoke it: ask its issuer)')
  .argument('<user>', 'user name or id')
  .argument('<serial>', 'the certificate serial, as `certificates imported` shows it')
  .option('--note <text>', 'why, for the audit trail')
  .action((user: string, serial: string, o: { note?: string }) => certificatesDeleteImport(user, serial, { ...global(), ...o }));

const tokens = program.command('tokens').description('admin API bearer tokens (creating and revoking one is audited)');
tokens
  .command('create')
  .description('create a token and print it once')
  .requiredOption('--name <name>', 'who or what the token is for (required)')
  .option(
    '--role <role>',
    `role to grant, repeatable: ${API_ROLES.join(', ')}, a role auth.roles lists or one the credential profiles name (\`credgate roles list\`); without any, the token has no role (for mobile IDs it still holds those of the user named like it)`,
    collect,
  )
  .option('--expires <lifetime>', `a duration such as 30d or 12h, or "${NEVER}": the token then works until revoked`, DEFAULT_TOKEN_LIFETIME)
  .action((o: { name: string; role?: string[]; expires: string }) => tokensCreate({ ...global(), ...o, role: o.role ?? [] }));
tokens
  .command('list')
  .description('list tokens: id, name, roles, expiry, revocation (never the tokens)')
  .action(() => tokensList(global()));
tokens
  .command('revoke')
  .description('revoke a token at once')
  .argument('<id>', 'token id, as `tokens list` shows it')
  .action((id: string) => tokensRevoke(id, global()));

const roles = program.command('roles').description('operator roles: whom each reaches (scope) and what it may do');
roles
  .command('list')
  .description('list every role the configuration names: scope (all, groups, self), admin API rights, credential profile uses')
  .option('--json', 'print JSON')
  .action((o: { json?: boolean }) => rolesList({ ...global(), ...o }));

const users = program.command('users').description('people in the directory');
const photo = users.command('photo').description("a person's badge photo: PNG or JPEG, checked and re-encoded without its metadata (audited)");
photo
  .command('set')
  .description('set the photo from a PNG or JPEG file (.png, .jpg or .jpeg), replacing any')
  .argument('<user>', 'user id or user name')
  .argument('<file>', 'the image file')
  .option('--json', 'print JSON')
  .action((user: string, file: string, o: { json?: boolean }) => photoSet(user, file, { ...global(), ...o }));
photo
  .command('get')
  .description('write the stored photo to a file')
  .argument('<user>', 'user id or user name')
  .requiredOption('--out <file>', 'where to write it')
  .action((user: string, o: { out: string }) => photoGet(user, { ...global(), ...o }));
photo
  .command('delete')
  .description('delete the photo')
  .argument('<user>', 'user id or user name')
  .action((user: string) => photoDelete(user, global()));

// Commander's own help command reads one name; this one follows a path such as `help jobs retry`.
program.helpCommand(false);
program
  .command('help')
  .description('show help for a command, e.g. `credgate help jobs retry`')
  .argument('[command...]', 'command and subcommand')
  .action((path: string[]) => {
    let command: Command = program;
    for (const [i, name] of path.entries()) {
      const sub = command.commands.find((c) => c.name() === name);
      if (!sub) throw new StartupError(`no command "${path.slice(0, i + 1).join(' ')}"; \`credgate --help\` lists them`);
      command = sub;
    }
    command.help();
  });

function fail(err: unknown): never {
  if (err instanceof ConfigError || err instanceof StartupError) {
    process.stderr.write(`credgate: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`credgate: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
}

program.parseAsync(process.argv).catch(fail);
