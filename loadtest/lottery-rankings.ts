// Costs of the lottery draw and of the rankings, on a scratch PostgreSQL
// database (dropped afterwards), through the domain services the app uses:
//
//   1. the pure draw (sort, entriesHash, HMAC Fisher–Yates for 100 winners) for N entrants;
//   2. entries/s through lotteries.enter() (the rules and the insert, C concurrent callers);
//   3. lotteries.draw() of a lottery with N entries in the database (lock, read, derive, store);
//   4. rankings.refresh() of every board (12) and of the revenue boards alone (what a gift storm
//      triggers once per RANKINGS_DEBOUNCE_MS) over G gift transfers and F follows.
//
//   flock /tmp/liveroom-bench.lock node loadtest/lottery-rankings.ts [--entrants 1000,100000] [--enter 5000]
//        [--gifts 20000] [--follows 50000] [--streamers 200] [--viewers 2000] [--concurrency 16]
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { loadConfig } from '../src/config.ts';
import { openDatabase, type Database } from '../src/db/connect.ts';
import { createLocalEventBus } from '../src/domain/events.ts';
import { draw } from '../src/domain/lottery-draw.ts';
import { createServices } from '../src/domain/services.ts';
import { serviceSettings } from '../src/settings.ts';
import { arg } from './lib/proc.ts';

const ENTRANTS = arg('entrants', '1000,100000').split(',').map(Number);
const ENTER = Number(arg('enter', '5000'));
const GIFTS = Number(arg('gifts', '20000'));
const FOLLOWS = Number(arg('follows', '50000'));
const STREAMERS = Number(arg('streamers', '200'));
const VIEWERS = Number(arg('viewers', '2000'));
const CONCURRENCY = Number(arg('concurrency', '16'));
const SERVER_URL = arg('database-url', process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test');

const log = (msg: string) => process.stderr.write(`[lottery-rankings] ${msg}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
async function time(fn: () => Promise<unknown> | unknown): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}
async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<void>) {
  let i = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (i < items.length) await fn(items[i++]!);
  }));
}

async function main() {
  const results: Record<string, unknown> = { load1Before: loadavg()[0] };

  // 1. the pure draw
  const pure: Record<string, number> = {};
  for (const n of ENTRANTS) {
    const ids = Array.from({ length: n }, () => randomUUID());
    const seed = randomUUID().replace(/-/g, '').repeat(2);
    const runs: number[] = [];
    for (let r = 0; r < 3; r++) runs.push(await time(() => draw(seed, ids, 100)));
    pure[n] = median(runs);
    log(`pure draw, ${n} entrants, 100 winners: ${pure[n]!.toFixed(1)} ms`);
  }
  results.pureDrawMs = pure;

  const name = `lr_bench_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: SERVER_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  let database: Database | undefined;
  try {
    database = await openDatabase({ databaseUrl: url.toString(), poolSize: CONCURRENCY + 4 });
    const config = loadConfig({ DATA_DIR: '/tmp/lr-bench-unused', JWT_SECRET: 'bench-secret-bench-secret-bench-secret-01' });
    const s = createServices(serviceSettings(config), database, createLocalEventBus());
    const db = database.db;

    // fixture: streamers with rooms, viewers with coins, follows, gifts
    log(`fixture: ${STREAMERS} streamers, ${VIEWERS} viewers, ${FOLLOWS} follows, ${GIFTS} gifts`);
    const streamers = Array.from({ length: STREAMERS }, () => randomUUID());
    const viewers = Array.from({ length: VIEWERS }, () => randomUUID());
    for (const [i, id] of [...streamers, ...viewers].entries())
      await db.execute(sql`INSERT INTO users (id, username, password_hash, nickname) VALUES (${id}, ${`b${i}`}, 'x', ${`user ${i}`})`);
    for (const id of streamers)
      await db.execute(sql`INSERT INTO rooms (id, streamer_id, title, stream_key_hash) VALUES (${id}, ${id}, ${`room of ${id.slice(0, 8)}`}, ${randomUUID()})`);
    const pairs = Array.from({ length: FOLLOWS }, () => [viewers[Math.floor(Math.random() * viewers.length)], streamers[Math.floor(Math.random() * streamers.length)]]);
    await db.execute(sql`
      INSERT INTO follows (follower_id, followee_id, created_at)
      SELECT p->>0, p->>1, now() - random() * interval '14 days' FROM jsonb_array_elements(${JSON.stringify(pairs)}::jsonb) p
      ON CONFLICT DO NOTHING`);
    await pool(viewers, CONCURRENCY, async (id) => void (await s.ledger.grant({ kind: 'grant', userId: id, amount: 1_000_000, actorId: null })));
    const giftSeconds = await time(() =>
      pool(Array.from({ length: GIFTS }, (_, i) => i), CONCURRENCY, async (i) => {
        const streamerId = streamers[i % streamers.length]!;
        const amount = 10 * (1 + (i % 7));
        const share = Math.floor(amount / 2);
        await s.ledger.payGift({
          senderId: viewers[i % viewers.length]!, streamerId, roomId: streamerId, giftId: 'rose', count: 1 + (i % 7), amount,
          streamerShare: share, platformShare: amount - share, idempotencyKey: null, requestHash: null, ip: null,
        });
      }),
    );
    log(`fixture gifts: ${(GIFTS / (giftSeconds / 1000)).toFixed(0)} gifts/s while loading`);
    await db.execute(sql`ANALYZE`);

    // 4. rankings
    const all: number[] = [];
    const revenue: number[] = [];
    for (let r = 0; r < 3; r++) {
      all.push(await time(() => s.rankings.refresh()));
      revenue.push(await time(() => s.rankings.refresh(['streamer_revenue'])));
    }
    results.rankings = { gifts: GIFTS, follows: FOLLOWS, streamers: STREAMERS, refreshAllMs: median(all), refreshRevenueMs: median(revenue) };
    log(`rankings: all 12 boards ${median(all).toFixed(0)} ms, revenue boards (4) ${median(revenue).toFixed(0)} ms`);

    // 2. entries/s through the domain (a click lottery in one room)
    const room = streamers[0]!;
    const lottery = await s.lotteries.create({ id: room }, room, { prize: 'bench', winners: 100, method: 'click', durationSec: 3600 }, { ip: null });
    const enterers = Array.from({ length: ENTER }, () => randomUUID());
    const enterMs = await time(() => pool(enterers, CONCURRENCY, async (u) => void (await s.lotteries.enter(lottery.id, { id: u }, 'click'))));
    results.enter = { entries: ENTER, concurrency: CONCURRENCY, perSec: Math.round(ENTER / (enterMs / 1000)) };
    log(`entries: ${ENTER} in ${enterMs.toFixed(0)} ms = ${Math.round(ENTER / (enterMs / 1000))}/s (${CONCURRENCY} concurrent)`);

    // 3. the database draw with N entries
    const dbDraw: Record<string, number> = {};
    for (const n of ENTRANTS) {
      const id = randomUUID();
      const r = streamers[1 + (ENTRANTS.indexOf(n) % (streamers.length - 1))]!;
      await db.execute(sql`
        INSERT INTO lotteries (id, room_id, streamer_id, prize, winners, method, seed, seed_hash, ends_at)
        VALUES (${id}, ${r}, ${r}, 'bench', 100, 'click', ${'ab'.repeat(32)}, 'x', now() - interval '1 second')`);
      await db.execute(sql`INSERT INTO lottery_entries (lottery_id, user_id, via) SELECT ${id}, gen_random_uuid()::text, 'click' FROM generate_series(1, ${n})`);
      dbDraw[n] = await time(() => s.lotteries.draw(id));
      log(`database draw, ${n} entries: ${dbDraw[n]!.toFixed(0)} ms`);
    }
    results.databaseDrawMs = dbDraw;
  } finally {
    await database?.close();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
  results.load1After = loadavg()[0];
  process.stdout.write(JSON.stringify(results, null, 2) + '\n');
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
