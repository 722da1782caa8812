// Viewers benchmark: N SDK clients join one live room (bounded join
// concurrency), a chat storm of M messages/s runs for T seconds, and every
// client measures send -> receipt latency of every chat line. The Liveroom
// server runs as its own process (rooms + http, PostgreSQL); the bots run in
// their own processes. Then the peer: a bare `ws` server broadcasting each
// message as its own frame to the same number of raw WebSocket clients.
// Reports join rate, p50/p99 latency, server CPU, RSS per client, bytes/s out
// (WebSocket payload bytes counted at the clients)
// and deliveries (message x recipient) per server CPU-second for both.
//
//   flock /tmp/liveroom-bench.lock node loadtest/viewers.ts --viewers 1000 --rate 50 --seconds 20
//   options: --viewers N --rate M --seconds T --bot-procs B (default ceil(N/2500)) --peer true|false
//            --join-timeout-sec S (bots report whatever joined by then, default 180)
//            --decode scan|full (bots scan patches for the storm's markers, or decode full state with callbacks)
//            --pin true (server on CPU 0, bots on the other CPUs) --database-url postgres://...
//            --shards S: S rooms processes on one Redis (--redis-url, default its database 15), the room
//            in shards of ceil((N+1)/S) clients, one per process; server CPU and RSS are summed over them
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Callbacks, Client } from '@colyseus/sdk';
import { Redis } from 'ioredis';
import pg from 'pg';
import WebSocket, { WebSocketServer } from 'ws';
import { arg, cpuSeconds, freePort, rssBytes } from './lib/proc.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const self = fileURLToPath(import.meta.url);

const log = (msg: string) => process.stderr.write(`[viewers-bench] ${msg}\n`);
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// --- latency histogram: 1 ms buckets up to 30 s
const BUCKETS = 30_000;
const newHist = () => new Uint32Array(BUCKETS + 1);
function record(h: Uint32Array, ms: number) {
  h[Math.min(BUCKETS, Math.max(0, Math.round(ms)))]!++;
}
function percentile(h: Uint32Array, p: number): number {
  let total = 0;
  for (const n of h) total += n;
  let seen = 0;
  for (let i = 0; i < h.length; i++) {
    seen += h[i]!;
    if (seen >= total * p) return i;
  }
  return BUCKETS;
}

// --- /proc readings
const byteLength = (d: unknown): number =>
  d instanceof ArrayBuffer ? d.byteLength : ArrayBuffer.isView(d) ? d.byteLength : typeof d === 'string' ? Buffer.byteLength(d) : (d as Blob)?.size ?? 0;


// ============================================================ bot process
// argv: --role bots --target liveroom|peer --url U --room R --count C --concurrency K
interface BotReport {
  joined: number;
  failed: number;
  joinMs: number;
  received: number;
  /** WebSocket payload bytes received by this process's clients since the last reset. */
  bytesIn: number;
  hist: number[];
  cpu: number;
}

async function botsMain() {
  const target = arg('target', 'liveroom');
  const url = arg('url', '');
  const roomId = arg('room', '');
  const count = Number(arg('count', '100'));
  const concurrency = Number(arg('concurrency', '50'));
  const hist = newHist();
  let received = 0;
  let bytesIn = 0;
  let joined = 0;
  let failed = 0;
  const closers: (() => unknown)[] = [];

  const decode = arg('decode', 'scan');
  const B = 'b'.charCodeAt(0);
  const COLON = ':'.charCodeAt(0);
  const scanMarkers = (buf: Uint8Array, from: number) => {
    for (let i = from; i < buf.length - 2; i++) {
      if (buf[i] !== B || buf[i + 1] !== COLON) continue;
      let j = i + 2;
      while (j < buf.length && ((buf[j]! >= 48 && buf[j]! <= 57) || buf[j] === 46)) j++;
      received++;
      record(hist, now() - Number(Buffer.from(buf.buffer, buf.byteOffset + i + 2, j - i - 2).toString('latin1')));
      i = j;
    }
  };
  const onText = (text: string) => {
    if (!text.startsWith('b:')) return;
    received++;
    record(hist, now() - Number(text.slice(2, text.indexOf(' ') > 0 ? text.indexOf(' ') : undefined)));
  };

  async function joinOne() {
    if (target === 'peer') {
      const ws = new WebSocket(url);
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      ws.on('message', (data) => {
        bytesIn += (data as Buffer).length;
        onText(data.toString());
      });
      closers.push(() => ws.terminate());
      return;
    }
    const client = new Client(url);
    const room = await client.joinOrCreate('live', { roomId });
    room.reconnection.enabled = false;
    if (decode === 'full') {
      const cb = Callbacks.get(room);
      cb.onAdd('chat' as never, ((line: { text: string }) => onText(line.text)) as never, false);
    } else {
      // Light bot: after the first full state, patches are scanned for the
      // storm's "b:<time>" markers instead of decoded (decoding thousands of
      // replicas would make the bot process the bottleneck).
      (room as unknown as { serializer: { patch(buf: Uint8Array, it: { offset: number }): void } }).serializer.patch = (buf, it) => scanMarkers(buf, it.offset);
    }
    const ws = (room.connection.transport as unknown as { ws: WebSocket }).ws;
    ws.on('message', (data) => (bytesIn += byteLength(data)));
    closers.push(() => room.connection.close());
  }

  const t0 = now();
  const deadline = t0 + Number(arg('join-timeout-sec', '180')) * 1000;
  let next = 0;
  const joins = Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count && now() < deadline) {
        next++;
        try {
          await joinOne();
          joined++;
        } catch {
          failed++;
        }
      }
    }),
  );
  // Report at the deadline with whatever joined: a stuck join must not stall the run.
  await Promise.race([joins, sleep(Math.max(0, deadline - now()))]);
  const joinMs = now() - t0;
  process.send!({ type: 'joined', joined, failed, joinMs });
  process.on('message', (m: { type: string }) => {
    if (m.type === 'reset') {
      hist.fill(0);
      received = 0;
      bytesIn = 0;
    } else if (m.type === 'report') {
      const sparse: number[] = [];
      for (let i = 0; i < hist.length; i++) if (hist[i]) sparse.push(i, hist[i]!);
      const report: BotReport = { joined, failed, joinMs, received, bytesIn, hist: sparse, cpu: cpuSeconds(process.pid) };
      process.send!({ type: 'report', report });
    } else if (m.type === 'stop') {
      for (const c of closers) c();
      setTimeout(() => process.exit(0), 200);
    }
  });
}

// ============================================================ peer server
// A bare ws server: every message from a sender is broadcast as its own frame.
function peerMain() {
  const server = http.createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  wss.on('connection', (ws, req) => {
    if (req.url === '/send') {
      ws.on('message', (data) => {
        const text = data.toString();
        for (const c of wss.clients) if (c.readyState === WebSocket.OPEN) c.send(text);
      });
    }
  });
  server.listen(0, '127.0.0.1', () => process.send!({ type: 'listening', port: (server.address() as net.AddressInfo).port }));
}

// ============================================================ orchestrator
/** Every process this run started: stopped however the run ends. */
const children = new Set<ChildProcess>();
function stopChildren() {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

async function api(base: string, method: string, p: string, body?: unknown, token?: string) {
  const res = await fetch(base + p, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

interface PhaseResult {
  system: string;
  viewers: number;
  joined: number;
  joinFailed: number;
  joinsPerSec: number;
  sent: number;
  expectedDeliveries: number;
  deliveries: number;
  p50Ms: number;
  p99Ms: number;
  serverCpuCores: number;
  serverRssPerClientKB: number;
  serverRssMB: number;
  /** WebSocket payload bytes/s the server sent, as counted by the clients. */
  outMBps: number;
  bytesPerDelivery: number;
  deliveriesPerCpuSec: number;
  botCpuCores: number;
  /** PUBLISH commands Redis ran per second during the storm (the shards' relay batches and everything else of the run). */
  redisPublishesPerSec?: number;
  redisCpuCores?: number;
}

/** Redis's own counters: PUBLISH calls and CPU seconds, to take deltas over a storm. */
async function redisCounters(redis: Redis): Promise<{ publishes: number; cpu: number }> {
  const stats = await redis.info('commandstats');
  const cpu = await redis.info('cpu');
  const num = (text: string, re: RegExp) => Number(text.match(re)?.[1] ?? 0);
  return {
    publishes: num(stats, /cmdstat_publish:calls=(\d+)/),
    cpu: num(cpu, /used_cpu_sys:([\d.]+)/) + num(cpu, /used_cpu_user:([\d.]+)/),
  };
}

async function startBots(opts: { target: 'liveroom' | 'peer'; url: string; roomId: string; viewers: number; procs: number; cpuList?: string }) {
  const bots: ChildProcess[] = [];
  const per = Math.ceil(opts.viewers / opts.procs);
  for (let i = 0; i < opts.procs; i++) {
    const count = Math.min(per, opts.viewers - i * per);
    if (count <= 0) break;
    const args = ['--role', 'bots', '--decode', arg('decode', 'scan'), '--join-timeout-sec', arg('join-timeout-sec', '180'), '--target', opts.target, '--url', opts.url, '--room', opts.roomId, '--count', String(count), '--concurrency', String(Math.ceil(50 / opts.procs))];
    // Without Node's built-in WebSocket the SDK uses the `ws` package: far less CPU per frame for the bots.
    const child = fork(self, args, { stdio: ['ignore', 'ignore', 'ignore', 'ipc'], execArgv: ['--no-experimental-websocket'] });
    children.add(child);
    if (opts.cpuList) spawn('taskset', ['-pc', opts.cpuList, String(child.pid)], { stdio: 'ignore' });
    bots.push(child);
  }
  const t0 = now();
  const joins = await Promise.all(
    bots.map((b) => new Promise<{ joined: number; failed: number }>((resolve) => b.once('message', (m: { joined: number; failed: number }) => resolve(m)))),
  );
  const joinSec = (now() - t0) / 1000;
  return {
    bots,
    joined: joins.reduce((a, j) => a + j.joined, 0),
    failed: joins.reduce((a, j) => a + j.failed, 0),
    joinSec,
  };
}

async function collect(bots: ChildProcess[]): Promise<BotReport[]> {
  return Promise.all(
    bots.map(
      (b) =>
        new Promise<BotReport>((resolve) => {
          b.once('message', (m: { report: BotReport }) => resolve(m.report));
          b.send({ type: 'report' });
        }),
    ),
  );
}

async function storm(opts: {
  system: string;
  serverPids: number[];
  bots: ChildProcess[];
  send: (text: string) => void;
  rate: number;
  seconds: number;
  viewers: number;
  joined: number;
  failed: number;
  joinSec: number;
  rssBefore: number;
  redis?: Redis;
}): Promise<PhaseResult> {
  for (const b of opts.bots) b.send({ type: 'reset' });
  const redis0 = opts.redis && (await redisCounters(opts.redis));
  const botCpu0 = opts.bots.reduce((a, b) => a + cpuSeconds(b.pid!), 0);
  const serverCpu = () => opts.serverPids.reduce((a, pid) => a + cpuSeconds(pid), 0);
  const cpu0 = serverCpu();
  const t0 = now();
  let sent = 0;
  const total = Math.round(opts.rate * opts.seconds);
  // Evenly spaced sends, catching up if the timer runs late.
  while (sent < total) {
    const due = Math.floor(((now() - t0) / 1000) * opts.rate) + 1;
    while (sent < Math.min(due, total)) {
      opts.send(`b:${now()} chat line number ${sent} of the storm`);
      sent++;
    }
    await sleep(5);
  }
  await sleep(2000); // drain
  const elapsed = (now() - t0) / 1000;
  const cpu = serverCpu() - cpu0;
  const redis1 = opts.redis && (await redisCounters(opts.redis));
  const rss = opts.serverPids.reduce((a, pid) => a + rssBytes(pid), 0);
  const reports = await collect(opts.bots);
  const botCpu = reports.reduce((a, r) => a + r.cpu, 0) - botCpu0;
  const hist = newHist();
  for (const r of reports) for (let i = 0; i < r.hist.length; i += 2) hist[r.hist[i]!]! += r.hist[i + 1]!;
  const deliveries = reports.reduce((a, r) => a + r.received, 0);
  const bytesIn = reports.reduce((a, r) => a + r.bytesIn, 0);
  return {
    system: opts.system,
    viewers: opts.viewers,
    joined: opts.joined,
    joinFailed: opts.failed,
    joinsPerSec: Math.round(opts.joined / opts.joinSec),
    sent,
    expectedDeliveries: sent * opts.joined,
    deliveries,
    p50Ms: percentile(hist, 0.5),
    p99Ms: percentile(hist, 0.99),
    serverCpuCores: +(cpu / elapsed).toFixed(3),
    serverRssPerClientKB: Math.round((rss - opts.rssBefore) / 1024 / Math.max(1, opts.joined)),
    serverRssMB: Math.round(rss / 1024 / 1024),
    outMBps: +(bytesIn / elapsed / 1024 / 1024).toFixed(2),
    bytesPerDelivery: Math.round(bytesIn / Math.max(1, deliveries)),
    // chat lines received by the bots, per server CPU-second
    deliveriesPerCpuSec: Math.round(deliveries / Math.max(cpu, 0.01)),
    botCpuCores: +(botCpu / elapsed).toFixed(3),
    ...(redis0 && redis1
      ? { redisPublishesPerSec: Math.round((redis1.publishes - redis0.publishes) / elapsed), redisCpuCores: +((redis1.cpu - redis0.cpu) / elapsed).toFixed(3) }
      : {}),
  };
}

async function liveroomPhase(o: { viewers: number; rate: number; seconds: number; procs: number; dbUrl: string; pin: boolean; shards: number; redisUrl: string }): Promise<PhaseResult> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'liveroom-viewers-'));
  const tag = randomBytes(3).toString('hex');
  const servers: { child: ChildProcess; base: string }[] = [];
  const startServer = async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [path.join(root, 'src/main.ts')], {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        PORT: String(port),
        HOST: '127.0.0.1',
        ROLES: 'http,rooms',
        DATABASE_URL: o.dbUrl,
        DATA_DIR: dataDir,
        LOG_LEVEL: 'warn',
        JWT_SECRET: 'viewers-bench-secret-viewers-bench-secret',
        CHAT_RATE_POINTS: '100000',
        ROOM_MAX_MESSAGES_PER_SEC: '100000', // the storm comes from one connection
        RATE_LIMIT_IP_PER_MIN: '10000000',
        // every bot joins from 127.0.0.1
        MATCHMAKE_PER_IP_PER_MIN: '10000000',
        MATCHMAKE_PENDING_PER_IP: '100000',
        REGISTER_PER_IP_PER_HOUR: '100000',
        SHED_TARGET_DELAY_MS: '100000',
        // one shard per process: the sender and the viewers fill them in turn
        ROOM_SHARD_SIZE: String(o.shards > 1 ? Math.ceil((o.viewers + 1) / o.shards) : o.viewers + 100),
        ...(o.shards > 1 ? { REDIS_URL: o.redisUrl, REDIS_PREFIX: `lr:bench:${tag}:`, JOBS_QUEUE_PREFIX: `lrbench-${tag}` } : {}),
        ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('ROOM_') || k.startsWith('CHAT_'))),
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    // registered in `children`, so an aborted run stops it
    children.add(child);
    if (o.pin) spawn('taskset', ['-pc', '0', String(child.pid)], { stdio: 'ignore' });
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      const ok = await fetch(`${base}/healthz`).then((r) => r.ok, () => false);
      if (ok) break;
      if (i > 600) throw new Error('server did not start');
      await sleep(100);
    }
    servers.push({ child, base });
  };
  const redis = o.shards > 1 ? new Redis(o.redisUrl) : undefined;
  try {
    // the first process migrates the database; the others start beside each other
    await startServer();
    await Promise.all(Array.from({ length: o.shards - 1 }, startServer));
    const base = servers[0]!.base;
    const pids = servers.map((x) => x.child.pid!);
    const password = 'viewers bench passphrase';
    const name = `bench_${randomBytes(3).toString('hex')}`;
    await api(base, 'POST', '/api/auth/register', { username: name, password });
    const login = await api(base, 'POST', '/api/auth/login', { username: name, password });
    const token = login.body.token as string;
    const created = await api(base, 'POST', '/api/rooms', { title: 'Viewers bench' }, token);
    if (created.status !== 201) throw new Error(`room create failed: ${created.status} ${JSON.stringify(created.body)}`);
    const roomId = created.body.room.id as string;

    // the streamer sends the storm (no slow mode or followers-only for the owner)
    const sender = await new Client(base).joinOrCreate('live', { roomId, token });
    sender.reconnection.enabled = false;
    sender.onMessage('error', (e: { code: string }) => log(`chat refused: ${e.code}`));
    await sleep(500);
    const rssBefore = pids.reduce((a, pid) => a + rssBytes(pid), 0);
    log(`liveroom: ${o.viewers} viewers joining in ${o.procs} bot process(es)${o.shards > 1 ? `, the room in ${o.shards} shards over ${o.shards} processes` : ''}`);
    const b = await startBots({ target: 'liveroom', url: base, roomId, viewers: o.viewers, procs: o.procs, cpuList: o.pin ? `1-${cpus().length - 1}` : undefined });
    log(`liveroom: ${b.joined} joined (${b.failed} failed) in ${b.joinSec.toFixed(1)} s; chat storm ${o.rate}/s for ${o.seconds} s`);
    if (o.shards > 1) {
      const held = await Promise.all(servers.map(async (x) => (await (await fetch(`${x.base}/metrics`)).text()).match(/^liveroom_rooms_clients (\d+)/m)?.[1]));
      log(`liveroom: clients per process ${held.join(', ')}`);
    }
    await sleep(1000);
    const r = await storm({
      system: o.shards > 1 ? `liveroom, ${o.shards} shards` : 'liveroom (Colyseus)',
      serverPids: pids,
      bots: b.bots,
      send: (text) => sender.send('chat', { text }),
      rate: o.rate,
      seconds: o.seconds,
      viewers: o.viewers,
      joined: b.joined,
      failed: b.failed,
      joinSec: b.joinSec,
      rssBefore,
      redis,
    });
    for (const bot of b.bots) bot.send({ type: 'stop' });
    sender.connection.close();
    return r;
  } finally {
    redis?.disconnect();
    await Promise.all(
      servers.map(({ child }) => {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        return gone;
      }),
    );
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function peerPhase(o: { viewers: number; rate: number; seconds: number; procs: number; pin: boolean }): Promise<PhaseResult> {
  const server = fork(self, ['--role', 'peer'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  children.add(server);
  if (o.pin) spawn('taskset', ['-pc', '0', String(server.pid)], { stdio: 'ignore' });
  try {
    const port = await new Promise<number>((resolve) => server.once('message', (m: { port: number }) => resolve(m.port)));
    const base = `ws://127.0.0.1:${port}`;
    const sender = new WebSocket(`${base}/send`);
    await new Promise((r) => sender.once('open', r));
    await sleep(300);
    const rssBefore = rssBytes(server.pid!);
    log(`peer: ${o.viewers} viewers joining`);
    const b = await startBots({ target: 'peer', url: `${base}/watch`, roomId: '', viewers: o.viewers, procs: o.procs, cpuList: o.pin ? `1-${cpus().length - 1}` : undefined });
    log(`peer: ${b.joined} joined in ${b.joinSec.toFixed(1)} s; storm`);
    await sleep(1000);
    const r = await storm({
      system: 'bare ws, one frame per message',
      serverPids: [server.pid!],
      bots: b.bots,
      send: (text) => sender.send(text),
      rate: o.rate,
      seconds: o.seconds,
      viewers: o.viewers,
      joined: b.joined,
      failed: b.failed,
      joinSec: b.joinSec,
      rssBefore,
    });
    for (const bot of b.bots) bot.send({ type: 'stop' });
    sender.terminate();
    return r;
  } finally {
    server.kill('SIGTERM');
  }
}

async function main() {
  const viewers = Number(arg('viewers', '1000'));
  const rate = Number(arg('rate', '50'));
  const seconds = Number(arg('seconds', '20'));
  const procs = Number(arg('bot-procs', String(Math.max(1, Math.ceil(viewers / 2500)))));
  const withPeer = arg('peer', 'true') === 'true';
  const pin = arg('pin', 'false') === 'true';
  const shards = Number(arg('shards', '1'));
  const redisUrl = arg('redis-url', 'redis://127.0.0.1:6379/15');
  const serverUrl = arg('database-url', process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
  const dbName = `lr_bench_viewers_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const dbUrl = new URL(serverUrl);
  dbUrl.pathname = `/${dbName}`;
  const load0 = loadavg();
  const results: PhaseResult[] = [];
  try {
    // with --shards, one process first and then the shards, same viewers and chat rate
    results.push(await liveroomPhase({ viewers, rate, seconds, procs, dbUrl: dbUrl.toString(), pin, shards: 1, redisUrl }));
    if (shards > 1) {
      await sleep(1000);
      results.push(await liveroomPhase({ viewers, rate, seconds, procs, dbUrl: dbUrl.toString(), pin: false, shards, redisUrl }));
    }
    if (withPeer) {
      await sleep(1000);
      results.push(await peerPhase({ viewers, rate, seconds, procs, pin }));
    }
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }
  const sharded = shards > 1 ? results[1] : undefined;
  const peer = withPeer ? results[results.length - 1] : undefined;
  const out = {
    viewers,
    rate,
    seconds,
    botProcs: procs,
    shards,
    cpus: cpus().length,
    loadavgBefore: load0.map((l) => +l.toFixed(2)),
    loadavgAfter: loadavg().map((l) => +l.toFixed(2)),
    patch: { ROOM_PATCH_MS: process.env.ROOM_PATCH_MS ?? 'default', ROOM_PATCH_MS_PER_1K: process.env.ROOM_PATCH_MS_PER_1K ?? 'default' },
    results,
    liveroomVsPeerDeliveriesPerCpuSec: peer ? +(results[0]!.deliveriesPerCpuSec / peer.deliveriesPerCpuSec).toFixed(2) : null,
    // CPU per delivery of the sharded room over one process's (the goal is at most 1.2)
    shardedVsOneProcessCpuPerDelivery: sharded ? +(results[0]!.deliveriesPerCpuSec / sharded.deliveriesPerCpuSec).toFixed(2) : null,
  };
  console.table(results.map((r) => ({ ...r })));
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  process.exit(0);
}

const role = arg('role', 'main');
if (role === 'bots') await botsMain();
else if (role === 'peer') peerMain();
else {
  process.on('exit', stopChildren);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(1));
  await main().catch((e) => {
    log(`failed: ${(e as Error).stack ?? e}`);
    process.exit(1);
  });
}
