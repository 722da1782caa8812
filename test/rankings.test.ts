// Rankings: a fixture of streamers, follows, gifts and broadcasts gives the
// boards computed by hand; windows roll over at UTC period boundaries; boards
// move after a gift and a follow (through the job runner, debounced), over
// GET /api/rankings and in the `rankings` room (SDK over a real WebSocket),
// with the in-process runner and with BullMQ on the real Redis.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { RankingsConnection } from '../src/client/index.ts';
import { periodStart, type Board, type RankWindow } from '../src/domain/rankings.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { dbKinds } from './helpers/db.ts';
import { bullmqEnv, dropPrefix, newPrefix, redisAvailable } from './helpers/jobs.ts';
import { anonymous, newUser, type TestUser } from './helpers/live.ts';
import { eventually } from './helpers/wait.ts';
import { createRoom } from './helpers/wallet.ts';

const ENV = { SIGNUP_BONUS: '1000', RANKINGS_DEBOUNCE_MS: '200', LOG_LEVEL: 'silent' };
const WINDOWS: RankWindow[] = ['hour', 'day', 'week', 'all'];
// Awaited before the first test: under --test-force-exit (npm test) the file exits once the tests known so far
// have finished, so describes declared after a later top-level await would never run.
const kinds = await dbKinds();
const redisUp = await redisAvailable();

test('periods are UTC calendar hours, days and ISO weeks', () => {
  const t = new Date('2026-11-25T13:47:12.345Z'); // a Wednesday
  assert.equal(periodStart('hour', t)!.toISOString(), '2026-11-25T13:00:00.000Z');
  assert.equal(periodStart('day', t)!.toISOString(), '2026-11-25T00:00:00.000Z');
  assert.equal(periodStart('week', t)!.toISOString(), '2026-11-23T00:00:00.000Z');
  assert.equal(periodStart('week', new Date('2026-11-29T23:59:59Z'))!.toISOString(), '2026-11-23T00:00:00.000Z'); // Sunday
  assert.equal(periodStart('week', new Date('2026-11-30T00:00:00Z'))!.toISOString(), '2026-11-30T00:00:00.000Z'); // Monday
  assert.equal(periodStart('all', t), null);
});

async function gift(app: TestApp, from: TestUser, roomId: string, giftId: string, count = 1) {
  const r = await app.http.request('POST', `/api/rooms/${roomId}/gifts`, { token: from.token, json: { giftId, count }, headers: { 'idempotency-key': randomUUID() } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
}
async function follow(app: TestApp, who: TestUser, whom: TestUser) {
  const r = await app.http.request('PUT', `/api/users/${whom.id}/follow`, { token: who.token });
  assert.equal(r.status, 204, JSON.stringify(r.body));
}
async function board(app: TestApp, b: Board, window: RankWindow, limit?: number) {
  const r = await app.http.request('GET', `/api/rankings?board=${b}&window=${window}${limit ? `&limit=${limit}` : ''}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body as { board: string; window: string; updatedAt: string; items: { id: string; name: string; score: number }[] };
}
/** Ties are broken by id in byte order. */
/** Resolves when `check()` holds after a patch of the rankings room (or now); rejects after `ms`. */
function untilBoards(conn: RankingsConnection, check: () => boolean, what: string, ms = 20_000): Promise<void> {
  if (check()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for ${what}`));
    }, ms);
    const off = conn.onChange(() => {
      if (!check()) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}
const byScoreThenId = (a: { id: string; score: number }, b: { id: string; score: number }) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

for (const kind of kinds) {
  describe(`rankings fixture (${kind})`, () => {
    let app: TestApp;
    before(async () => {
      app = await startTestApp(kind, ENV);
    });
    after(async () => {
      await app.close();
    });

    test('boards equal the hand-computed ones in every window; windows roll over at their boundary', async () => {
      const [s1, s2, s3] = [await newUser(app, 's1'), await newUser(app, 's2'), await newUser(app, 's3')];
      const [v1, v2, v3, v4] = [await newUser(app, 'v1'), await newUser(app, 'v2'), await newUser(app, 'v3'), await newUser(app, 'v4')];
      const [r1, r2, r3] = [await createRoom(app, s1), await createRoom(app, s2), await createRoom(app, s3)];
      const names = new Map([s1, s2, s3, v1, v2, v3, v4].map((u) => [u.id, u.username]));

      // followers: s1 3, s2 2, s3 2 (a tie), and v2 (no room, not a streamer) 1
      for (const v of [v1, v2, v3]) await follow(app, v, s1);
      for (const v of [v1, v2]) await follow(app, v, s2);
      for (const v of [v3, v4]) await follow(app, v, s3);
      await follow(app, v1, v2);
      await follow(app, v4, s1);
      await app.http.request('DELETE', `/api/users/${s1.id}/follow`, { token: v4.token }); // unfollowed: not counted
      // revenue (streamer share 50%, rounded down): s1 rose x3 = 30 -> 15; s2 coffee 30 -> 15 (a tie); s3 cake 99 -> 49 and heart 1 -> 0
      await gift(app, v1, r1, 'rose', 3);
      await gift(app, v2, r2, 'coffee');
      await gift(app, v4, r3, 'cake');
      await gift(app, v3, r3, 'heart');
      // audience: r1 peaks at 7, r2 at 3 (then 1), r3 never live
      await app.services.broadcasts.publishStarted(r1);
      await app.services.broadcasts.reportOnline(r1, 7);
      await app.services.broadcasts.reportOnline(r1, 5);
      await app.services.broadcasts.publishStarted(r2);
      await app.services.broadcasts.reportOnline(r2, 3);
      await app.services.broadcasts.reportOnline(r2, 1);

      const followers = [
        { id: s1.id, name: names.get(s1.id)!, score: 3 },
        { id: s2.id, name: names.get(s2.id)!, score: 2 },
        { id: s3.id, name: names.get(s3.id)!, score: 2 },
      ].sort(byScoreThenId);
      const revenue = [
        { id: s3.id, name: names.get(s3.id)!, score: 49 },
        { id: s1.id, name: names.get(s1.id)!, score: 15 },
        { id: s2.id, name: names.get(s2.id)!, score: 15 },
      ].sort(byScoreThenId);
      const audience = [
        { id: r1, name: 'Gift test room', score: 7 },
        { id: r2, name: 'Gift test room', score: 3 },
      ];
      for (const window of WINDOWS) {
        // The debounced jobs may still be writing: wait for the boards to settle on the expected values.
        await eventually(async () => JSON.stringify((await board(app, 'streamer_followers', window)).items) === JSON.stringify(followers), `followers ${window}`);
        await eventually(async () => JSON.stringify((await board(app, 'streamer_revenue', window)).items) === JSON.stringify(revenue), `revenue ${window}`);
        await eventually(async () => JSON.stringify((await board(app, 'room_audience', window)).items) === JSON.stringify(audience), `audience ${window}`);
      }
      const top = await board(app, 'streamer_revenue', 'all', 1);
      assert.deepEqual(top.items, revenue.slice(0, 1));
      assert.equal(top.board, 'streamer_revenue');
      assert.equal(top.window, 'all');
      assert.ok(Date.now() - Date.parse(top.updatedAt) < 60_000);

      // Later periods: the same data seen from the next hour, day and week.
      await app.services.broadcasts.publishStopped(r2, 'streamer_stopped');
      const rk = app.services.rankings;
      const now = Date.now();
      const nextHour = new Date(periodStart('hour', new Date(now))!.getTime() + 3600_000 + 1);
      const nextDay = new Date(periodStart('day', new Date(now))!.getTime() + 86_400_000 + 1);
      const nextWeek = new Date(periodStart('week', new Date(now))!.getTime() + 7 * 86_400_000 + 1);
      assert.deepEqual(await rk.compute('streamer_followers', 'hour', nextHour), []);
      assert.deepEqual(await rk.compute('streamer_revenue', 'hour', nextHour), []);
      assert.deepEqual(await rk.compute('streamer_followers', 'day', nextDay), []);
      assert.deepEqual(await rk.compute('streamer_revenue', 'week', nextWeek), []);
      assert.deepEqual(await rk.compute('streamer_followers', 'all', nextWeek), followers);
      assert.deepEqual(await rk.compute('streamer_revenue', 'all', nextWeek), revenue);
      // r1 is still live (its broadcast overlaps every later period); r2's broadcast ended before them.
      assert.deepEqual(await rk.compute('room_audience', 'hour', nextHour), audience.slice(0, 1));
      assert.deepEqual(await rk.compute('room_audience', 'all', nextWeek), audience);
      // A stored board from an earlier period is recomputed when read.
      const snap = await rk.get('streamer_revenue', 'hour', 10, nextHour);
      assert.deepEqual(snap.items, []);
      assert.equal(snap.periodStart, periodStart('hour', nextHour)!.toISOString());
    });

    test('bad queries are 400 with validation_failed', async () => {
      for (const q of ['', '?board=nope', '?board=streamer_revenue&window=month', '?board=streamer_revenue&limit=0', '?board=streamer_revenue&limit=100000', '?board=room_audience&x=1']) {
        const r = await app.http.request('GET', `/api/rankings${q}`);
        assert.equal(r.status, 400, q);
        assert.equal(r.body.error.code, 'validation_failed', q);
      }
    });
  });
}

const live: { name: string; env: () => Promise<Record<string, string>>; prefix?: string }[] = [{ name: 'in-process jobs', env: async () => ({}) }];
if (redisUp) {
  const prefix = newPrefix();
  live.push({ name: 'bullmq', env: async () => bullmqEnv(prefix), prefix });
}

for (const mode of live) {
  describe(`rankings move in real time (${mode.name})`, () => {
    let app: TestApp;
    const open: RankingsConnection[] = [];
    before(async () => {
      app = await startTestApp(kinds[0]!, { ...ENV, ...(await mode.env()) });
    });
    after(async () => {
      await Promise.allSettled(open.map((c) => c.leave()));
      await app.close();
      if (mode.prefix) await dropPrefix(mode.prefix);
    });

    test('a rankings room client receives the new revenue board after a gift, and the followers board after a follow', async () => {
      const streamer = await newUser(app, 'star');
      const fan = await newUser(app, 'fan');
      const roomId = await createRoom(app, streamer);
      const conn = await anonymous(app).joinRankings();
      open.push(conn);
      assert.equal(conn.state.boards.size, 12);
      assert.deepEqual(conn.board('streamer_revenue', 'day').filter((i) => i.id === streamer.id), []);

      await gift(app, fan, roomId, 'crown'); // 520 -> 260 to the streamer
      // Each window's board is its own patch: wait for all of them, not the first one pushed.
      await untilBoards(conn, () => WINDOWS.every((w) => conn.board('streamer_revenue', w).some((i) => i.id === streamer.id && i.score === 260)), 'revenue board in every window');
      const rest = await board(app, 'streamer_revenue', 'hour');
      assert.ok(rest.items.some((i) => i.id === streamer.id && i.score === 260));

      await follow(app, fan, streamer);
      await untilBoards(conn, () => conn.board('streamer_followers', 'hour').some((i) => i.id === streamer.id && i.score === 1), 'followers board');
    });
  });
}

// Two refreshes of one board at once (jobs of consecutive debounce slots on several workers, or a job and a
// read that found the board stale) may finish in either order: the older one must not land last.
for (const kind of kinds) {
  describe(`refreshes that finish out of order (${kind})`, () => {
    let app: TestApp;
    before(async () => {
      // no jobs role: nothing refreshes the boards but this test
      app = await startTestApp(kind, { ...ENV, ROLES: 'http' });
    });
    after(() => app.close());

    test('a refresh as of an earlier time than the stored board changes nothing; a later one does', async () => {
      const streamer = await newUser(app, 'orderstar');
      await createRoom(app, streamer);
      await follow(app, await newUser(app, 'orderfan1'), streamer);
      const before = new Date();
      await follow(app, await newUser(app, 'orderfan2'), streamer);
      const rk = app.services.rankings;
      const score = async (window: RankWindow) => (await rk.get('streamer_followers', window, 100)).items.find((i) => i.id === streamer.id)?.score;

      // the newer compute lands first, then the older one (its compute saw one follow only)
      await rk.refresh(['streamer_followers'], new Date());
      for (const w of WINDOWS) assert.equal(await score(w), 2, w);
      assert.deepEqual(await rk.refresh(['streamer_followers'], before), [], 'the older refresh reports no change');
      for (const w of WINDOWS) assert.equal(await score(w), 2, `${w}: still the newer board`);

      // a later refresh moves the board on
      await follow(app, await newUser(app, 'orderfan3'), streamer);
      await rk.refresh(['streamer_followers'], new Date());
      for (const w of WINDOWS) assert.equal(await score(w), 3, w);
    });
  });
}
