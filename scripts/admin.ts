// `npm run admin -- create NAME [--password P]` and `npm run admin -- promote NAME`:
// manage admins with the server's own configuration (DATABASE_URL, or the
// PGlite data under DATA_DIR; config flags such as --data-dir work too).
// Without --password, create asks for one on a terminal, or else generates
// one and prints it once. Every change goes through services.users and lands
// in the audit log. PGlite keeps its data in one process: while a server runs
// on the same DATA_DIR the command is refused (exit 1) and changes nothing;
// stop the server first (or use the ADMIN_USERNAME/ADMIN_PASSWORD settings).
// Exit codes: 0 done, 1 refused (e.g. name taken, weak password), 2 usage or config error.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { ConfigError, loadConfig } from '../src/config.ts';
import { openDatabase, type Database } from '../src/db/connect.ts';
import { DataDirInUseError } from '../src/db/data-dir-lock.ts';
import { DomainError } from '../src/domain/errors.ts';
import { createLocalEventBus } from '../src/domain/events.ts';
import { createServices } from '../src/domain/services.ts';
import { username as usernameSchema } from '../src/http/schemas/users.ts';
import { serviceSettings } from '../src/settings.ts';

const USAGE = `usage:
  npm run admin -- create NAME [--password PASSWORD]   create an admin account
  npm run admin -- promote NAME                        make an existing user an admin
The server's settings apply (DATABASE_URL, DATA_DIR, ... from the environment or as --flags).`;

class UsageError extends Error {}

function parseArgs(argv: string[]) {
  const positional: string[] = [];
  const configFlags: string[] = [];
  let password: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--password' || arg.startsWith('--password=')) {
      password = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
      if (password === undefined) throw new UsageError('--password needs a value');
    } else if (arg === '--help' || arg === '-h') {
      throw new UsageError('');
    } else if (arg.startsWith('--')) {
      configFlags.push(arg);
      if (!arg.includes('=') && argv[i + 1] !== undefined) configFlags.push(argv[++i]!);
    } else {
      positional.push(arg);
    }
  }
  const [command, name, ...extra] = positional;
  if (command !== 'create' && command !== 'promote') throw new UsageError(command ? `unknown command "${command}"` : 'a command is needed');
  if (!name || extra.length > 0) throw new UsageError(`${command} takes exactly one NAME`);
  if (!usernameSchema.safeParse(name).success) throw new UsageError(`"${name}" is not a valid username (3 to 32 letters, digits or underscores)`);
  if (command === 'promote' && password !== undefined) throw new UsageError('promote does not change passwords');
  return { command, name, password, configFlags };
}

/** Reads a line from the terminal without echoing it. */
function promptHidden(question: string): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk, _enc, done) {
      if (!muted) process.stdout.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  return new Promise((resolve) => {
    rl.question(question, (answer) => {
      rl.close();
      process.stdout.write('\n');
      resolve(answer);
    });
    muted = true;
  });
}

async function main(argv: string[]): Promise<number> {
  let args;
  let config;
  try {
    args = parseArgs(argv);
    config = loadConfig(process.env, args.configFlags);
  } catch (e) {
    if (e instanceof UsageError || e instanceof ConfigError) {
      process.stderr.write(`${e.message ? `admin: ${e.message}\n` : ''}${USAGE}\n`);
      return 2;
    }
    throw e;
  }

  let password = args.password;
  let generated = false;
  if (args.command === 'create' && password === undefined) {
    if (process.stdin.isTTY) {
      password = await promptHidden(`password for ${args.name} (empty: generate one): `);
    }
    if (!password) {
      password = randomBytes(18).toString('base64url');
      generated = true;
    }
  }

  let database: Database;
  try {
    database = await openDatabase({
      databaseUrl: config.DATABASE_URL,
      dataDir: path.join(config.dataDir, 'pglite'),
      poolSize: 2,
      queryTimeoutMs: config.DATABASE_QUERY_TIMEOUT_MS,
    });
  } catch (e) {
    if (e instanceof DataDirInUseError) {
      // A second PGlite on the server's files would write changes the server never sees and later overwrites.
      process.stderr.write(`admin: ${e.message}\n(then run this command again, or set ADMIN_USERNAME and ADMIN_PASSWORD to have the server create the admin at start)\n`);
      return 1;
    }
    throw e;
  }
  const events = createLocalEventBus();
  try {
    const { users } = createServices(serviceSettings(config), database, events);
    const ctx = { actorId: null, ip: null };
    const existing = await users.findByUsername(args.name);
    if (args.command === 'create') {
      if (existing) {
        process.stderr.write(`admin: a user named ${existing.username} exists; use \`npm run admin -- promote ${existing.username}\`\n`);
        return 1;
      }
      const { user } = await users.ensureAdmin(args.name, password, ctx);
      process.stdout.write(`admin ${user.username} created (id ${user.id})\n`);
      if (generated) process.stdout.write(`password: ${password}\n(shown once; keep it somewhere safe)\n`);
      return 0;
    }
    if (!existing) {
      process.stderr.write(`admin: no user named ${args.name}\n`);
      return 1;
    }
    if (existing.role === 'admin') {
      process.stdout.write(`${existing.username} is already an admin\n`);
      return 0;
    }
    await users.ensureAdmin(existing.username, undefined, ctx);
    process.stdout.write(`${existing.username} is now an admin (id ${existing.id})\n`);
    return 0;
  } catch (e) {
    if (e instanceof DomainError) {
      process.stderr.write(`admin: ${e.message} (${e.code})\n`);
      return 1;
    }
    throw e;
  } finally {
    await events.close();
    await database.close();
  }
}

process.exitCode = await main(process.argv.slice(2));
