// Load shedding as clients see it: a burst the server can absorb is served in
// full, a load it cannot keep up with gets fast 503s while health checks answer.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Agent, request as undiciRequest } from 'undici';
import { httpClient, startTestApp, uniqueName, type Reply, type TestApp } from './helpers/app.ts';
import { dbKinds } from './helpers/db.ts';
import { startServerProcess, type ServerProcess } from './helpers/server-process.ts';
import { eventually } from './helpers/wait.ts';
import { createRoom } from './helpers/wallet.ts';

for (const kind of await dbKinds()) {
  describe(`a burst on default shedding settings (${kind})`, () => {
    let app: TestApp;
    before(async () => {
      // Default shedding settings: nothing here turns them off.
      app = await startTestApp(kind, { ROLES: 'http', SIGNUP_BONUS: '1000' });
    });
    after(() => app.close());

    test('10 users sending 30 gifts each at once, then reading their wallets: no 5xx', async () => {
      // every reply as it came: a shed request is not retried here
      const http = httpClient(app.url, { retryShedForMs: 0 });
      const streamer = await http.register(uniqueName('burst_streamer'));
      const room = await createRoom(app, streamer);
      const users = await Promise.all(Array.from({ length: 10 }, (_, i) => http.register(uniqueName(`burst${i}`))));
      const gifts = await Promise.all(
        users.flatMap((u) => Array.from({ length: 30 }, () => http.request('POST', `/api/rooms/${room}/gifts`, { token: u.token, json: { giftId: 'rose', count: 1 } }))),
      );
      const wallets = await Promise.all(users.map((u) => http.request('GET', '/api/wallet', { token: u.token })));
      const statuses = (rs: Reply[]) => [...new Set(rs.map((r) => r.status))].sort();
      assert.deepEqual(statuses(gifts), [201], JSON.stringify(gifts.find((r) => r.status !== 201)?.body));
      assert.deepEqual(statuses(wallets), [200]);
      for (const w of wallets) assert.equal(w.body.balance, 1000 - 30 * 10, 'every gift was paid (rose: 10 coins)');
    });
  });
}

describe('a load the server cannot keep up with', () => {
  let dataDir: string;
  let server: ServerProcess;
  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'liveroom-shed-'));
    // Its own process, so that the load generator's work is not the server's.
    server = await startServerProcess({
      PATH: process.env.PATH,
      DATA_DIR: dataDir,
      ROLES: 'http',
      LOG_LEVEL: 'warn',
      RATE_LIMIT_IP_PER_MIN: '100000000',
      RATE_LIMIT_USER_PER_MIN: '100000000',
    });
  });
  after(async () => {
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('sustained overload for 10 s gets 503 overloaded with Retry-After while /healthz answers; it recovers', async () => {
    const http = httpClient(server.url, { retryShedForMs: 0 });
    const user = await http.register(uniqueName('flood'));
    assert.equal((await http.request('POST', '/api/rooms', { token: user.token, json: { title: 'a room to list' } })).status, 201);
    await eventually(async () => (await http.request('GET', '/api/rooms')).status === 200, 'a calm start');

    // The crowd comes over a bounded set of kept-alive, pipelined connections (undici's
    // client costs the generator far less than fetch), so the server's queue is of
    // requests, not of connections waiting in the kernel's accept queue.
    const crowd = new Agent({ connections: 200, pipelining: 10 });
    const headers = { authorization: `Bearer ${user.token}` };
    const list = async () => {
      const r = await undiciRequest(`${server.url}/api/rooms?limit=50`, { dispatcher: crowd, headers });
      return { status: r.statusCode, retryAfter: r.headers['retry-after'], body: (await r.body.json()) as any };
    };
    // Capacity first: what the server serves to a closed loop of 200 clients for 2 s.
    let servedInWarmup = 0;
    const warmupEnd = Date.now() + 2000;
    await Promise.all(Array.from({ length: 200 }, async () => {
      while (Date.now() < warmupEnd) if ((await list()).status === 200) servedInWarmup++;
    }));
    const capacity = servedInWarmup / 2;
    await eventually(async () => (await http.request('GET', '/api/rooms')).status === 200, 'calm again');

    // Then an open loop at three times that for 10 s: requests arrive whether or not
    // the last were answered, as from a crowd, so the queue grows unless some are shed.
    const rate = capacity * 3;
    const maxInFlight = 2000; // the connections times their pipelining
    const start = performance.now();
    const end = Date.now() + 10_000;
    const counts = new Map<number | string, number>();
    let overloaded: { status: number; retryAfter: unknown; body: any } | undefined;
    const latency = { shed: [] as number[], served: [] as number[] };
    const health: number[] = [];
    const pending = new Set<Promise<void>>();
    let sent = 0;
    let capped = 0;
    const count = (k: number | string) => void counts.set(k, (counts.get(k) ?? 0) + 1);
    const send = () => {
      const t0 = performance.now();
      const p = list()
        .then(
          (r) => {
            (r.status === 503 ? latency.shed : latency.served).push(performance.now() - t0);
            count(r.status);
            if (r.status === 503) overloaded ??= r;
          },
          (e: Error & { code?: string }) => count(e.code ?? e.message),
        )
        .finally(() => pending.delete(p));
      pending.add(p);
    };
    const probe = async () => {
      while (Date.now() < end) {
        health.push((await http.request('GET', '/healthz')).status);
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    const probing = probe();
    while (Date.now() < end) {
      // Catch up to the schedule, so a late timer here does not lower the rate.
      const due = Math.floor(((performance.now() - start) / 1000) * rate);
      for (; sent < due; sent++) if (pending.size < maxInFlight) send(); else capped++;
      await new Promise((r) => setTimeout(r, 5));
    }
    await Promise.all([...pending, probing]);
    await crowd.close();

    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
    const summary = `capacity ${capacity.toFixed(0)}/s, offered ${rate.toFixed(0)}/s (${capped} not sent: ${maxInFlight} in flight), statuses ${JSON.stringify(Object.fromEntries(counts))}, median ms shed ${median(latency.shed).toFixed(0)} served ${median(latency.served).toFixed(0)}`;
    assert.ok(overloaded, `no request was shed: ${summary}`);
    assert.equal(overloaded.body.error.code, 'overloaded', JSON.stringify(overloaded.body));
    assert.equal(overloaded.retryAfter, '1');
    assert.deepEqual([...counts.keys()].filter((s) => s !== 200 && s !== 503), [], summary);
    assert.ok(health.length > 0 && health.every((s) => s === 200), `health checks answered throughout: ${health.join(',')}`);
    // Shedding admits a share of the load, never none.
    assert.ok((counts.get(200) ?? 0) > 0, summary);
    await eventually(async () => (await http.request('GET', '/api/rooms')).status === 200, 'recovery once the load stops');
    const metrics = await http.request('GET', '/metrics');
    assert.match(metrics.body, /^liveroom_http_shed_total [1-9]/m);
    process.stdout.write(`# overload: ${summary}\n`);
  });
});
