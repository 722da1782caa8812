// Lotteries end to end, the way clients use them: the streamer opens one over
// REST, viewers enter with real room clients (SDK over WebSockets) and REST —
// click, a chat message with the keyword, the named gift — the live entry
// count moves in the room state, the draw job runs at endsAt and the result is
// broadcast, stored and readable; followers-only and double entries; a
// restart while a lottery is open (drawn exactly once after its time);
// `npm run lottery:verify` agrees with a draw and disagrees once a stored
// winner is altered. With the in-process job runner and with BullMQ.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { sql } from 'drizzle-orm';
import type { LiveRoomConnection, LotteryInput } from '../src/client/index.ts';
import { loadConfig } from '../src/config.ts';
import type { Database } from '../src/db/connect.ts';
import { drawWinners, entriesHashOf, seedHashOf, sortEntrants } from '../src/domain/lottery-draw.ts';
import { createLogger } from '../src/logger.ts';
import { startLiveroom, type Liveroom } from '../src/server.ts';
import { httpClient, startTestApp, type TestApp } from './helpers/app.ts';
import { dbKinds, openTestDatabase, type DbKind } from './helpers/db.ts';
import { bullmqEnv, dropPrefix, newPrefix, redisAvailable } from './helpers/jobs.ts';
import { anonymous, newUser, next, until, type TestUser } from './helpers/live.ts';
import { eventually } from './helpers/wait.ts';
import { createRoom } from './helpers/wallet.ts';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const ENV = {
  SIGNUP_BONUS: '1000',
  // One app per mode registers every user of the file from one address.
  REGISTER_PER_IP_PER_HOUR: '10000',
  CHAT_RATE_POINTS: '1000',
  LOTTERY_MIN_DURATION_SEC: '1',
  // The draw jobs are under test: the sweep (their safety net) stays out of the way.
  LOTTERY_SWEEP_SEC: '3600',
  ROLES: 'http,rooms,jobs',
};

type Mode = { name: string; db: DbKind; env: () => Record<string, string>; prefix?: string };
const kinds = await dbKinds();
// In-process on each database kind (PGlite + in-process is what `npm start` uses), BullMQ on the first.
const modes: Mode[] = kinds.map((db) => ({ name: 'in-process jobs', db, env: () => ({}) }));
if (await redisAvailable()) {
  const prefix = newPrefix();
  modes.push({ name: 'bullmq', db: kinds[0]!, env: () => bullmqEnv(prefix), prefix });
}

/** Rows of a raw query (PostgreSQL and PGlite alike). */
async function query<T>(database: Database, q: ReturnType<typeof sql>): Promise<T[]> {
  return ((await database.db.execute(q)) as unknown as { rows: T[] }).rows;
}

/**
 * The draw's broadcast, listened for from the moment the lottery exists: it comes at endsAt
 * whatever the steps before it cost, so a listener added after them could miss it.
 */
function resultOf(conn: LiveRoomConnection, lotteryId: string) {
  const p = next(conn, 'lottery:result', (r) => r.lotteryId === lotteryId, 60_000);
  p.catch(() => {}); // awaited later; a test that fails first must not leave an unhandled rejection
  return p;
}

function runVerify(url: string, lotteryId: string, extra: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  return runVerifyWith([lotteryId, '--url', url, ...extra]);
}

/** `lottery:verify` with these arguments (and environment: the database mode reads DATABASE_URL). */
function runVerifyWith(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, 'scripts/lottery-verify.ts'), ...args], { cwd: root, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

for (const mode of modes) {
  describe(`lotteries (${mode.name}, ${mode.db})`, () => {
    let app: TestApp;
    const open: LiveRoomConnection[] = [];
    const join = async (u: { client: TestUser['client'] }, roomId: string) => {
      const c = await u.client.joinRoom(roomId);
      open.push(c);
      return c;
    };
    const create = (streamer: TestUser, roomId: string, input: Partial<LotteryInput> & { method: LotteryInput['method'] }) =>
      app.http.request('POST', `/api/rooms/${roomId}/lotteries`, { token: streamer.token, json: { prize: 'A signed poster', winners: 1, durationSec: 4, ...input } });
    const enterRest = (u: TestUser, lotteryId: string) => app.http.request('POST', `/api/lotteries/${lotteryId}/entries`, { token: u.token });
    const getLottery = async (id: string) => {
      const r = await app.http.request('GET', `/api/lotteries/${id}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.lottery;
    };
    const gift = async (u: TestUser, roomId: string, giftId: string) => {
      const r = await app.http.request('POST', `/api/rooms/${roomId}/gifts`, { token: u.token, json: { giftId, count: 1 }, headers: { 'idempotency-key': randomUUID() } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    };
    /** Checks a drawn lottery against the algorithm, from what the API publishes. */
    const checkDraw = async (id: string, entrants: string[]) => {
      const l = await getLottery(id);
      assert.equal(l.status, 'drawn');
      assert.equal(seedHashOf(l.seed), l.seedHash);
      const sorted = sortEntrants(entrants);
      assert.equal(l.entriesHash, entriesHashOf(sorted));
      assert.equal(l.entries, entrants.length);
      assert.deepEqual(l.winnerIds, drawWinners(l.seed, l.entriesHash, sorted, l.winners));
      const page = await app.http.request('GET', `/api/lotteries/${id}/entries`);
      assert.deepEqual(page.body.items.map((e: { userId: string }) => e.userId), sorted);
      assert.ok(Date.parse(l.drawnAt) >= Date.parse(l.endsAt));
      return l;
    };

    before(async () => {
      app = await startTestApp(mode.db, { ...ENV, ...mode.env() });
    });
    after(async () => {
      await Promise.allSettled(open.filter((c) => c.room.connection.isOpen).map((c) => c.leave()));
      await app.close();
      if (mode.prefix) await dropPrefix(mode.prefix);
    });

    test('click: enter by room message and REST, each user once, live count in state; drawn at endsAt, broadcast, verifiable', async () => {
      const streamer = await newUser(app, 'streamer');
      const [a, b, c] = [await newUser(app, 'a'), await newUser(app, 'b'), await newUser(app, 'c')];
      const roomId = await createRoom(app, streamer);
      const s = await join(streamer, roomId);
      const ra = await join(a, roomId);
      const anon = await join({ client: anonymous(app) }, roomId);

      const created = await create(streamer, roomId, { method: 'click', winners: 2, prize: '  Two tickets  ' });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const l = created.body.lottery;
      const theDraw = resultOf(anon, l.id);
      assert.equal(l.prize, 'Two tickets');
      assert.equal(l.status, 'open');
      assert.match(l.seedHash, /^[0-9a-f]{64}$/);
      assert.equal(l.seed, null);
      assert.equal(l.entriesHash, null);
      for (const conn of [s, ra, anon]) await until(conn, () => conn.state.lottery.id === l.id && conn.state.lottery.status === 'open', 'lottery in state');
      assert.equal(ra.state.lottery.method, 'click');
      assert.equal(ra.state.lottery.seedHash, l.seedHash);
      assert.equal(ra.state.lottery.winners, 2);

      // a second open lottery in the room is refused
      const again = await create(streamer, roomId, { method: 'click' });
      assert.equal(again.status, 409);
      assert.equal(again.body.error.code, 'lottery_open');
      assert.equal(again.body.error.details.lotteryId, l.id);

      const entered = next(ra, 'lottery:entered');
      ra.enterLottery(l.id);
      assert.deepEqual(await entered, { lotteryId: l.id, entered: true });
      const twice = next(ra, 'lottery:entered');
      ra.enterLottery(l.id);
      assert.deepEqual(await twice, { lotteryId: l.id, entered: false });
      const rb = await enterRest(b, l.id);
      assert.equal(rb.status, 201, JSON.stringify(rb.body));
      assert.deepEqual(rb.body, { lotteryId: l.id, entered: true });
      assert.equal((await enterRest(c, l.id)).status, 201);
      const dup = await enterRest(c, l.id);
      assert.equal(dup.status, 200);
      assert.equal(dup.body.entered, false);
      // refusals change nothing
      const own = await enterRest(streamer, l.id);
      assert.equal(own.status, 403);
      assert.equal(own.body.error.code, 'cannot_enter_own_lottery');
      const anonErr = next(anon, 'error');
      anon.enterLottery(l.id);
      assert.equal((await anonErr).code, 'unauthorized');
      assert.equal((await app.http.request('POST', `/api/lotteries/${l.id}/entries`)).status, 401);
      assert.equal((await app.http.request('POST', `/api/lotteries/${randomUUID()}/entries`, { token: a.token })).body.error.code, 'lottery_not_found');

      await until(anon, () => anon.state.lottery.entries === 3, 'three entries in state');
      const result = await theDraw;
      assert.equal(result.entries, 3);
      assert.equal(result.winners.length, 2);
      for (const w of result.winners) assert.ok([a.id, b.id, c.id].includes(w.id));
      assert.equal(result.seedHash, l.seedHash);
      await until(anon, () => anon.state.lottery.status === 'drawn', 'drawn in state');
      assert.deepEqual([...anon.state.lottery.winnerIds], result.winners.map((w) => w.id));
      const drawn = await checkDraw(l.id, [a.id, b.id, c.id]);
      assert.equal(drawn.seed, result.seed);
      assert.deepEqual(drawn.winnerUsers, result.winners);
      const late = await enterRest(a, l.id);
      assert.equal(late.status, 409);
      assert.equal(late.body.error.code, 'lottery_closed');

      // once drawn, the room may open the next one
      const nextOne = await create(streamer, roomId, { method: 'click' });
      assert.equal(nextOne.status, 201);
      await until(anon, () => anon.state.lottery.id === nextOne.body.lottery.id && anon.state.lottery.entries === 0, 'the next lottery');
    });

    test('danmaku: a chat message containing the keyword enters its author (case-insensitive); other messages do not; fewer entrants than winners all win', async () => {
      const streamer = await newUser(app, 'streamer');
      const [a, b, c] = [await newUser(app, 'a'), await newUser(app, 'b'), await newUser(app, 'c')];
      const roomId = await createRoom(app, streamer);
      const ra = await join(a, roomId);
      const rb = await join(b, roomId);
      const rc = await join(c, roomId);
      const created = await create(streamer, roomId, { method: 'danmaku', keyword: 'Lucky', winners: 5 });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const l = created.body.lottery;
      const theDraw = resultOf(rc, l.id);
      await until(rc, () => rc.state.lottery.id === l.id, 'lottery in state');
      assert.equal(rc.state.lottery.keyword, 'Lucky');

      const ea = next(ra, 'lottery:entered');
      ra.chat('i feel lucky today');
      assert.deepEqual(await ea, { lotteryId: l.id, entered: true });
      rb.chat('hello there');
      const eb = next(rb, 'lottery:entered');
      rb.chat('LUCKY!!');
      assert.deepEqual(await eb, { lotteryId: l.id, entered: true });
      const ea2 = next(ra, 'lottery:entered');
      ra.chat('lucky again');
      assert.deepEqual(await ea2, { lotteryId: l.id, entered: false });
      // the click route does not enter a danmaku lottery
      const click = await enterRest(c, l.id);
      assert.equal(click.status, 409);
      assert.equal(click.body.error.code, 'wrong_entry_method');
      await until(rc, () => rc.state.lottery.entries === 2, 'two entries');

      const result = await theDraw;
      assert.deepEqual(result.winners.map((w) => w.id).sort(), [a.id, b.id].sort(), 'two entrants, five prizes: both win');
      await checkDraw(l.id, [a.id, b.id]);
    });

    test('gift: sending the named gift enters the sender, in the room or over REST only; other gifts do not', async () => {
      const streamer = await newUser(app, 'streamer');
      const [a, b, c] = [await newUser(app, 'a'), await newUser(app, 'b'), await newUser(app, 'c')];
      const roomId = await createRoom(app, streamer);
      const ra = await join(a, roomId);
      const rb = await join(b, roomId);
      const bad = await create(streamer, roomId, { method: 'gift', giftId: 'no-such-gift' });
      assert.equal(bad.status, 404);
      assert.equal(bad.body.error.code, 'gift_not_found');
      const created = await create(streamer, roomId, { method: 'gift', giftId: 'rose', winners: 1 });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const l = created.body.lottery;
      const theDraw = resultOf(rb, l.id);
      await until(rb, () => rb.state.lottery.id === l.id && rb.state.lottery.giftId === 'rose', 'lottery in state');

      const ea = next(ra, 'lottery:entered');
      await gift(a, roomId, 'rose');
      assert.deepEqual(await ea, { lotteryId: l.id, entered: true });
      await gift(b, roomId, 'heart'); // not the lottery's gift
      await gift(c, roomId, 'rose'); // c is not in the room: the room still enters them
      await until(rb, () => rb.state.lottery.entries === 2, 'two entries');
      const result = await theDraw;
      assert.equal(result.winners.length, 1);
      assert.ok([a.id, c.id].includes(result.winners[0]!.id));
      await checkDraw(l.id, [a.id, c.id]);
    });

    test('gift: a gift paid over REST enters its sender even when no process holds the room; a refused one is told why in the room', async () => {
      const streamer = await newUser(app, 'streamer');
      const [a, b] = [await newUser(app, 'a'), await newUser(app, 'b')];
      const roomId = await createRoom(app, streamer);
      const created = await create(streamer, roomId, { method: 'gift', giftId: 'rose', winners: 1, followersOnly: true, durationSec: 30 });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const l = created.body.lottery;
      await a.client.follow(streamer.id);
      await gift(a, roomId, 'rose'); // nobody is in the room: no live room is open anywhere
      await eventually(async () => (await getLottery(l.id)).entries === 1, 'a entered without a room');
      // b does not follow: paid, not entered, and told so in the room
      const rb = await join(b, roomId);
      const refused = next(rb, 'error');
      await gift(b, roomId, 'rose');
      assert.equal((await refused).code, 'followers_only');
      assert.equal((await getLottery(l.id)).entries, 1);
    });

    test('followers only: non-followers are refused over REST and in the room; after following they enter', async () => {
      const streamer = await newUser(app, 'streamer');
      const [fan, stranger] = [await newUser(app, 'fan'), await newUser(app, 'stranger')];
      const roomId = await createRoom(app, streamer);
      await fan.client.follow(streamer.id);
      const rs = await join(stranger, roomId);
      const created = await create(streamer, roomId, { method: 'click', followersOnly: true, durationSec: 30 });
      assert.equal(created.status, 201);
      const l = created.body.lottery;
      await until(rs, () => rs.state.lottery.id === l.id && rs.state.lottery.followersOnly, 'lottery in state');

      const refused = await enterRest(stranger, l.id);
      assert.equal(refused.status, 403);
      assert.equal(refused.body.error.code, 'followers_only');
      const err = next(rs, 'error');
      rs.enterLottery(l.id);
      assert.equal((await err).code, 'followers_only');
      assert.equal((await enterRest(fan, l.id)).status, 201);
      assert.equal((await getLottery(l.id)).entries, 1);
      await stranger.client.follow(streamer.id);
      assert.equal((await enterRest(stranger, l.id)).status, 201);
      assert.equal((await getLottery(l.id)).entries, 2);
    });

    test('bad input is 400/403/404 and creates nothing', async () => {
      const streamer = await newUser(app, 'streamer');
      const other = await newUser(app, 'other');
      const roomId = await createRoom(app, streamer);
      const bad: [Record<string, unknown>, number, string][] = [
        [{ method: 'danmaku' }, 400, 'validation_failed'], // no keyword
        [{ method: 'click', keyword: 'x' }, 400, 'validation_failed'],
        [{ method: 'click', giftId: 'rose' }, 400, 'validation_failed'],
        [{ method: 'gift' }, 400, 'validation_failed'],
        [{ method: 'raffle' }, 400, 'validation_failed'],
        [{ method: 'click', durationSec: 0 }, 400, 'validation_failed'],
        [{ method: 'click', durationSec: 10 ** 9 }, 400, 'validation_failed'],
        [{ method: 'click', winners: 0 }, 400, 'validation_failed'],
        [{ method: 'click', winners: 1.5 }, 400, 'validation_failed'],
        [{ method: 'click', prize: '' }, 400, 'validation_failed'],
        [{ method: 'click', prize: 'x'.repeat(1000) }, 400, 'validation_failed'],
        [{ method: 'click', extra: 1 }, 400, 'validation_failed'],
      ];
      for (const [input, status, code] of bad) {
        const r = await create(streamer, roomId, input as LotteryInput);
        assert.equal(r.status, status, JSON.stringify(input));
        assert.equal(r.body.error.code, code, JSON.stringify(input));
      }
      const notOwner = await create(other, roomId, { method: 'click' });
      assert.equal(notOwner.status, 403);
      assert.equal(notOwner.body.error.code, 'forbidden');
      assert.equal((await create(streamer, randomUUID(), { method: 'click' })).status, 404);
      assert.equal((await app.http.request('POST', `/api/rooms/${roomId}/lotteries`, { json: { method: 'click', prize: 'p', winners: 1, durationSec: 5 } })).status, 401);
      assert.equal((await app.http.request('GET', `/api/lotteries/not-an-id`)).status, 400);
      assert.equal((await app.http.request('GET', `/api/lotteries/${randomUUID()}`)).status, 404);
      // the entrant list's cursor is a user id: a NUL byte in it is a 400 with a code, not a database error
      const listed = await create(other, await createRoom(app, other), { method: 'click', durationSec: 30 });
      assert.equal(listed.status, 201, JSON.stringify(listed.body));
      const nul = await app.http.request('GET', `/api/lotteries/${listed.body.lottery.id}/entries?cursor=%00`);
      assert.equal(nul.status, 400, JSON.stringify(nul.body));
      assert.equal(nul.body.error.code, 'validation_failed');
      const none = await query<{ n: number }>(app.database, sql`SELECT count(*)::int AS n FROM lotteries WHERE room_id = ${roomId}`);
      assert.equal(Number(none[0]!.n), 0);
    });

    test('lottery:verify agrees with a draw, and disagrees once a stored winner is altered', async () => {
      const streamer = await newUser(app, 'streamer');
      const entrants = [await newUser(app, 'e'), await newUser(app, 'e'), await newUser(app, 'e'), await newUser(app, 'e')];
      const outsider = await newUser(app, 'x');
      const roomId = await createRoom(app, streamer);
      // Long enough that the four entries always land before the draw, however slow the machine.
      const created = await create(streamer, roomId, { method: 'click', winners: 2, durationSec: 4 });
      const l = created.body.lottery;
      for (const e of entrants) assert.equal((await enterRest(e, l.id)).status, 201);
      // A lottery that stays open for the whole test: checking it is refused, whenever the check runs.
      const openOne = (await create(outsider, await createRoom(app, outsider), { method: 'click', durationSec: 600 })).body.lottery;
      const open = await runVerify(app.url, openOne.id);
      assert.equal(open.code, 2, 'an open lottery cannot be checked yet');
      await eventually(async () => (await getLottery(l.id)).status === 'drawn', 'the draw', 30_000);

      const ok = await runVerify(app.url, l.id);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stderr, /match/);
      assert.equal(JSON.parse(ok.stdout).match, true);

      const stored = (await getLottery(l.id)).winnerIds as string[];
      const altered = [stored[0]!, entrants.map((e) => e.id).find((id) => !stored.includes(id))!];
      await app.database.db.execute(sql`UPDATE lotteries SET winner_ids = ${JSON.stringify(altered)}::jsonb WHERE id = ${l.id}`);
      const bad = await runVerify(app.url, l.id);
      assert.equal(bad.code, 1, bad.stderr);
      assert.match(bad.stderr, /MISMATCH/);
      // an outsider swapped in is caught too
      await app.database.db.execute(sql`UPDATE lotteries SET winner_ids = ${JSON.stringify([stored[0], outsider.id])}::jsonb WHERE id = ${l.id}`);
      assert.equal((await runVerify(app.url, l.id)).code, 1);
      assert.equal((await runVerify(app.url, randomUUID())).code, 2);
    });

    test('lottery:verify refuses a seed, seedHash and winners replaced together, against --seed-hash and the audit log; the seed is not stored before the draw', async () => {
      const streamer = await newUser(app, 'streamer');
      const entrants = [await newUser(app, 'e'), await newUser(app, 'e'), await newUser(app, 'e')];
      const roomId = await createRoom(app, streamer);
      const viewer = await join({ client: anonymous(app) }, roomId);
      const created = await create(streamer, roomId, { method: 'click', winners: 1, durationSec: 3 });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const l = created.body.lottery;
      // What a viewer keeps: the seedHash of the reply, also in the room's lottery state.
      const seen: string = l.seedHash;
      await until(viewer, () => viewer.state.lottery.id === l.id && viewer.state.lottery.seedHash === seen, 'the commitment in the room state');
      const stored = async () => (await query<{ seed: string | null; seed_hash: string }>(app.database, sql`SELECT seed, seed_hash FROM lotteries WHERE id = ${l.id}`))[0]!;
      assert.equal((await stored()).seed, null, 'no seed in the database before the draw');
      const createdAudit = await app.services.audit.list({ action: 'lottery.create', limit: 100 });
      assert.equal(createdAudit.items.find((i) => i.target === l.id)?.details?.seedHash, seen, 'the commitment is in the append-only audit entry');
      for (const e of entrants) assert.equal((await enterRest(e, l.id)).status, 201);
      await eventually(async () => (await getLottery(l.id)).status === 'drawn', 'the draw', 30_000);
      const drawn = await getLottery(l.id);
      assert.equal((await stored()).seed, drawn.seed, 'the seed is stored once drawn');
      assert.equal(seedHashOf(drawn.seed), seen);

      const honest = await runVerify(app.url, l.id, ['--seed-hash', seen]);
      assert.equal(honest.code, 0, honest.stderr);
      const dbEnv = app.databaseUrl ? { DATABASE_URL: app.databaseUrl, DATA_DIR: app.dataDir, LOG_LEVEL: 'silent' } : undefined;
      if (dbEnv) {
        const fromDb = await runVerifyWith([l.id], dbEnv);
        assert.equal(fromDb.code, 0, fromDb.stderr);
      }

      // Someone with the database picks a seed under which a chosen loser wins, and rewrites all three.
      const ids = entrants.map((e) => e.id);
      const chosen = ids.find((id) => !drawn.winnerIds.includes(id))!;
      let forged = '';
      for (let i = 0; !forged; i++) {
        const s = seedHashOf(`${i}`.padStart(64, '0'));
        if (drawWinners(s, drawn.entriesHash, sortEntrants(ids), 1)[0] === chosen) forged = s;
      }
      await app.database.db.execute(
        sql`UPDATE lotteries SET seed = ${forged}, seed_hash = ${seedHashOf(forged)}, winner_ids = ${JSON.stringify([chosen])}::jsonb WHERE id = ${l.id}`,
      );
      assert.deepEqual((await getLottery(l.id)).winnerIds, [chosen]);
      const caught = await runVerify(app.url, l.id, ['--seed-hash', seen]);
      assert.equal(caught.code, 1, caught.stderr);
      assert.match(caught.stderr, /FAIL seedHash = the commitment in --seed-hash/);
      assert.match(caught.stderr, /MISMATCH/);
      if (dbEnv) {
        // From the database, the audit log's commitment (and its record of the draw) catch it without --seed-hash.
        const fromDb = await runVerifyWith([l.id], dbEnv);
        assert.equal(fromDb.code, 1, fromDb.stderr);
        assert.match(fromDb.stderr, /FAIL seedHash = the commitment in the audit entry lottery.create/);
        assert.equal((await runVerifyWith([l.id, '--seed-hash', seen], dbEnv)).code, 1);
      }
      const badFlag = await runVerify(app.url, l.id, ['--seed-hash', 'not-hex']);
      assert.equal(badFlag.code, 2, 'a malformed --seed-hash cannot check anything');
    });

    test('a draw whose seed does not follow from its commitment (the lottery key changed) is refused and the lottery stays open', async () => {
      const streamer = await newUser(app, 'streamer');
      const roomId = await createRoom(app, streamer);
      const l = (await create(streamer, roomId, { method: 'click', durationSec: 1 })).body.lottery;
      // As if LOTTERY_SECRET had changed since it opened: the commitment is no longer the key's.
      await app.database.db.execute(sql`UPDATE lotteries SET seed_hash = ${seedHashOf('00'.repeat(32))} WHERE id = ${l.id}`);
      await eventually(() => Date.now() > Date.parse(l.endsAt), 'the end of the lottery');
      await assert.rejects(app.services.lotteries.draw(l.id), /does not match its seedHash/);
      const after = await getLottery(l.id);
      assert.equal(after.status, 'open');
      assert.equal(after.seed, null);
      assert.equal((await query<{ seed: string | null }>(app.database, sql`SELECT seed FROM lotteries WHERE id = ${l.id}`))[0]!.seed, null);
    });
  });
}

for (const mode of modes) {
  describe(`lottery across a restart (${mode.name}, ${mode.db})`, () => {
    test('a lottery open when the server stops is drawn exactly once after its time by the restarted server', async () => {
      const database = await openTestDatabase(mode.db);
      const dataDir = await mkdtemp(path.join(tmpdir(), 'liveroom-lottery-restart-'));
      const config = () =>
        loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'silent', JWT_SECRET: 'test-secret-test-secret-test-secret-0123', ...ENV, ...mode.env() });
      let live: Liveroom | undefined;
      try {
        live = await startLiveroom(config(), { database, logger: createLogger('silent') });
        const first = { url: live.url, http: httpClient(live.url) };
        const streamer = await newUser(first, 'streamer');
        const fans = [await newUser(first, 'f'), await newUser(first, 'f'), await newUser(first, 'f')];
        const roomId = await createRoom({ ...live, http: first.http, dataDir } as TestApp, streamer);
        const created = await first.http.request('POST', `/api/rooms/${roomId}/lotteries`, {
          token: streamer.token,
          json: { prize: 'p', winners: 1, method: 'click', durationSec: 8 },
        });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        const l = created.body.lottery;
        for (const f of fans) assert.equal((await first.http.request('POST', `/api/lotteries/${l.id}/entries`, { token: f.token })).status, 201);
        assert.ok(Date.now() < Date.parse(l.endsAt), 'the server stops while the lottery is still open');
        await live.close();
        live = undefined;

        live = await startLiveroom(config(), { database, logger: createLogger('silent') });
        const again = httpClient(live.url);
        const viewer = anonymous({ url: live.url });
        const conn = await viewer.joinRoom(roomId);
        // A slow restart may already have drawn it (no broadcast to wait for then): the state says either way.
        await until(conn, () => conn.state.lottery.id === l.id && conn.state.lottery.status === 'drawn', 'the draw in the room state', 30_000);
        assert.equal(conn.state.lottery.entries, 3);
        const got = (await again.request('GET', `/api/lotteries/${l.id}`)).body.lottery;
        assert.equal(got.status, 'drawn');
        assert.ok(Date.parse(got.drawnAt) >= Date.parse(l.endsAt), 'not before its time');
        assert.equal(got.winnerIds.length, 1);
        assert.deepEqual([...conn.state.lottery.winnerIds], got.winnerIds);
        await conn.leave();

        // Once: one draw in the audit log, and the job (re-enqueued, re-run) does not draw again.
        await live.jobs.enqueue('lottery-draw', { lotteryId: l.id });
        await live.services.lotteries.drawDue();
        await eventually(async () => {
          const counts = await live!.jobs.counts();
          return (counts['lottery-draw']?.waiting ?? 0) + (counts['lottery-draw']?.active ?? 0) + (counts['lottery-draw']?.delayed ?? 0) === 0;
        }, 'the extra draw job to finish');
        const draws = await query<{ n: number }>(database, sql`SELECT count(*)::int AS n FROM audit_log WHERE action = 'lottery.draw' AND target = ${l.id}`);
        assert.equal(Number(draws[0]!.n), 1);
        const after = (await again.request('GET', `/api/lotteries/${l.id}`)).body.lottery;
        assert.equal(after.drawnAt, got.drawnAt);
        assert.deepEqual(after.winnerIds, got.winnerIds);
      } finally {
        await live?.close();
        await database.close();
        await rm(dataDir, { recursive: true, force: true });
        if (mode.prefix) await dropPrefix(mode.prefix);
      }
    });
  });
}
