// The HTTP gateway as a client sees it: error bodies, request ids, health,
// readiness, metrics, CORS, OpenAPI, rate limits (memory and Redis), login
// brute-force protection, and circuit breakers (load shedding: shedding.test.ts).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Redis } from 'ioredis';
import pg from 'pg';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { startLiveroom, type Liveroom } from '../src/server.ts';
import { httpClient, startTestApp, uniqueName, type TestApp } from './helpers/app.ts';
import { POSTGRES_URL, REDIS_URL, postgresAvailable } from './helpers/db.ts';
import { hostPort, startTcpProxy } from './helpers/proxy.ts';
import { eventually, timed } from './helpers/wait.ts';

const HTTP_ONLY = { ROLES: 'http' };
const redisPrefix = () => `lr:test:${randomBytes(6).toString('hex')}:`;
const PASSWORD = 'a long enough passphrase';
// before any test registers: `--test-force-exit` would end the run before suites declared after an await
const postgresUp = await postgresAvailable();

function assertErrorBody(body: any, code: string) {
  assert.deepEqual(Object.keys(body), ['error'], JSON.stringify(body));
  assert.equal(body.error.code, code, JSON.stringify(body));
  assert.equal(typeof body.error.message, 'string');
  assert.ok(!/\bat .+\(.+:\d+:\d+\)/.test(JSON.stringify(body)), 'no stack trace in a reply');
}

describe('gateway basics', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp('pglite', HTTP_ONLY);
  });
  after(() => app.close());

  test('unknown routes are 404 JSON errors, inside and outside /api', async () => {
    for (const [method, path] of [['GET', '/api/nope'], ['POST', '/api/users'], ['GET', '/nope'], ['DELETE', '/api/auth/me']] as const) {
      const r = await app.http.request(method, path);
      assert.equal(r.status, 404, `${method} ${path}`);
      assert.match(r.headers.get('content-type') ?? '', /application\/json/);
      assertErrorBody(r.body, 'not_found');
    }
  });

  test('bad params, queries and bodies are 400 validation_failed with the field named', async () => {
    const { id } = await app.http.register(uniqueName('v'));
    const cases: [string, string][] = [
      ['GET', '/api/users/not-an-id'],
      ['GET', "/api/users/1' OR '1'='1"],
      ['GET', `/api/users/${id}/followers?limit=0`],
      ['GET', `/api/users/${id}/followers?limit=abc`],
      ['GET', `/api/users/${id}/followers?limit=100000`],
      ['GET', `/api/users/${id}/followers?unknown=1`],
      ['GET', `/api/users/${id}/followers?cursor=not-a-cursor`],
    ];
    for (const [method, path] of cases) {
      const r = await app.http.request(method, path);
      assert.equal(r.status, 400, path);
      assertErrorBody(r.body, 'validation_failed');
    }
    const r = await app.http.request('GET', `/api/users/${id}/followers?limit=0`);
    assert.match(r.body.error.message, /limit/);
    assert.ok(Array.isArray(r.body.error.details.issues));
  });

  test('malformed JSON is 400, an oversized body 413, a non-JSON body is not parsed: never a 500', async () => {
    const malformed = ['{', '{"username": }', 'null', '"just a string"', '{"a":1}}', '\u0000'];
    for (const body of malformed) {
      const r = await app.http.request('POST', '/api/auth/login', { json: body });
      assert.ok(r.status === 400, `${JSON.stringify(body)} -> ${r.status}`);
      assert.ok(['malformed_json', 'validation_failed'].includes(r.body.error.code), JSON.stringify(r.body));
    }
    assert.equal((await app.http.request('POST', '/api/auth/login', { json: '{' })).body.error.code, 'malformed_json');

    const big = await app.http.request('POST', '/api/auth/login', { json: { username: 'x', password: 'y'.repeat(100 * 1024) } });
    assert.equal(big.status, 413);
    assertErrorBody(big.body, 'payload_too_large');

    const text = await app.http.request('POST', '/api/auth/login', { body: 'username=x&password=y', headers: { 'content-type': 'text/plain' } });
    assert.equal(text.status, 400);
    assertErrorBody(text.body, 'validation_failed');

    const badCharset = await app.http.request('POST', '/api/auth/login', { body: '{}', headers: { 'content-type': 'application/json; charset=klingon' } });
    assert.equal(badCharset.status, 415);
    assertErrorBody(badCharset.body, 'unsupported_media_type');
  });

  test('NUL bytes, lone surrogates, bad URL encoding, undecodable bodies and out-of-range cursors are 400, never a 500, and write nothing', async () => {
    const user = await app.http.register(uniqueName('odd'));
    const adminName = uniqueName('admin');
    await app.services.users.ensureAdmin(adminName, PASSWORD, { actorId: null, ip: null });
    const admin = (await app.http.request('POST', '/api/auth/login', { json: { username: adminName, password: PASSWORD } })).body.token as string;
    const auditCount = async () => (await app.services.audit.list({ limit: 100 })).items.length;
    const before = await auditCount();
    const cursor = (key: unknown[]) => Buffer.from(JSON.stringify(key)).toString('base64url');
    const someId = '00000000-0000-4000-8000-000000000000';
    const cases: [string, string, { json?: unknown; token?: string; headers?: Record<string, string>; body?: string }][] = [
      ['POST', '/api/auth/login', { json: { username: 'nul\u0000name', password: PASSWORD } }],
      ['POST', '/api/auth/login', { json: { username: 'lone\ud800surrogate', password: PASSWORD } }],
      ['POST', '/api/auth/login', { json: { username: user.username.replace('_', 'İ_'), password: PASSWORD } }],
      ['PATCH', '/api/users/me', { json: { nickname: 'lone\udc00' }, token: user.token }],
      ['GET', '/api/admin/audit-log?actor=%00', { token: admin }],
      ['GET', '/api/admin/audit-log?action=user.%00', { token: admin }],
      ['GET', `/api/users/${user.id}/followers?cursor=${cursor(['+099999-01-01T00:00:00.000Z', someId])}`, {}],
      ['GET', `/api/users/${user.id}/followers?cursor=${cursor(['-271821-04-20', someId])}`, {}],
      ['GET', `/api/users/${user.id}/following?cursor=${cursor(['2020-02-31T00:00:00.000Z', someId])}`, {}],
      ['GET', '/api/users/%E0%A4%A', {}],
      ['GET', '/files/%E0%A4%A', {}],
      ['POST', '/api/auth/login', { headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: 'not gzip at all' }],
    ];
    for (const [method, path, opts] of cases) {
      const r = await app.http.request(method, path, opts);
      assert.equal(r.status, 400, `${method} ${path} ${JSON.stringify(opts.json ?? opts.body ?? '')} -> ${r.status} ${JSON.stringify(r.body)}`);
      assertErrorBody(r.body, 'validation_failed');
    }
    assert.equal(await auditCount(), before, 'nothing was written');
    assert.equal((await app.http.request('GET', `/api/users/${user.id}`)).body.nickname, user.username);
  });

  test('X-Request-Id is echoed when sane and generated otherwise', async () => {
    const given = await app.http.request('GET', '/healthz', { headers: { 'x-request-id': 'trace-abc.123' } });
    assert.equal(given.headers.get('x-request-id'), 'trace-abc.123');
    const generated = await app.http.request('GET', '/api/nope');
    assert.match(generated.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    const another = await app.http.request('GET', '/api/nope');
    assert.notEqual(another.headers.get('x-request-id'), generated.headers.get('x-request-id'));
    for (const bad of ['has spaces in it', 'x'.repeat(200), 'semi;colon']) {
      const r = await app.http.request('GET', '/healthz', { headers: { 'x-request-id': bad } });
      assert.match(r.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/, bad);
    }
  });

  test('/healthz and /readyz answer; security headers are set', async () => {
    const h = await app.http.request('GET', '/healthz');
    assert.equal(h.status, 200);
    assert.deepEqual(h.body, { status: 'ok' });
    const r = await app.http.request('GET', '/readyz');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { status: 'ready', checks: { database: 'up' } });
    assert.equal(h.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(h.headers.get('x-powered-by'), null);
  });

  test('/metrics has request counts and latencies by route, and process metrics', async () => {
    const { id } = await app.http.register(uniqueName('m'));
    for (let i = 0; i < 3; i++) assert.equal((await app.http.request('GET', `/api/users/${id}`)).status, 200);
    await app.http.request('GET', '/api/users/not-an-id');
    const m = await app.http.request('GET', '/metrics');
    assert.equal(m.status, 200);
    assert.match(m.headers.get('content-type') ?? '', /text\/plain/);
    const text = m.body as string;
    const count = (labels: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`liveroom_http_requests_total{${labels}}`));
      return line ? Number(line.split(' ').pop()) : 0;
    };
    assert.ok(count('method="GET",route="/api/users/:id",status="200"') >= 3, 'count by route pattern, not raw URL');
    assert.ok(count('method="GET",route="/api/users/:id",status="400"') >= 1);
    assert.ok(count('method="POST",route="/api/auth/login",status="200"') >= 1);
    assert.ok(!text.includes(id), 'raw ids never become labels');
    assert.match(text, /liveroom_http_request_duration_seconds_bucket\{le="0\.1",method="GET",route="\/api\/users\/:id"\} \d+/);
    assert.match(text, /liveroom_http_request_duration_seconds_count\{method="GET",route="\/api\/users\/:id"\} \d+/);
    for (const name of ['liveroom_process_cpu_user_seconds_total', 'liveroom_process_resident_memory_bytes', 'liveroom_nodejs_eventloop_lag_seconds', 'liveroom_nodejs_heap_size_used_bytes'])
      assert.match(text, new RegExp(`^${name} `, 'm'), name);
  });

  test('CORS is open by default', async () => {
    const r = await app.http.request('OPTIONS', '/api/auth/me', {
      headers: { origin: 'https://anywhere.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
    });
    assert.equal(r.status, 204);
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
  });

  test('the OpenAPI document is valid OpenAPI 3.1 and lists every route of the API router', async () => {
    const r = await app.http.request('GET', '/api/openapi.json');
    assert.equal(r.status, 200);
    const doc = r.body;
    assert.equal(doc.openapi, '3.1.0');
    const validator = new Validator();
    const result = await validator.validate(doc);
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2)?.slice(0, 2000));
    assert.equal(validator.version, '3.1');

    // Walk the Express router itself (not the list route() keeps) for every method + path it serves.
    const served = new Set<string>();
    const walk = (stack: any[], prefix: string) => {
      for (const layer of stack) {
        if (layer.route) {
          for (const method of Object.keys(layer.route.methods)) served.add(`${method} ${prefix}${layer.route.path}`);
        } else if (layer.handle?.stack) {
          walk(layer.handle.stack, prefix); // mounted without a path (openApiRouter, rate limits)
        }
      }
    };
    walk(routerOf(app).stack, '/api');
    const docs = new Set(['get /api/openapi.json', 'get /api/docs', 'get /api/docs/init.js']);
    const documented = new Set<string>();
    for (const [path, item] of Object.entries<any>(doc.paths))
      for (const method of Object.keys(item)) documented.add(`${method} ${path.replace(/\{(\w+)\}/g, ':$1')}`);
    const undocumented = [...served].filter((s) => !documented.has(s) && !docs.has(s));
    const phantom = [...documented].filter((d) => !served.has(d));
    assert.ok(served.size > 20, `walked ${served.size} routes`);
    assert.deepEqual(undocumented, [], 'served but not in the document');
    assert.deepEqual(phantom, [], 'in the document but not served');
    for (const [path, item] of Object.entries<any>(doc.paths))
      for (const [method, op] of Object.entries<any>(item)) {
        assert.ok(op.summary, `${method} ${path} has a summary`);
        assert.ok(Object.keys(op.responses).some((s) => s.startsWith('2')), `${method} ${path} documents its success`);
      }
  });

  test('/api/docs serves a browsable page with its assets from the package', async () => {
    const page = await app.http.request('GET', '/api/docs');
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(page.body, /swagger-ui/);
    for (const asset of ['/api/docs/assets/swagger-ui-bundle.js', '/api/docs/assets/swagger-ui.css', '/api/docs/init.js']) {
      const a = await app.http.request('GET', asset);
      assert.equal(a.status, 200, asset);
    }
  });
});

/** The Express router mounted at /api, found in the live app. */
function routerOf(app: TestApp): { stack: any[] } {
  const appRouter = (app.server.listeners('request')[0] as any).router;
  const layer = appRouter.stack.find((l: any) => l.matchers?.[0]?.('/api/x') && l.handle?.stack?.some((s: any) => s.route?.path === '/auth/login'));
  assert.ok(layer, 'the /api router is mounted');
  return layer.handle;
}

describe('CORS origins from the setting', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp('pglite', { ...HTTP_ONLY, CORS_ORIGINS: 'https://a.example, https://b.example' });
  });
  after(() => app.close());

  test('listed origins are allowed, others get no CORS headers', async () => {
    const preflight = (origin: string) =>
      app.http.request('OPTIONS', '/api/auth/me', { headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } });
    const ok = await preflight('https://b.example');
    assert.equal(ok.headers.get('access-control-allow-origin'), 'https://b.example');
    assert.match(ok.headers.get('access-control-allow-headers') ?? '', /authorization/i);
    const no = await preflight('https://evil.example');
    assert.equal(no.headers.get('access-control-allow-origin'), null);
    const simple = await app.http.request('GET', '/healthz', { headers: { origin: 'https://a.example' } });
    assert.equal(simple.headers.get('access-control-allow-origin'), 'https://a.example');
    assert.match(simple.headers.get('access-control-expose-headers') ?? '', /Retry-After/);
  });
});

for (const store of ['memory', 'redis'] as const) {
  describe(`rate limits (${store} store)`, () => {
    const apps: TestApp[] = [];
    const prefix = redisPrefix();
    const env = (extra: Record<string, string>) => ({ ...HTTP_ONLY, ...(store === 'redis' ? { REDIS_URL, REDIS_PREFIX: prefix } : {}), ...extra });
    after(async () => {
      await Promise.all(apps.map((a) => a.close()));
      if (store === 'redis') {
        const redis = new Redis(REDIS_URL);
        const keys = await redis.keys(`${prefix}*`);
        if (keys.length) await redis.del(...keys);
        redis.disconnect();
      }
    });

    test('per IP: past the limit /api answers 429 with Retry-After; health endpoints are never limited', async () => {
      const app = await startTestApp('pglite', env({ RATE_LIMIT_IP_PER_MIN: '5' }));
      apps.push(app);
      const ip = { 'x-forwarded-for': '203.0.113.7' };
      for (let i = 0; i < 5; i++) assert.equal((await app.http.request('GET', '/api/gifts', { headers: ip })).status, 200, `request ${i + 1}`);
      const limited = await app.http.request('GET', '/api/gifts', { headers: ip });
      assert.equal(limited.status, 429);
      assertErrorBody(limited.body, 'rate_limited');
      const retryAfter = Number(limited.headers.get('retry-after'));
      assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
      // another address is not affected, and neither are the probes
      assert.equal((await app.http.request('GET', '/api/gifts', { headers: { 'x-forwarded-for': '203.0.113.8' } })).status, 200);
      for (let i = 0; i < 10; i++) assert.equal((await app.http.request('GET', '/healthz', { headers: ip })).status, 200);
      const metrics = await app.http.request('GET', '/metrics');
      assert.match(metrics.body, /^liveroom_http_rate_limited_total [1-9]/m);
      if (store === 'redis') {
        const redis = new Redis(REDIS_URL);
        assert.ok((await redis.keys(`${prefix}rl:ip*203.0.113.7`)).length === 1, 'the count lives in Redis under REDIS_PREFIX');
        redis.disconnect();
      }
    });

    test('per IP: an IPv6 client cannot get a fresh budget by changing addresses within its /64', async () => {
      const app = await startTestApp('pglite', env({ RATE_LIMIT_IP_PER_MIN: '5' }));
      apps.push(app);
      const from = (ip: string) => app.http.request('GET', '/api/gifts', { headers: { 'x-forwarded-for': ip } });
      for (let i = 1; i <= 5; i++) assert.equal((await from(`2001:db8:7:1::${i.toString(16)}`)).status, 200, `request ${i}`);
      const limited = await from('2001:db8:7:1:ffff:ffff:ffff:ffff');
      assert.equal(limited.status, 429);
      assertErrorBody(limited.body, 'rate_limited');
      // another /64 is another client
      assert.equal((await from('2001:db8:7:2::1')).status, 200);
    });

    test('TRUST_PROXY as a hop count (or true) takes the client address from X-Forwarded-For', async () => {
      for (const [n, trust] of ['1', 'true'].entries()) {
        const app = await startTestApp('pglite', env({ RATE_LIMIT_IP_PER_MIN: '2', TRUST_PROXY: trust }));
        apps.push(app);
        const from = (ip: string) => app.http.request('GET', '/api/gifts', { headers: { 'x-forwarded-for': ip } });
        const [one, other] = [`203.0.113.${20 + 2 * n}`, `203.0.113.${21 + 2 * n}`];
        for (let i = 0; i < 2; i++) assert.equal((await from(one)).status, 200, `${trust}: request ${i + 1}`);
        assert.equal((await from(one)).status, 429, trust);
        // another client behind the same proxy has its own budget
        assert.equal((await from(other)).status, 200, trust);
      }
    });

    test('per user: each account has its own budget', async () => {
      const app = await startTestApp('pglite', env({ RATE_LIMIT_USER_PER_MIN: '3' }));
      apps.push(app);
      const a = await app.http.register(uniqueName('rl'));
      const b = await app.http.register(uniqueName('rl'));
      for (let i = 0; i < 3; i++) assert.equal((await app.http.request('GET', '/api/auth/me', { token: a.token })).status, 200);
      const limited = await app.http.request('GET', '/api/auth/me', { token: a.token });
      assert.equal(limited.status, 429);
      assert.ok(Number(limited.headers.get('retry-after')) >= 1);
      assert.equal((await app.http.request('GET', '/api/auth/me', { token: b.token })).status, 200);
    });

    if (store === 'redis') {
      test('two processes sharing Redis share the counts', async () => {
        const sharedPrefix = redisPrefix();
        const one = await startTestApp('pglite', env({ RATE_LIMIT_IP_PER_MIN: '6', REDIS_PREFIX: sharedPrefix }));
        const two = await startTestApp('pglite', env({ RATE_LIMIT_IP_PER_MIN: '6', REDIS_PREFIX: sharedPrefix }));
        apps.push(one, two);
        const ip = { 'x-forwarded-for': '198.51.100.1' };
        for (let i = 0; i < 3; i++) {
          assert.equal((await one.http.request('GET', '/api/gifts', { headers: ip })).status, 200);
          assert.equal((await two.http.request('GET', '/api/gifts', { headers: ip })).status, 200);
        }
        assert.equal((await one.http.request('GET', '/api/gifts', { headers: ip })).status, 429);
        assert.equal((await two.http.request('GET', '/api/gifts', { headers: ip })).status, 429);
        const redis = new Redis(REDIS_URL);
        await redis.del(...(await redis.keys(`${sharedPrefix}*`)));
        redis.disconnect();
      });
    }

    test('login brute force is slowed per username+IP, per IP and per account, and a block expires', async () => {
      const app = await startTestApp('pglite', env({
        LOGIN_FAILS_PER_USER: '3',
        LOGIN_BLOCK_SEC: '1',
        LOGIN_FAILS_PER_IP_PER_HOUR: '6',
        LOGIN_FAILS_PER_ACCOUNT: '5',
        LOGIN_ACCOUNT_WINDOW_SEC: '2',
      }));
      apps.push(app);
      const victim = await app.http.register(uniqueName('victim'), PASSWORD);
      const login = (username: string, password: string, ip: string) =>
        app.http.request('POST', '/api/auth/login', { json: { username, password }, headers: { 'x-forwarded-for': ip } });

      // one attacker address, one account: after 3 failures even the right password is refused from there...
      for (let i = 0; i < 3; i++) assert.equal((await login(victim.username, 'wrong guess 123', '192.0.2.1')).status, 401);
      const blocked = await login(victim.username, PASSWORD, '192.0.2.1');
      assert.equal(blocked.status, 429);
      assertErrorBody(blocked.body, 'rate_limited');
      assert.ok(Number(blocked.headers.get('retry-after')) >= 1);
      // ...but the real user elsewhere logs in, and the block expires
      assert.equal((await login(victim.username, PASSWORD, '192.0.2.200')).status, 200);
      await eventually(async () => (await login(victim.username, PASSWORD, '192.0.2.1')).status === 200, 'the username+IP block to expire', 10_000);

      // one address spraying many accounts: stopped after 6 failures in the hour
      for (let i = 0; i < 6; i++) assert.equal((await login(uniqueName('nobody'), 'wrong guess 123', '192.0.2.2')).status, 401);
      const spray = await login(uniqueName('nobody'), 'wrong guess 123', '192.0.2.2');
      assert.equal(spray.status, 429);
      assert.ok(Number(spray.headers.get('retry-after')) > 60, 'blocked for the rest of the hour');

      // many addresses against one account: 5 failures per window, then the account is slowed from everywhere
      const target = await app.http.register(uniqueName('target'), PASSWORD);
      for (let i = 0; i < 5; i++) assert.equal((await login(target.username, 'wrong guess 123', `10.0.${i}.1`)).status, 401);
      const distributed = await login(target.username, 'wrong guess 123', '10.0.99.1');
      assert.equal(distributed.status, 429);
      assert.ok(Number(distributed.headers.get('retry-after')) <= 2);
      // the real user is only slowed: the window passes and they log in
      await eventually(async () => (await login(target.username, PASSWORD, '10.1.1.1')).status === 200, 'the account window to pass', 10_000);

      // a burst of parallel guesses cannot slip past the count
      const burstTarget = await app.http.register(uniqueName('burst'), PASSWORD);
      const replies = await Promise.all(Array.from({ length: 20 }, () => login(burstTarget.username, 'wrong guess 123', '192.0.2.3')));
      const statuses = replies.map((r) => r.status);
      assert.equal(statuses.filter((s) => s === 401).length, 3, statuses.join(','));
      assert.equal(statuses.filter((s) => s === 429).length, 17);
    });

    test('guesses at one account from many addresses cannot keep its owner out from where they logged in before', async () => {
      // An account window of an hour: without the known-address rule the owner would wait all of it, and longer if the guessing went on.
      const app = await startTestApp('pglite', env({ LOGIN_FAILS_PER_USER: '3', LOGIN_FAILS_PER_ACCOUNT: '4', LOGIN_ACCOUNT_WINDOW_SEC: '3600' }));
      apps.push(app);
      const owner = await app.http.register(uniqueName('owner'), PASSWORD);
      const login = (password: string, ip: string) =>
        app.http.request('POST', '/api/auth/login', { json: { username: owner.username, password }, headers: { 'x-forwarded-for': ip } });
      assert.equal((await login(PASSWORD, '198.51.100.10')).status, 200, 'the owner logs in from home');
      for (let i = 0; i < 4; i++) assert.equal((await login('wrong guess 123', `10.2.${i}.1`)).status, 401);
      // the account is slowed for guessers everywhere, even with the right password from a new address...
      assert.equal((await login('wrong guess 123', '10.2.99.1')).status, 429);
      assert.equal((await login(PASSWORD, '10.2.99.2')).status, 429);
      // ...but the owner still gets in from home, and that gives the guessers nothing back
      assert.equal((await login(PASSWORD, '198.51.100.10')).status, 200);
      assert.equal((await login(PASSWORD, '198.51.100.10')).status, 200);
      assert.equal((await login('wrong guess 123', '10.2.99.3')).status, 429);
      // guesses from the known address still meet the per-username+IP limit
      for (let i = 0; i < 3; i++) assert.equal((await login('wrong guess 123', '198.51.100.10')).status, 401);
      assert.equal((await login(PASSWORD, '198.51.100.10')).status, 429);
    });
  });
}

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
