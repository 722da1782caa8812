// Configuration: bad values stop start-up naming the setting; secrets that
// are not given are generated once into DATA_DIR and survive a restart.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { startLiveroom } from '../src/server.ts';
import { httpClient, uniqueName } from './helpers/app.ts';
import { openTestDatabase } from './helpers/db.ts';

const NODE = path.resolve('node_modules/.bin/node');

async function tempDir() {
  return mkdtemp(path.join(tmpdir(), 'liveroom-config-'));
}

function runMain(env: Record<string, string>, args: string[] = []): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, ['src/main.ts', ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('configuration', () => {
  test('bad values are refused with a message naming each setting', async () => {
    const dataDir = await tempDir();
    const cases: [Record<string, string>, string][] = [
      [{ PORT: 'abc' }, 'PORT'],
      [{ PORT: '70000' }, 'PORT'],
      [{ PORT: '-1' }, 'PORT'],
      [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL'],
      [{ REDIS_URL: 'nope' }, 'REDIS_URL'],
      [{ ROLES: 'http,teleport' }, 'ROLES'],
      [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
      [{ JWT_SECRET: 'too-short' }, 'JWT_SECRET'],
      [{ RATE_LIMIT_IP_PER_MIN: '0' }, 'RATE_LIMIT_IP_PER_MIN'],
      [{ BODY_LIMIT_BYTES: '1.5' }, 'BODY_LIMIT_BYTES'],
      [{ REDIS_PREFIX: 'has space' }, 'REDIS_PREFIX'],
      [{ PASSWORD_MIN_LENGTH: '4' }, 'PASSWORD_MIN_LENGTH'],
      [{ TRUST_PROXY: 'yes please' }, 'TRUST_PROXY'],
      [{ TRUST_PROXY: 'loopback, 10.0.0.0/33' }, 'TRUST_PROXY'],
      [{ RTMP_MAX_CONNECTIONS: '10', RTMP_RESERVED_CONNECTIONS: '10' }, 'RTMP_RESERVED_CONNECTIONS'],
      [{ RTMP_MAX_CONNECTIONS_PER_IP: '0' }, 'RTMP_MAX_CONNECTIONS_PER_IP'],
    ];
    for (const [env, name] of cases) {
      assert.throws(() => loadConfig({ DATA_DIR: dataDir, ...env }), (e: unknown) => e instanceof ConfigError && new RegExp(`^  ${name}[.:]`, 'm').test(e.message), JSON.stringify(env));
    }
    // several bad settings are all named at once
    assert.throws(() => loadConfig({ DATA_DIR: dataDir, PORT: 'x', LOG_LEVEL: 'y' }), (e: Error) => /PORT/.test(e.message) && /LOG_LEVEL/.test(e.message));
    await rm(dataDir, { recursive: true, force: true });
  });

  test('defaults need nothing; flags override the environment', async () => {
    const dataDir = await tempDir();
    const c = loadConfig({ DATA_DIR: dataDir });
    assert.equal(c.PORT, 8080);
    assert.equal(c.publicUrl, 'http://localhost:8080');
    assert.equal(c.DATABASE_URL, undefined);
    assert.equal(c.REDIS_URL, undefined);
    assert.deepEqual(c.ROLES, ['http', 'rooms', 'media', 'jobs']);
    const f = loadConfig({ DATA_DIR: dataDir, PORT: '9000', REDIS_URL: '' }, ['--port', '9100', '--roles=http,rooms', '--public-url', 'https://live.example/']);
    assert.equal(f.PORT, 9100);
    assert.deepEqual(f.ROLES, ['http', 'rooms']);
    assert.equal(f.publicUrl, 'https://live.example');
    assert.equal(f.REDIS_URL, undefined, 'an empty URL counts as not set');
    assert.throws(() => loadConfig({ DATA_DIR: dataDir }, ['--port']), (e: Error) => e instanceof ConfigError && /--port/.test(e.message));
    await rm(dataDir, { recursive: true, force: true });
  });

  test('`npm start` with a bad PORT exits non-zero with a message naming PORT, and no stack trace', async () => {
    const dataDir = await tempDir();
    for (const [env, args] of [[{ PORT: 'eighty' }, []], [{ PORT: '8080' }, ['--port', '99999']]] as const) {
      const r = await runMain({ DATA_DIR: dataDir, ...env }, [...args]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /PORT/);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'a message, not a stack trace');
    }
    await rm(dataDir, { recursive: true, force: true });
  });

  test('a secret not given is generated once into DATA_DIR (owner-only) and reused', async () => {
    const dataDir = await tempDir();
    const first = loadConfig({ DATA_DIR: dataDir });
    const file = path.join(dataDir, 'secrets.json');
    assert.ok(existsSync(file));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.ok(first.jwtSecret.length >= 32);
    assert.equal(loadConfig({ DATA_DIR: dataDir }).jwtSecret, first.jwtSecret);
    assert.notEqual(loadConfig({ DATA_DIR: await tempDir() }).jwtSecret, first.jwtSecret, 'each data directory has its own');
    const given = loadConfig({ DATA_DIR: dataDir, JWT_SECRET: 'x'.repeat(40) });
    assert.equal(given.jwtSecret, 'x'.repeat(40));
    assert.equal(JSON.parse(await readFile(file, 'utf8')).jwtSecret, first.jwtSecret, 'a given secret is not written');
    await rm(dataDir, { recursive: true, force: true });
  });

  test('the settings table in docs/configuration.md documents exactly the settings of src/config.ts', async () => {
    const source = await readFile('src/config.ts', 'utf8');
    const schema = source.slice(source.indexOf('const configSchema'), source.indexOf('\n});', source.indexOf('const configSchema')));
    const settings = [...schema.matchAll(/^ {2}([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]!);
    assert.ok(settings.length > 50, `found ${settings.length} settings`);
    const table = await readFile('docs/configuration.md', 'utf8');
    const documented = [...table.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map((m) => m[1]!);
    assert.deepEqual(settings.filter((n) => !documented.includes(n)), [], 'settings missing from the table');
    assert.deepEqual(documented.filter((n) => !settings.includes(n)), [], 'rows for settings that do not exist');
  });

  test('a restart with the same DATA_DIR keeps tokens valid; another DATA_DIR does not accept them', async () => {
    const dataDir = await tempDir();
    const otherDir = await tempDir();
    const database = await openTestDatabase('pglite');
    const env = { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', ROLES: 'http' };
    const start = (dir: string) => startLiveroom(loadConfig({ ...env, DATA_DIR: dir }), { database, logger: createLogger('silent') });
    try {
      const one = await start(dataDir);
      const user = await httpClient(one.url).register(uniqueName('restart'));
      await one.close();

      const two = await start(dataDir);
      const me = await httpClient(two.url).request('GET', '/api/auth/me', { token: user.token });
      assert.equal(me.status, 200, 'the token from before the restart still works');
      assert.equal(me.body.user.id, user.id);
      await two.close();

      const other = await start(otherDir);
      assert.equal((await httpClient(other.url).request('GET', '/api/auth/me', { token: user.token })).status, 401);
      await other.close();
    } finally {
      await database.close();
      await rm(dataDir, { recursive: true, force: true });
      await rm(otherDir, { recursive: true, force: true });
    }
  });
});
