// Rate limits (src/http/limits.ts) as a client sees them, on the memory and the
// Redis store: per address and per user on /api, registrations, and the login
// brute-force counters.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { startTestApp, uniqueName, type TestApp } from './helpers/app.ts';
import { REDIS_URL } from './helpers/db.ts';
import { eventually } from './helpers/wait.ts';
import { assertErrorBody } from './helpers/errors.ts';

const HTTP_ONLY = { ROLES: 'http' };
const redisPrefix = () => `lr:test:${randomBytes(6).toString('hex')}:`;
const PASSWORD = 'a long enough passphrase';

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
