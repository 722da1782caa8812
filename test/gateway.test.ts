// The HTTP gateway as a client sees it: error bodies, request ids, health,
// readiness, metrics, CORS and the OpenAPI document (rate limits:
// limits.test.ts; circuit breakers: resilience.test.ts; load shedding:
// shedding.test.ts).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { startTestApp, uniqueName, type TestApp } from './helpers/app.ts';
import { assertErrorBody } from './helpers/errors.ts';

const HTTP_ONLY = { ROLES: 'http' };
const PASSWORD = 'a long enough passphrase';

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
