// `npm run admin -- create NAME` / `promote NAME`, run as a separate process
// against the same database and DATA_DIR as a running (or later) server.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { startLiveroom, type Liveroom } from '../src/server.ts';
import { httpClient, uniqueName, type HttpClient } from './helpers/app.ts';
import { POSTGRES_URL, postgresAvailable } from './helpers/db.ts';

const NODE = path.resolve('node_modules/.bin/node');
const SERVER_ENV = { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', ROLES: 'http' };

function admin(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, ['scripts/admin.ts', ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function login(http: HttpClient, username: string, password: string) {
  return http.request('POST', '/api/auth/login', { json: { username, password } });
}

describe('admin CLI on PostgreSQL, next to a running server', { skip: !(await postgresAvailable()) && 'no PostgreSQL server' }, () => {
  const dbName = `lr_t_${randomBytes(6).toString('hex')}`;
  let env: Record<string, string>;
  let live: Liveroom;
  let http: HttpClient;
  let dataDir: string;
  before(async () => {
    const a = new pg.Client({ connectionString: POSTGRES_URL });
    await a.connect();
    await a.query(`CREATE DATABASE ${dbName}`);
    await a.end();
    const url = new URL(POSTGRES_URL);
    url.pathname = `/${dbName}`;
    dataDir = await mkdtemp(path.join(tmpdir(), 'liveroom-admin-'));
    env = { DATABASE_URL: url.toString(), DATA_DIR: dataDir };
    live = await startLiveroom(loadConfig({ ...SERVER_ENV, ...env }), { logger: createLogger('silent') });
    http = httpClient(live.url);
  });
  after(async () => {
    await live?.close();
    const a = new pg.Client({ connectionString: POSTGRES_URL });
    await a.connect();
    await a.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await a.end();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('create NAME --password P makes an admin who can log in and read the audit log', async () => {
    const name = uniqueName('boss');
    const r = await admin(['create', name, '--password', 'the boss passphrase'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`admin ${name} created`));
    assert.doesNotMatch(r.stdout, /the boss passphrase/, 'a given password is not echoed');
    const l = await login(http, name, 'the boss passphrase');
    assert.equal(l.status, 200);
    assert.equal(l.body.user.role, 'admin');
    const log = await http.request('GET', `/api/admin/audit-log?action=user.role_change`, { token: l.body.token });
    assert.equal(log.status, 200);
    assert.ok(log.body.items.some((e: { target: string }) => e.target === l.body.user.id), 'the role change is audited');
  });

  test('create without a password (no terminal) generates one and prints it once', async () => {
    const name = uniqueName('gen');
    const r = await admin(['create', name], env);
    assert.equal(r.code, 0, r.stderr);
    const password = /password: (\S+)/.exec(r.stdout)?.[1];
    assert.ok(password && password.length >= 20, r.stdout);
    assert.equal((await login(http, name, password)).body.user.role, 'admin');
  });

  test('promote NAME makes an existing user an admin at once (same token)', async () => {
    const u = await http.register(uniqueName('up'));
    assert.equal((await http.request('GET', '/api/admin/audit-log', { token: u.token })).status, 403);
    const r = await admin(['promote', u.username], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /is now an admin/);
    const me = await http.request('GET', '/api/auth/me', { token: u.token });
    assert.equal(me.body.user.role, 'admin');
    assert.equal((await http.request('GET', '/api/admin/audit-log', { token: u.token })).status, 200);
    const again = await admin(['promote', u.username.toUpperCase()], env);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /already an admin/);
  });

  test('refusals: a taken name, a weak password, no such user (exit 1); usage and config errors (exit 2)', async () => {
    const u = await http.register(uniqueName('taken'));
    const taken = await admin(['create', u.username, '--password', 'another good passphrase'], env);
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, /exists; use `npm run admin -- promote/);
    assert.equal((await http.request('GET', '/api/auth/me', { token: u.token })).body.user.role, 'user', 'create never promotes');

    const weakName = uniqueName('weak');
    const weak = await admin(['create', weakName, '--password', 'password1'], env);
    assert.equal(weak.code, 1);
    assert.match(weak.stderr, /weak_password/);
    assert.equal((await login(http, weakName, 'password1')).status, 401, 'nothing was created');

    const ghost = await admin(['promote', uniqueName('ghost')], env);
    assert.equal(ghost.code, 1);
    assert.match(ghost.stderr, /no user named/);

    for (const args of [[], ['create'], ['frob', 'x'], ['create', 'bad name!'], ['create', 'a', 'b'], ['promote', 'someone', '--password', 'x'], ['create', 'x_y_z', '--password']]) {
      const r = await admin(args, env);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, /usage:/);
    }
    const badConfig = await admin(['create', uniqueName('cfg')], { ...env, DATABASE_URL: 'not a url' });
    assert.equal(badConfig.code, 2);
    assert.match(badConfig.stderr, /DATABASE_URL/);
  });

  test('an audit entry commits with its change: when the audit insert fails, the change is not made', async () => {
    // A trigger makes the audit insert of chosen actions fail, as a full disk or a lost connection would.
    const db = new pg.Client({ connectionString: env.DATABASE_URL });
    await db.connect();
    await db.query(`CREATE FUNCTION refuse_audit() RETURNS trigger AS $$ BEGIN
      IF NEW.action IN ('auth.logout', 'user.role_change') THEN RAISE EXCEPTION 'audit refused'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`);
    await db.query('CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse_audit()');
    try {
      const u = await http.register(uniqueName('keep'));
      const out = await http.request('POST', '/api/auth/logout', { token: u.token });
      assert.equal(out.status, 500);
      assert.equal((await http.request('GET', '/api/auth/me', { token: u.token })).status, 200, 'the token was not revoked without its audit entry');

      const name = uniqueName('half');
      const created = await admin(['create', name, '--password', 'a half made admin'], env);
      assert.notEqual(created.code, 0);
      assert.equal((await login(http, name, 'a half made admin')).status, 401, 'no admin exists without its role_change entry');

      const promote = await admin(['promote', u.username], env);
      assert.notEqual(promote.code, 0);
      assert.equal((await http.request('GET', '/api/auth/me', { token: u.token })).body.user.role, 'user', 'not promoted without its audit entry');
    } finally {
      await db.query('DROP TRIGGER refuse_audit ON audit_log');
      await db.query('DROP FUNCTION refuse_audit()');
      await db.end();
    }
    const out = await http.request('POST', '/api/auth/logout', { token: (await http.register(uniqueName('after'))).token });
    assert.equal(out.status, 204, 'logout works again once the audit log accepts entries');
  });
});

function startMain(dataDir: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, ['src/main.ts', '--data-dir', dataDir, '--port', '0', '--host', '127.0.0.1', '--roles', 'http'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    // Started instead of refused: stop it, the test then fails on the exit code.
    const timer = setTimeout(() => child.kill('SIGTERM'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe('admin CLI on PGlite while a server runs on the same DATA_DIR', () => {
  let dataDir: string;
  let live: Liveroom | undefined;
  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'liveroom-admin-'));
    live = await startLiveroom(loadConfig({ ...SERVER_ENV, DATA_DIR: dataDir }), { logger: createLogger('silent') });
  });
  after(async () => {
    await live?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('promote is refused at once and changes nothing; after the server stops it works and is audited', async () => {
    const http = httpClient(live!.url);
    const u = await http.register(uniqueName('alice'));
    const r = await admin(['promote', u.username], { DATA_DIR: dataDir });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout, /is now an admin/);
    assert.match(r.stderr, /in use by another Liveroom process \(pid \d+\)/);
    assert.match(r.stderr, /stop that process first/);
    assert.equal((await http.request('GET', '/api/auth/me', { token: u.token })).body.user.role, 'user');

    const second = await startMain(dataDir);
    assert.equal(second.code, 2, 'a second server on the same DATA_DIR is refused');
    assert.match(second.stderr, /in use by another Liveroom process/);

    await live!.close();
    live = undefined;
    const promoted = await admin(['promote', u.username], { DATA_DIR: dataDir });
    assert.equal(promoted.code, 0, promoted.stderr);
    live = await startLiveroom(loadConfig({ ...SERVER_ENV, DATA_DIR: dataDir }), { logger: createLogger('silent') });
    const again = httpClient(live.url);
    const l = await login(again, u.username, 'a long enough passphrase');
    assert.equal(l.body.user.role, 'admin');
    const log = await again.request('GET', '/api/admin/audit-log?action=user.role_change', { token: l.body.token });
    assert.ok(log.body.items.some((e: { target: string }) => e.target === u.id), 'the promotion is in the audit log');
  });
});

describe('the PGlite data directory lock', () => {
  test('a lock left by a dead process, or by a reused pid, is taken over', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'liveroom-admin-'));
    const lockPath = path.join(dataDir, 'pglite.lock');
    try {
      const dead = spawn(NODE, ['-e', '']);
      const deadPid = dead.pid!;
      await new Promise((resolve) => dead.on('close', resolve));
      await writeFile(lockPath, JSON.stringify({ pid: deadPid, host: hostname(), startTicks: null }));
      const first = await admin(['create', uniqueName('first'), '--password', 'first admin passphrase'], { DATA_DIR: dataDir });
      assert.equal(first.code, 0, first.stderr);

      // A live pid that started at another time is not the process that wrote the lock.
      await writeFile(lockPath, JSON.stringify({ pid: process.pid, host: hostname(), startTicks: '1' }));
      const second = await admin(['create', uniqueName('second'), '--password', 'second admin passphrase'], { DATA_DIR: dataDir });
      assert.equal(second.code, 0, second.stderr);
      await assert.rejects(readFile(lockPath), { code: 'ENOENT' }, 'the lock is removed when the command ends');
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('admin CLI on PGlite (the default), before the server starts', () => {
  test('an admin created into DATA_DIR logs in once the server runs on that DATA_DIR', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'liveroom-admin-'));
    try {
      const name = uniqueName('first');
      const r = await admin(['create', name, '--password', 'first admin passphrase'], { DATA_DIR: dataDir });
      assert.equal(r.code, 0, r.stderr);
      const live = await startLiveroom(loadConfig({ ...SERVER_ENV, DATA_DIR: dataDir }), { logger: createLogger('silent') });
      try {
        const l = await login(httpClient(live.url), name, 'first admin passphrase');
        assert.equal(l.status, 200);
        assert.equal(l.body.user.role, 'admin');
      } finally {
        await live.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
