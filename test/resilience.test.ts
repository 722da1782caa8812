// Circuit breakers (src/resilience.ts) around Redis and PostgreSQL: a
// dependency that goes away or hangs gets fast 503s (or, for Redis, a
// degraded but answering API), and everything recovers by itself.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { startLiveroom, type Liveroom } from '../src/server.ts';
import { httpClient, startTestApp, uniqueName, type TestApp } from './helpers/app.ts';
import { POSTGRES_URL, REDIS_URL, postgresAvailable } from './helpers/db.ts';
import { hostPort, startTcpProxy } from './helpers/proxy.ts';
import { eventually, timed } from './helpers/wait.ts';
import { assertErrorBody } from './helpers/errors.ts';

const HTTP_ONLY = { ROLES: 'http' };
const redisPrefix = () => `lr:test:${randomBytes(6).toString('hex')}:`;
// before any test registers: `--test-force-exit` would end the run before suites declared after an await
const postgresUp = await postgresAvailable();

describe('Redis outage', () => {
  let app: TestApp;
  let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
  before(async () => {
    proxy = await startTcpProxy(hostPort(REDIS_URL, 6379));
    app = await startTestApp('pglite', {
      ...HTTP_ONLY,
      REDIS_URL: proxy.url('redis'),
      REDIS_PREFIX: redisPrefix(),
      BREAKER_FAILURES: '2',
      BREAKER_TIMEOUT_MS: '1000',
      BREAKER_HALF_OPEN_AFTER_MS: '3000',
    });
  });
  after(async () => {
    await app.close();
    await proxy.close();
  });

  test('/readyz turns 503 fast when Redis goes away, the API keeps answering, and both recover', async () => {
    const ready = await app.http.request('GET', '/readyz');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body.checks, { database: 'up', redis: 'up' });
    const user = await app.http.register(uniqueName('ro'));

    proxy.down();
    for (let i = 0; i < 5; i++) {
      const { ms, value: r } = await timed(() => app.http.request('GET', '/readyz'));
      assert.equal(r.status, 503);
      assert.deepEqual(r.body, { status: 'unavailable', checks: { database: 'up', redis: 'down' } });
      assert.ok(ms < 1500, `readyz answered in ${ms.toFixed(0)} ms`);
      assert.ok(r.headers.get('retry-after') === null || Number(r.headers.get('retry-after')) >= 1);
    }
    // rate limits fall back to memory: requests are answered, not failed or held
    for (let i = 0; i < 5; i++) {
      const { ms, value: r } = await timed(() => app.http.request('GET', '/api/auth/me', { token: user.token }));
      assert.equal(r.status, 200);
      assert.ok(ms < 1500, `API answered in ${ms.toFixed(0)} ms`);
    }

    proxy.up();
    await eventually(async () => (await app.http.request('GET', '/readyz')).status === 200, 'readiness after Redis is back', 15_000);
  });

  test('a Redis that hangs: the breaker opens, then /readyz and the API answer at once', async () => {
    await eventually(async () => (await app.http.request('GET', '/readyz')).status === 200, 'Redis up');
    const user = await app.http.register(uniqueName('rh'));
    proxy.hang();
    const readyTimes: number[] = [];
    const apiTimes: number[] = [];
    for (let i = 0; i < 6; i++) {
      const ready = await timed(() => app.http.request('GET', '/readyz'));
      assert.equal(ready.value.status, 503);
      readyTimes.push(ready.ms);
      const api = await timed(() => app.http.request('GET', '/api/auth/me', { token: user.token }));
      assert.equal(api.value.status, 200, JSON.stringify(api.value.body));
      apiTimes.push(api.ms);
    }
    const show = (t: number[]) => t.map((ms) => ms.toFixed(0)).join(', ');
    // the first calls wait for the breaker's timeout (BREAKER_TIMEOUT_MS 1000); once it is open nobody waits
    assert.ok(readyTimes.every((ms) => ms < 2500), `readyz ${show(readyTimes)} ms`);
    assert.ok(readyTimes.slice(-3).every((ms) => ms < 300), `readyz ${show(readyTimes)} ms`);
    assert.ok(apiTimes.every((ms) => ms < 2500), `api ${show(apiTimes)} ms`);
    assert.ok(apiTimes.slice(-3).every((ms) => ms < 300), `api ${show(apiTimes)} ms`);
    proxy.up();
    await eventually(async () => (await app.http.request('GET', '/readyz')).status === 200, 'readiness after Redis is back', 15_000);
  });
});

describe('PostgreSQL outage (circuit breaker)', { skip: !postgresUp && 'no PostgreSQL server' }, () => {
  let live: Liveroom;
  let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
  const dbName = `lr_t_${randomBytes(6).toString('hex')}`;
  const dataDir = path.join(tmpdir(), `liveroom-test-${dbName}`);
  before(async () => {
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    proxy = await startTcpProxy(hostPort(POSTGRES_URL, 5432));
    const url = new URL(POSTGRES_URL);
    url.host = `127.0.0.1:${proxy.port}`;
    url.pathname = `/${dbName}`;
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      DATABASE_URL: url.toString(),
      ...HTTP_ONLY,
      BREAKER_FAILURES: '3',
      BREAKER_TIMEOUT_MS: '1500',
      DATABASE_QUERY_TIMEOUT_MS: '2000',
      BREAKER_HALF_OPEN_AFTER_MS: '500',
    });
    live = await startLiveroom(config, { logger: createLogger(process.env.TEST_LOG_LEVEL ?? 'silent') });
  });
  after(async () => {
    await live?.close();
    await proxy?.close();
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('requests that need the database get fast 503s while it is down, then work again', async () => {
    const http = httpClient(live.url);
    const user = await http.register(uniqueName('pg'));
    proxy.down();
    const times: number[] = [];
    for (let i = 0; i < 8; i++) {
      const { ms, value: r } = await timed(() => http.request('GET', `/api/users/${user.id}`));
      assert.equal(r.status, 503, JSON.stringify(r.body));
      assertErrorBody(r.body, 'unavailable');
      assert.ok(Number(r.headers.get('retry-after')) >= 1);
      times.push(ms);
    }
    assert.ok(times.every((ms) => ms < 5000), `never held long: ${times.map((t) => t.toFixed(0)).join(', ')} ms`);
    const readyz = await http.request('GET', '/readyz');
    assert.equal(readyz.status, 503);
    assert.equal(readyz.body.checks.database, 'down');
    assert.equal((await http.request('GET', '/healthz')).status, 200, 'alive while not ready');

    proxy.up();
    await eventually(async () => (await http.request('GET', `/api/users/${user.id}`)).status === 200, 'the database back', 20_000);
    assert.equal((await http.request('GET', '/readyz')).status, 200);
  });

  test('a database that hangs: the first requests wait for the breaker timeout, then 503s come at once', async () => {
    const http = httpClient(live.url);
    await eventually(async () => (await http.request('GET', '/readyz')).status === 200, 'the database up');
    const user = await http.register(uniqueName('ph'));
    proxy.hang();
    const times: number[] = [];
    for (let i = 0; i < 8; i++) {
      const { ms, value: r } = await timed(() => http.request('GET', `/api/users/${user.id}`));
      assert.equal(r.status, 503, JSON.stringify(r.body));
      assertErrorBody(r.body, 'unavailable');
      times.push(ms);
    }
    const show = times.map((t) => t.toFixed(0)).join(', ');
    assert.ok(times.every((ms) => ms < 4000), `held at most about DATABASE_QUERY_TIMEOUT_MS or BREAKER_TIMEOUT_MS: ${show} ms`);
    assert.ok(times.slice(-3).every((ms) => ms < 300), `open breaker answers at once: ${show} ms`);
    proxy.up();
    await eventually(async () => (await http.request('GET', `/api/users/${user.id}`)).status === 200, 'the database back', 30_000);
  });
});
