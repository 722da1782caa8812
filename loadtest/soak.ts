// Soak: a server (every role, PostgreSQL) carries a live room for a bounded
// time while viewers churn (join and leave), chatters chat, gifters gift and
// ffmpeg streams over RTMP. Every sample period it reads the server's RSS
// (main and media process), open file descriptors, event-loop lag (p99 from
// /metrics) and PostgreSQL connections; at the end it prints the series and
// how far each moved after the warm-up (the goal: flat within 5%).
//
//   node loadtest/soak.ts [--viewers 1000] [--minutes 10] [--sample-sec 10] [--churn-per-sec 10] [--heap-snapshots 3]
//
// With --heap-snapshots N (N >= 2) the server also writes N heap snapshots, from
// the end of the warm-up to the end, and the run prints the live heap at each
// (after the collection a snapshot forces: no GC sawtooth) and what grew most.
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { LiveroomClient, type LiveRoomConnection } from '../src/client/index.ts';
import { POSTGRES_URL } from '../test/helpers/db.ts';
import { push } from '../test/helpers/media.ts';
import { freePort, startServerProcess } from '../test/helpers/server-process.ts';
import { heapGrowth, heapSnapshotOptions, type HeapSummary, summarizeHeapSnapshot, takeHeapSnapshot } from './lib/heap.ts';
import { arg, childrenOf, rssBytes } from './lib/proc.ts';

const VIEWERS = Number(arg('viewers', '1000'));
const MINUTES = Number(arg('minutes', '10'));
const SAMPLE_SEC = Number(arg('sample-sec', '10'));
const CHURN = Number(arg('churn-per-sec', '10'));
const SNAPSHOTS = Number(arg('heap-snapshots', '0'));
const log = (m: string) => process.stderr.write(`[soak] ${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const dbName = `lr_soak_${randomBytes(4).toString('hex')}`;
const admin = new pg.Client({ connectionString: POSTGRES_URL });
await admin.connect();
await admin.query(`CREATE DATABASE ${dbName}`);
const dbUrl = new URL(POSTGRES_URL);
dbUrl.pathname = `/${dbName}`;
const dataDir = await mkdtemp(path.join(tmpdir(), 'liveroom-soak-'));
const snapshotDir = await mkdtemp(path.join(tmpdir(), 'liveroom-soak-heap-'));
const rtmpPort = await freePort();
const server = await startServerProcess({
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  DATABASE_URL: dbUrl.toString(),
  DATA_DIR: dataDir,
  ...(SNAPSHOTS >= 2 ? { NODE_OPTIONS: heapSnapshotOptions(snapshotDir) } : {}),
  LOG_LEVEL: 'warn',
  RTMP_PORT: String(rtmpPort),
  MEDIA_HTTP_PORT: String(await freePort()),
  SIGNUP_BONUS: '10000000',
  RATE_LIMIT_IP_PER_MIN: '100000000',
  RATE_LIMIT_USER_PER_MIN: '100000000',
  REGISTER_PER_IP_PER_HOUR: '100000',
  MATCHMAKE_PER_IP_PER_MIN: '100000000',
  MATCHMAKE_PENDING_PER_IP: '100000',
  CHAT_RATE_POINTS: '1000',
  ROOM_SHARD_SIZE: String(VIEWERS + 100),
});
const stop = async () => {
  await server.stop('SIGTERM');
  await rm(dataDir, { recursive: true, force: true });
  await rm(snapshotDir, { recursive: true, force: true });
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.end();
};

try {
  const { http } = server;
  const streamer = await http.register('soak_streamer');
  const created = await http.request('POST', '/api/rooms', { token: streamer.token, json: { title: 'Soak' } });
  const roomId = created.body.room.id as string;
  const encoder = push(`rtmp://127.0.0.1:${rtmpPort}/live/${created.body.ingest.streamKey}`);
  const actors = await Promise.all(Array.from({ length: 10 }, (_, i) => http.register(`soak_actor${i}`)));
  const chatters = await Promise.all(actors.slice(0, 5).map((a) => new LiveroomClient({ baseUrl: server.url, token: a.token }).joinRoom(roomId)));

  const viewers: LiveRoomConnection[] = [];
  const join = async () => viewers.push(await new LiveroomClient({ baseUrl: server.url }).joinRoom(roomId));
  log(`joining ${VIEWERS} viewers`);
  for (let i = 0; i < VIEWERS; i += 50) await Promise.all(Array.from({ length: Math.min(50, VIEWERS - i) }, join));

  let running = true;
  let joins = 0;
  let leaves = 0;
  let chats = 0;
  let gifts = 0;
  let errors = 0;
  const churn = (async () => {
    while (running) {
      for (let i = 0; i < CHURN && viewers.length > 0; i++) {
        const v = viewers.splice(Math.floor(Math.random() * viewers.length), 1)[0]!;
        void v.leave().then(() => leaves++, () => errors++);
        void join().then(() => joins++, () => errors++);
      }
      await sleep(1000);
    }
  })();
  const chatting = (async () => {
    for (let n = 0; running; n++) {
      for (const c of chatters) c.chat(`soak ${n}`);
      chats += chatters.length;
      await sleep(1000);
    }
  })();
  const gifting = (async () => {
    for (let n = 0; running; n++) {
      await Promise.all(
        actors.slice(5).map(async (a) => {
          const r = await http.request('POST', `/api/rooms/${roomId}/gifts`, { token: a.token, json: { giftId: 'rose', count: 1 } });
          if (r.status === 201) gifts++;
          else errors++;
        }),
      );
      await sleep(1000);
    }
  })();

  const pid = server.child.pid!;
  const mediaPid = () => childrenOf(pid).find((c) => c.cmd.includes('media-process'))?.pid;
  const fds = (p: number | undefined) => {
    try {
      return p ? readdirSync(`/proc/${p}/fd`).length : NaN;
    } catch {
      return NaN;
    }
  };
  const samples: { t: number; rssMb: number; heapUsedMb: number; heapTotalMb: number; externalMb: number; mediaRssMb: number; fds: number; lagP99Ms: number; pgConns: number; online: number }[] = [];
  const t0 = Date.now();
  const end = t0 + MINUTES * 60_000;
  // snapshots from the end of the warm-up (a fifth of the run) to the end, evenly spaced
  const snapshotAt = SNAPSHOTS >= 2 ? Array.from({ length: SNAPSHOTS }, (_, i) => t0 + MINUTES * 60_000 * (0.2 + (0.8 * i) / (SNAPSHOTS - 1))) : [];
  const heaps: { t: number; file: string }[] = [];
  while (Date.now() < end) {
    await sleep(SAMPLE_SEC * 1000);
    if (snapshotAt.length > 0 && Date.now() >= snapshotAt[0]! - SAMPLE_SEC * 500) {
      snapshotAt.shift();
      const t = Math.round((Date.now() - t0) / 1000);
      heaps.push({ t, file: await takeHeapSnapshot(pid, snapshotDir) });
      log(`t=${t}s heap snapshot written`);
    }
    const metrics = String((await http.request('GET', '/metrics')).body);
    const gauge = (name: string) => Number(new RegExp(`^liveroom_${name} (\\S+)`, 'm').exec(metrics)?.[1] ?? NaN);
    const lag = gauge('nodejs_eventloop_lag_p99_seconds') * 1000;
    // where RSS goes: the V8 heap in use and reserved, and memory outside it (Buffers, ArrayBuffers)
    const memory = { heapUsedMb: gauge('nodejs_heap_size_used_bytes') / 2 ** 20, heapTotalMb: gauge('nodejs_heap_size_total_bytes') / 2 ** 20, externalMb: gauge('nodejs_external_memory_bytes') / 2 ** 20 };
    const conns = Number((await admin.query('select count(*)::int as n from pg_stat_activity where datname = $1', [dbName])).rows[0].n);
    const room = await http.request('GET', `/api/rooms/${roomId}`);
    const s = { t: Math.round((Date.now() - t0) / 1000), rssMb: rssBytes(pid) / 2 ** 20, ...memory, mediaRssMb: rssBytes(mediaPid() ?? 0) / 2 ** 20, fds: fds(pid), lagP99Ms: lag, pgConns: conns, online: room.body.room?.online ?? NaN };
    samples.push(s);
    log(`t=${s.t}s rss ${s.rssMb.toFixed(0)} MB (heap ${s.heapUsedMb.toFixed(0)}/${s.heapTotalMb.toFixed(0)}, external ${s.externalMb.toFixed(0)}) media ${s.mediaRssMb.toFixed(0)} MB fds ${s.fds} lag p99 ${s.lagP99Ms.toFixed(1)} ms pg ${s.pgConns} online ${s.online} (joins ${joins} leaves ${leaves} chats ${chats} gifts ${gifts} errors ${errors})`);
  }
  if (snapshotAt.length > 0) {
    const t = Math.round((Date.now() - t0) / 1000);
    heaps.push({ t, file: await takeHeapSnapshot(pid, snapshotDir) });
  }
  running = false;
  await Promise.all([churn, chatting, gifting]);
  encoder.kill();

  // Drift after warm-up (the first fifth is start-up: caches, JIT, pools filling): the mean of the
  // second half against the first, since memory moves in a sawtooth with garbage collection.
  const warm = samples.slice(Math.floor(samples.length / 5));
  const half = Math.floor(warm.length / 2);
  type Series = 'rssMb' | 'heapUsedMb' | 'heapTotalMb' | 'externalMb' | 'mediaRssMb' | 'fds' | 'pgConns';
  const mean = (xs: typeof warm, key: Series) => xs.reduce((n, s) => n + s[key], 0) / xs.length;
  const drift = (key: Series) => ((mean(warm.slice(half), key) - mean(warm.slice(0, half), key)) / mean(warm.slice(0, half), key)) * 100;
  process.stdout.write(`soak: ${VIEWERS} viewers, ${CHURN} leave and ${CHURN} join per second, 5 chatters and 5 gifters at 1/s, an RTMP stream, ${MINUTES} min\n`);
  process.stdout.write(`totals: ${joins} joins, ${leaves} leaves, ${chats} chat lines, ${gifts} gifts, ${errors} errors\n`);
  process.stdout.write('t (s) | server RSS MB | heap used / total MB | external MB | media RSS MB | fds | lag p99 ms | PG conns | online\n');
  for (const s of samples) process.stdout.write(`${s.t} | ${s.rssMb.toFixed(0)} | ${s.heapUsedMb.toFixed(0)} / ${s.heapTotalMb.toFixed(0)} | ${s.externalMb.toFixed(0)} | ${s.mediaRssMb.toFixed(0)} | ${s.fds} | ${s.lagP99Ms.toFixed(1)} | ${s.pgConns} | ${s.online}\n`);
  process.stdout.write(
    `after warm-up, second half against first (means): server RSS ${drift('rssMb').toFixed(1)}% (heap used ${drift('heapUsedMb').toFixed(1)}%, heap reserved ${drift('heapTotalMb').toFixed(1)}%, external ${drift('externalMb').toFixed(1)}%), media RSS ${drift('mediaRssMb').toFixed(1)}%, fds ${drift('fds').toFixed(1)}%, PG connections ${drift('pgConns').toFixed(1)}%; lag p99 max ${Math.max(...warm.map((s) => s.lagP99Ms)).toFixed(1)} ms\n`,
  );
  if (heaps.length >= 2) {
    const summaries: HeapSummary[] = [];
    for (const h of heaps) summaries.push(await summarizeHeapSnapshot(h.file));
    process.stdout.write(`live heap (after the GC a snapshot forces): ${heaps.map((h, i) => `t=${h.t}s ${(summaries[i]!.totalBytes / 2 ** 20).toFixed(1)} MB`).join(', ')}\n`);
    process.stdout.write(`grew most from t=${heaps[0]!.t}s to t=${heaps.at(-1)!.t}s (self size, count):\n`);
    for (const g of heapGrowth(summaries[0]!, summaries.at(-1)!)) process.stdout.write(`  ${(g.bytes / 1024).toFixed(0).padStart(8)} KB ${String(g.count).padStart(8)}  ${g.name}\n`);
  }
  await Promise.allSettled([...viewers, ...chatters].map((v) => v.leave()));
} finally {
  await stop();
}
