// The cluster behind its front door, as an operator runs it from deploy/: two
// http processes, two rooms processes, two media nodes and one jobs process on
// one PostgreSQL and Redis, and nginx with deploy/nginx.conf in front. Clients
// use the front door only (REST, matchmaking, the rooms' WebSockets, FLV and
// HLS); the streamer pushes RTMP to media node A. Every process is stopped at
// the end, by pid.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { LiveroomClient, type LiveRoomConnection } from '../src/client/index.ts';
import { httpClient, uniqueName, type HttpClient } from './helpers/app.ts';
import { auditCount, clusterEnv, clusterStore, gauge, type ClusterStore } from './helpers/cluster.ts';
import { postgresAvailable } from './helpers/db.ts';
import { firstCodedVideo, isKeyframe, readFlv, readWsFlv, type FlvViewer } from './helpers/flv.ts';
import { redisAvailable } from './helpers/jobs.ts';
import { next, texts, until } from './helpers/live.ts';
import { codecNames, push, type Push } from './helpers/media.ts';
import { freePort, killOnExit, ROOT, startServerProcess, type ServerProcess } from './helpers/server-process.ts';
import { eventually } from './helpers/wait.ts';

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));
const ready = (await postgresAvailable()) && (await redisAvailable());
// npm test installs nginx (scripts/pretest.ts); under CI a missing one is a failure, never a skip
if (!NGINX && process.env.CI === 'true') throw new Error('nginx is not installed: apt-get install -y nginx');

describe('a cluster behind nginx (2 http, 2 rooms, 2 media, 1 jobs)', { skip: (!ready && 'needs PostgreSQL and Redis') || (!NGINX && 'needs nginx (npm test installs it)') }, () => {
  let store: ClusterStore;
  const dirs: string[] = [];
  const procs: ServerProcess[] = [];
  let nginx: ChildProcess | undefined;
  let front: string;
  let http: HttpClient;
  const pushes: Push[] = [];
  const players: FlvViewer[] = [];
  const conns: LiveRoomConnection[] = [];
  let mediaA: ServerProcess;
  let mediaB: ServerProcess;
  let rooms: Record<'r1' | 'r2', ServerProcess>;
  let envB: Record<string, string | undefined>;

  before(async () => {
    store = await clusterStore('cluster', 10 + (process.pid % 3));
    const shared = await mkdtemp(path.join(tmpdir(), 'liveroom-cluster-'));
    const ownB = await mkdtemp(path.join(tmpdir(), 'liveroom-cluster-b-'));
    const prefix = await mkdtemp(path.join(tmpdir(), 'liveroom-nginx-'));
    dirs.push(shared, ownB, prefix);
    const frontPort = await freePort();
    front = `http://127.0.0.1:${frontPort}`;
    http = httpClient(front);
    const [rtmpA, rtmpB, mediaPortA, mediaPortB] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const common = {
      PUBLIC_URL: front,
      MEDIA_PUBLIC_URL: front,
      TRUST_PROXY: 'loopback',
      MEDIA_HEARTBEAT_SEC: '1',
      MEDIA_EDGE_IDLE_SEC: '1',
      MEDIA_RESUME_GRACE_SEC: '3',
      RANKINGS_DEBOUNCE_MS: '200',
    };
    const env = (roles: string, extra: Record<string, string> = {}, node = { dataDir: shared, rtmpPort: rtmpA, mediaHttpPort: mediaPortA }) =>
      clusterEnv(store, { roles, ...node }, { ...common, ...extra });

    // the jobs process first: it migrates the database
    procs.push(await startServerProcess(env('jobs'), { readyPath: '/readyz' }));
    // the others side by side; each rooms process is reached through the front door at /rooms/<name>
    const started = await Promise.all([
      startServerProcess(env('http'), { readyPath: '/readyz' }),
      startServerProcess(env('http'), { readyPath: '/readyz' }),
      // small shards, so the hot-room test spreads one room over both rooms processes with a few clients
      startServerProcess(env('rooms', { ROOMS_PUBLIC_ADDRESS: `127.0.0.1:${frontPort}/rooms/r1`, ROOM_SHARD_SIZE: '3' }), { readyPath: '/readyz' }),
      startServerProcess(env('rooms', { ROOMS_PUBLIC_ADDRESS: `127.0.0.1:${frontPort}/rooms/r2`, ROOM_SHARD_SIZE: '3' }), { readyPath: '/readyz' }),
      startServerProcess(env('media'), { readyPath: '/readyz' }),
      startServerProcess((envB = env('media', {}, { dataDir: ownB, rtmpPort: rtmpB, mediaHttpPort: mediaPortB })), { readyPath: '/readyz' }),
    ]);
    procs.push(...started);
    const [http1, http2, r1, r2, a, b] = started;
    rooms = { r1: r1!, r2: r2! };
    mediaA = a!;
    mediaB = b!;

    // nginx with the shipped deploy/nginx.conf; where the processes are is this test's cluster.conf
    const hostOf = (p: ServerProcess) => new URL(p.url).host;
    await copyFile(path.join(ROOT, 'deploy/nginx.conf'), path.join(prefix, 'nginx.conf'));
    await mkdir(path.join(prefix, 'tmp'));
    await mkdir(path.join(prefix, 'logs'));
    await writeFile(path.join(prefix, 'listen.conf'), `listen 127.0.0.1:${frontPort};\n`);
    await writeFile(
      path.join(prefix, 'cluster.conf'),
      `upstream liveroom_http { least_conn; server ${hostOf(http1!)}; server ${hostOf(http2!)}; keepalive 16; }
upstream liveroom_rooms { server ${hostOf(r1!)}; server ${hostOf(r2!)}; }
upstream liveroom_media { least_conn; server 127.0.0.1:${mediaPortA} max_fails=1 fail_timeout=30s; server 127.0.0.1:${mediaPortB} max_fails=1 fail_timeout=30s; }
map $rooms_node $rooms_backend { default ""; r1 ${hostOf(r1!)}; r2 ${hostOf(r2!)}; }
`,
    );
    // as root nginx's workers would run as nobody, who cannot write this test's temp directory
    const asRoot = process.getuid?.() === 0 ? ' user root;' : '';
    nginx = killOnExit(spawn(NGINX!, ['-p', prefix, '-e', 'stderr', '-c', 'nginx.conf', '-g', `daemon off;${asRoot}`], { stdio: ['ignore', 'ignore', 'pipe'] }));
    let nginxErr = '';
    nginx.stderr!.on('data', (d) => (nginxErr += d));
    await eventually(async () => {
      if (nginx!.exitCode !== null) throw new Error(`nginx exited: ${nginxErr}`);
      return (await http.request('GET', '/healthz').catch(() => ({ status: 0 }))).status === 200;
    }, 'the front door answers');
  });

  after(async () => {
    for (const v of players) v.close();
    for (const p of pushes) p.child.kill('SIGKILL');
    await Promise.allSettled(conns.map((c) => c.leave()));
    if (nginx && nginx.exitCode === null) {
      const gone = new Promise((r) => nginx!.once('exit', r));
      nginx.kill('SIGTERM');
      await gone;
    }
    await Promise.all(procs.map((p) => p.stop('SIGTERM')));
    await store?.drop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  test('through the front door: REST, rooms on both rooms processes with chat and gifts, FLV and HLS from both media nodes (one an edge), viewers summed; an edge dies and its viewers come back; the origin dies and the room is interrupted, then ended', async () => {
    const streamer = await http.register(uniqueName('cs'));
    const created = await http.request('POST', '/api/rooms', { token: streamer.token, json: { title: 'Cluster' } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const roomId = created.body.room.id as string;

    // SDK clients through the front door; rooms are spread over both rooms processes
    const fan = await http.register(uniqueName('cf'));
    const other = await http.register(uniqueName('co'));
    const viewer = await new LiveroomClient({ baseUrl: front, token: fan.token }).joinRoom(roomId);
    const viewer2 = await new LiveroomClient({ baseUrl: front, token: other.token }).joinRoom(roomId);
    conns.push(viewer, viewer2);
    const held = async () => Promise.all([rooms.r1, rooms.r2].map(async (p) => gauge((await p.http.request('GET', '/metrics')).body, 'liveroom_rooms_held') ?? 0));
    // more rooms (each with a client) until both processes hold one: Colyseus creates a room on the process with fewest
    for (let i = 0; i < 6 && (await held()).includes(0); i++) {
      const s = await http.register(uniqueName('cx'));
      const made = await http.request('POST', '/api/rooms', { token: s.token, json: { title: `Cluster ${i}` } });
      conns.push(await new LiveroomClient({ baseUrl: front, token: s.token }).joinRoom(made.body.room.id));
    }
    assert.ok((await held()).every((n) => n > 0), `both rooms processes hold rooms: ${await held()}`);

    // chat and a REST gift reach both viewers (whichever http process took the request)
    const heard = until(viewer2, () => texts(viewer2).includes('hello from the front door'), 'chat between viewers');
    viewer.chat('hello from the front door');
    await heard;
    const gift = await http.request('POST', `/api/rooms/${roomId}/gifts`, { token: fan.token, json: { giftId: 'rose', count: 1 } });
    assert.equal(gift.status, 201, JSON.stringify(gift.body));
    await until(viewer2, () => viewer2.state.gifts.some((g) => g.userId === fan.id), 'the gift in the feed');

    // RTMP straight to media node A: live in the room and over REST
    pushes.push(push(created.body.ingest.rtmpUrl));
    await until(viewer, () => viewer.state.status === 'live', 'live in the room', 30_000);
    const room = (await http.request('GET', `/api/rooms/${roomId}`)).body.room;
    assert.equal(room.playback.flv, `${front}/live/${roomId}.flv`);

    // an HTTP-FLV and a WS-FLV player through the front door: least_conn puts one on each node, so B relays the room as an edge
    for (let i = 0; i < 2; i++) {
      const player = i === 0 ? readFlv(room.playback.flv) : readWsFlv(room.playback.wsFlv);
      players.push(player);
      const t0 = Date.now();
      const first = await eventually(() => firstCodedVideo(player.tags), 'a video frame', 20_000);
      assert.ok(isKeyframe(first), 'a new player starts on a keyframe');
      process.stdout.write(`# player ${i + 1}: first keyframe after ${Date.now() - t0} ms\n`);
    }
    await eventually(async () => gauge((await mediaB.http.request('GET', '/metrics')).body, 'liveroom_media_edge_rooms') === 1, 'B relays the room');
    await eventually(async () => gauge((await mediaA.http.request('GET', '/metrics')).body, 'liveroom_media_edge_pulls') === 1, 'A serves one edge pull');
    assert.deepEqual(await codecNames(room.playback.flv), ['h264', 'aac']);
    await eventually(async () => (await fetch(room.playback.hls)).status === 200, 'HLS through the front door', 30_000);
    assert.deepEqual(await codecNames(room.playback.hls), ['h264', 'aac']);
    // both nodes' players are counted (HTTP-FLV and WS-FLV, and the HLS requests)
    await eventually(async () => (await http.request('GET', `/api/rooms/${roomId}`)).body.room.viewers >= 2, 'viewers over both nodes');
    // the preview made by A is served through the front door by an http process
    await eventually(async () => (await fetch(`${front}/previews/${roomId}.jpg`)).status === 200, 'the preview', 30_000);

    // SIGKILL of B: its player's stream ends; a player that reconnects through the front door plays again (from A)
    await mediaB.stop('SIGKILL');
    await Promise.race(players.map((p) => p.done.catch(() => {})));
    const again = readFlv(room.playback.flv);
    players.push(again);
    assert.ok(isKeyframe(await eventually(() => firstCodedVideo(again.tags), 'playing again after B died', 20_000)));
    const status = (await http.request('GET', `/api/rooms/${roomId}`)).body.room;
    assert.equal(status.status, 'live');
    assert.equal(status.interrupted, false);

    // B again, then SIGKILL of the origin A: B notices, the room is interrupted, then ended after the grace period
    mediaB = await startServerProcess(envB, { readyPath: '/readyz' });
    procs.push(mediaB);
    await mediaA.stop('SIGKILL');
    const db = new pg.Client({ connectionString: store.dbUrl });
    await db.connect();
    try {
      const row = async () => (await db.query('select status, interrupted from rooms where id = $1', [roomId])).rows[0];
      await eventually(async () => (await row()).interrupted === true, 'interrupted once the origin is gone', 30_000);
      await eventually(async () => (await row()).status === 'ended', 'ended after the grace period', 30_000);
    } finally {
      await db.end();
    }
    await until(viewer, () => viewer.state.status === 'ended', 'ended in the room', 30_000);
  });

  test('one hot room over both rooms processes (shards of 3): one chat in one order, the summed online count, gifts, a lottery drawn once, and moderation across shards', async () => {
    const streamer = await http.register(uniqueName('hs'));
    const created = await http.request('POST', '/api/rooms', { token: streamer.token, json: { title: 'Hot room' } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const roomId = created.body.room.id as string;
    const load = async () =>
      Promise.all(
        [rooms.r1, rooms.r2].map(async (p) => {
          const metrics = (await p.http.request('GET', '/metrics')).body;
          return { held: gauge(metrics, 'liveroom_rooms_held') ?? 0, clients: gauge(metrics, 'liveroom_rooms_clients') ?? 0 };
        }),
      );
    const start = await load();

    // the owner and 7 fans, one after another: three shards (3, 3, 2), placed on the process holding fewest of them
    const owner = await new LiveroomClient({ baseUrl: front, token: streamer.token }).joinRoom(roomId);
    conns.push(owner);
    const fans: { id: string; token: string; conn: LiveRoomConnection }[] = [];
    for (let i = 0; i < 7; i++) {
      const u = await http.register(uniqueName('hf'));
      const conn = await new LiveroomClient({ baseUrl: front, token: u.token }).joinRoom(roomId);
      conns.push(conn);
      fans.push({ id: u.id, token: u.token, conn });
    }
    const all = [owner, ...fans.map((f) => f.conn)];
    const now = await load();
    const shards = now.map((p, i) => p.held - start[i]!.held);
    assert.deepEqual([...shards].sort(), [1, 2], `the room's three shards over both processes: ${shards}`);
    const clients = now.map((p, i) => p.clients - start[i]!.clients);
    assert.ok(clients.every((n) => n > 0) && clients[0]! + clients[1]! === 8, `the clients over both processes: ${clients}`);
    for (const c of all) assert.equal(c.roomId, roomId, 'every shard shows the live room');
    await Promise.all(all.map((c) => until(c, () => c.state.online === 8, 'online summed over the shards', 20_000)));

    // two lines sent at once on different processes' shards: every client sees both, in the same order
    const pair = ['from the first shard', 'from the last shard'];
    const both = all.map((c) => until(c, () => pair.every((t) => texts(c).includes(t)), 'both lines'));
    owner.chat(pair[0]!);
    fans[6]!.conn.chat(pair[1]!);
    await Promise.all(both);
    const orders = all.map((c) => texts(c).filter((t) => pair.includes(t)));
    for (const o of orders) assert.deepEqual(o, orders[0], 'one order on every shard');

    // a REST gift is in every shard's feed
    const gift = await http.request('POST', `/api/rooms/${roomId}/gifts`, { token: fans[6]!.token, json: { giftId: 'rose', count: 1 } });
    assert.equal(gift.status, 201, JSON.stringify(gift.body));
    await Promise.all(all.map((c) => until(c, () => c.state.gifts.some((g) => g.userId === fans[6]!.id), 'the gift on every shard')));

    // a danmaku lottery: fans on shards of both processes enter by chat; the jobs process draws it once and every shard announces it
    const lottery = await http.request('POST', `/api/rooms/${roomId}/lotteries`, {
      token: streamer.token,
      json: { prize: 'A signed poster', winners: 2, method: 'danmaku', keyword: 'lucky me', durationSec: 5 },
    });
    assert.equal(lottery.status, 201, JSON.stringify(lottery.body));
    const lotteryId = lottery.body.lottery.id as string;
    const results = all.map((c) => next(c, 'lottery:result', (r) => r.lotteryId === lotteryId, 60_000));
    await Promise.all(all.map((c) => until(c, () => c.state.lottery.id === lotteryId, 'the lottery on every shard')));
    fans[0]!.conn.chat('lucky me');
    fans[3]!.conn.chat('lucky me');
    const drawn = await Promise.all(results);
    for (const r of drawn) assert.deepEqual(r.winners.map((w) => w.id).sort(), [fans[0]!.id, fans[3]!.id].sort());
    assert.equal(await auditCount(store, 'lottery.draw', lotteryId), 1, 'drawn exactly once');

    // the owner (first shard) mutes a fan of the second shard, on the other process: their next line is refused there
    const muted = fans[3]!.conn;
    const told = next(muted, 'system');
    owner.mute(fans[3]!.id, 60);
    await told;
    const refused = next(muted, 'error');
    muted.chat('can anyone hear me');
    assert.equal((await refused).code, 'muted');

    // and bans another: that fan's connection is closed as banned, a new join is refused, and everyone counts 7
    const banned = fans[4]!.conn;
    const closed = new Promise<number>((resolve) => banned.onLeave((code) => resolve(code)));
    owner.ban(fans[4]!.id);
    assert.equal(await closed, 4403);
    await assert.rejects(new LiveroomClient({ baseUrl: front, token: fans[4]!.token }).joinRoom(roomId), (e: unknown) => (e as { code?: string }).code === 'banned');
    const stayed = all.filter((c) => c !== banned);
    await Promise.all(stayed.map((c) => until(c, () => c.state.online === 7, 'online after the ban', 20_000)));
  });
});
