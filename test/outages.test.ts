// Dependency outages under load: the test runs its own PostgreSQL and Redis
// (test/helpers/scratch-services.ts) and stops each for 10 s while gifts and
// chat flow through a server in its own process. Requests that need the
// stopped dependency fail fast (503, never a hang), rooms stay connected,
// chat keeps working where it does not need the stopped one, everything
// recovers by itself within 5 s of the restart, and the lottery whose draw
// fell in the outage is drawn exactly once.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LiveroomClient, type LiveRoomConnection } from '../src/client/index.ts';
import type { HttpClient } from './helpers/app.ts';
import { until } from './helpers/live.ts';
import { eventually } from './helpers/wait.ts';
import { adminToken } from './helpers/wallet.ts';
import { startScratchPostgres, startScratchRedis, type ScratchService } from './helpers/scratch-services.ts';
import { startServerProcess, type ServerProcess } from './helpers/server-process.ts';
import { createRoomVia } from './helpers/wallet.ts';

const ADMIN = { username: 'outage_admin', password: 'a long admin passphrase' };
const OUTAGE_MS = 10_000;
const FAST_MS = 5_000; // a request meeting a stopped dependency is answered within this (breaker and query timeouts are below it)
const RECOVER_MS = 5_000;

describe('dependency outages under load', () => {
  let pgServer: ScratchService;
  let redis: ScratchService;
  let dataDir: string;
  let server: ServerProcess;
  let http: HttpClient;
  let room: string;
  let streamerToken: string;
  let viewers: { token: string; conn: LiveRoomConnection }[];
  let admin: string;

  before(async () => {
    [pgServer, redis] = await Promise.all([startScratchPostgres(), startScratchRedis()]);
    dataDir = await mkdtemp(path.join(tmpdir(), 'liveroom-outage-'));
    server = await startServerProcess({
      PATH: process.env.PATH,
      DATABASE_URL: pgServer.url,
      REDIS_URL: redis.url,
      DATA_DIR: dataDir,
      ROLES: 'http,rooms,jobs',
      LOG_LEVEL: 'fatal',
      JWT_SECRET: 'outage-test-secret-outage-test-secret-01',
      ADMIN_USERNAME: ADMIN.username,
      ADMIN_PASSWORD: ADMIN.password,
      SIGNUP_BONUS: '100000',
      BREAKER_TIMEOUT_MS: '1000',
      BREAKER_FAILURES: '2',
      BREAKER_HALF_OPEN_AFTER_MS: '1000',
      DATABASE_QUERY_TIMEOUT_MS: '2000',
      LOTTERY_SWEEP_SEC: '2',
      RATE_LIMIT_IP_PER_MIN: '1000000',
      RATE_LIMIT_USER_PER_MIN: '1000000',
      CHAT_RATE_POINTS: '1000',
    });
    http = server.http;
    admin = await adminToken({ http } as never, ADMIN);
    const streamer = await http.register('outage_streamer');
    streamerToken = streamer.token;
    room = await createRoomVia(http, streamer);
    viewers = [];
    for (const name of ['outage_alice', 'outage_bob']) {
      const u = await http.register(name);
      viewers.push({ token: u.token, conn: await new LiveroomClient({ baseUrl: server.url, token: u.token }).joinRoom(room) });
    }
  });
  after(async () => {
    for (const v of viewers ?? []) await v.conn.leave().catch(() => {});
    await server?.stop();
    await Promise.all([pgServer?.close(), redis?.close()]);
    await rm(dataDir, { recursive: true, force: true });
  });

  const chatReaches = async (text: string, ms = 10_000) => {
    viewers[0]!.conn.chat(text);
    await until(viewers[1]!.conn, () => viewers[1]!.conn.state.chat.some((l) => l.text === text), `"${text}" reaching the other viewer`, ms);
  };

  /** Gifts from every viewer, back to back, until `stop()`; each request's outcome and duration. */
  function giftTraffic() {
    const log: { at: number; ms: number; status: number }[] = [];
    let running = true;
    const loops = viewers.map(async (v, i) => {
      for (let n = 0; running; n++) {
        const t0 = Date.now();
        const r = await http.request('POST', `/api/rooms/${room}/gifts`, { token: v.token, json: { giftId: 'rose', count: 1 }, headers: { 'Idempotency-Key': `outage-${i}-${t0}-${n}` } });
        log.push({ at: t0, ms: Date.now() - t0, status: r.status });
        if (r.status !== 201) await new Promise((res) => setTimeout(res, 50)); // a client backs off a little on 503
      }
    });
    return {
      log,
      stop: async () => {
        running = false;
        await Promise.all(loops);
      },
    };
  }

  test('PostgreSQL stopped for 10 s: fast 503s, rooms stay connected, recovery within 5 s of the restart', async () => {
    await chatReaches('before the database outage');
    const traffic = giftTraffic();
    await eventually(() => traffic.log.some((e) => e.status === 201), 'gifts flowing');
    await pgServer.stop();
    const stoppedAt = Date.now();
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    await pgServer.start();
    const restartedAt = Date.now();
    await eventually(() => traffic.log.some((e) => e.at >= restartedAt && e.status === 201), 'a gift after the restart', 30_000);
    await traffic.stop();

    const during = traffic.log.filter((e) => e.at >= stoppedAt + 1000 && e.at + e.ms < restartedAt);
    assert.ok(during.length > 0, 'requests were made during the outage');
    assert.deepEqual([...new Set(during.map((e) => e.status))], [503], 'while the database is down, gifts get 503');
    const slowest = Math.max(...traffic.log.map((e) => e.ms));
    assert.ok(slowest < FAST_MS, `a request took ${slowest} ms: a stopped database must fail fast, never hang`);
    assert.deepEqual([...new Set(traffic.log.map((e) => e.status))].sort(), [201, 503]);
    const recovered = traffic.log.find((e) => e.at >= restartedAt && e.status === 201)!;
    const recoveryMs = recovered.at + recovered.ms - restartedAt;
    process.stdout.write(`# postgres outage: ${during.length} requests during it, slowest ${slowest} ms, first gift ${recoveryMs} ms after the restart\n`);
    assert.ok(recoveryMs <= RECOVER_MS, `recovered ${recoveryMs} ms after the restart`);
    for (const v of viewers) assert.ok(v.conn.room.connection.isOpen, 'viewers stayed connected');
    await chatReaches('after the database outage');
    // Every acknowledged gift was paid once: balances match the 201s.
    const paid = traffic.log.filter((e) => e.status === 201).length;
    const spent = await Promise.all(viewers.map(async (v) => 100000 - (await http.request('GET', '/api/wallet', { token: v.token })).body.balance));
    assert.equal(spent.reduce((a, b) => a + b, 0), paid * 10);
    assert.equal((await http.request('GET', '/api/admin/ledger/check', { token: admin })).body.ok, true);
  });

  test('Redis stopped for 10 s: REST, gifts and chat go on, /readyz says so, and the lottery due meanwhile is drawn once', async () => {
    const lottery = await http.request('POST', `/api/rooms/${room}/lotteries`, { token: streamerToken, json: { prize: 'outage mug', winners: 1, method: 'click', durationSec: 5 } });
    assert.equal(lottery.status, 201, JSON.stringify(lottery.body));
    const lotteryId = lottery.body.lottery.id as string;
    assert.equal((await http.request('POST', `/api/lotteries/${lotteryId}/entries`, { token: viewers[0]!.token })).status, 201);
    const traffic = giftTraffic();
    await eventually(() => traffic.log.some((e) => e.status === 201), 'gifts flowing');
    await redis.stop();
    const stoppedAt = Date.now();
    await eventually(async () => (await http.request('GET', '/readyz')).status === 503, '/readyz to report Redis down', FAST_MS);
    assert.equal((await http.request('GET', '/healthz')).status, 200);
    await chatReaches('during the Redis outage');
    const rest = await http.request('GET', `/api/rooms/${room}`);
    assert.equal(rest.status, 200);
    await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - stoppedAt))));
    await redis.start();
    const restartedAt = Date.now();
    await eventually(async () => (await http.request('GET', '/readyz')).status === 200, '/readyz back', RECOVER_MS);
    const readyMs = Date.now() - restartedAt;
    await traffic.stop();
    const slowest = Math.max(...traffic.log.map((e) => e.ms));
    const statuses = [...new Set(traffic.log.map((e) => e.status))];
    process.stdout.write(`# redis outage: ${traffic.log.length} gifts (statuses ${statuses.join(',')}), slowest ${slowest} ms, ready ${readyMs} ms after the restart\n`);
    assert.deepEqual(statuses, [201], 'gifts need only the database');
    assert.ok(slowest < FAST_MS, `a gift took ${slowest} ms`);
    for (const v of viewers) assert.ok(v.conn.room.connection.isOpen, 'viewers stayed connected');
    await chatReaches('after the Redis outage');

    await eventually(async () => (await http.request('GET', `/api/lotteries/${lotteryId}`)).body.lottery.status === 'drawn', 'the lottery to be drawn', 30_000);
    const draws = await http.request('GET', '/api/admin/audit-log?action=lottery.draw&limit=100', { token: admin });
    assert.equal(draws.body.items.filter((e: { target: string }) => e.target === lotteryId).length, 1, 'drawn exactly once');
  });
});
