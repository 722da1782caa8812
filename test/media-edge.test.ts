// Media on two nodes, as a cluster runs it: node A (every role) takes the RTMP
// push and is the stream's origin; node B (media only) holds no publisher and
// serves the room as an edge, pulling it from A once whatever its viewer count
// and stopping after its last viewer left. Both announce themselves in Redis;
// viewers are counted over both; a dead edge costs the room nothing, a dead
// origin interrupts it (noticed by the node that is left) and then ends it.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';
import { uniqueName } from './helpers/app.ts';
import { chromiumAvailable, launchBrowser } from './helpers/browser.ts';
import { clusterEnv, clusterStore, gauge, type ClusterStore } from './helpers/cluster.ts';
import { inCI, postgresAvailable } from './helpers/db.ts';
import { firstCodedVideo, isKeyframe, readFlv, type FlvViewer } from './helpers/flv.ts';
import { redisAvailable } from './helpers/jobs.ts';
import { codecNames, push, type Push } from './helpers/media.ts';
import { freePort, startServerProcess, type ServerProcess } from './helpers/server-process.ts';
import { eventually } from './helpers/wait.ts';
import { playFromPage } from './helpers/whep-page.ts';

const ready = (await postgresAvailable()) && (await redisAvailable());
// npm test installs Chromium; under CI a missing one is a failure, never a skip
if (inCI && !chromiumAvailable()) throw new Error('Chromium is required under CI (npm test installs it)');

describe('media origin and edge on two nodes', { skip: !ready && 'needs PostgreSQL and Redis' }, () => {
  let store: ClusterStore;
  const dirs: string[] = [];
  const procs: ServerProcess[] = [];
  const pushes: Push[] = [];
  const viewers: FlvViewer[] = [];
  let redis: Redis;
  let a: ServerProcess;
  let b: ServerProcess;
  let mediaA: string;
  let mediaB: string;
  let envB: Record<string, string | undefined>;

  const nodeEnv = async (roles: string) => {
    // each node its own disk, as on separate machines
    const dataDir = await mkdtemp(path.join(tmpdir(), 'liveroom-edge-'));
    dirs.push(dataDir);
    const mediaHttpPort = await freePort();
    const env = clusterEnv(store, { roles, dataDir, rtmpPort: await freePort(), mediaHttpPort }, { MEDIA_HEARTBEAT_SEC: '1', MEDIA_EDGE_IDLE_SEC: '1', MEDIA_RESUME_GRACE_SEC: '3', WHEP_IDLE_STOP_SEC: '1' });
    return { env, mediaUrl: `http://127.0.0.1:${mediaHttpPort}` };
  };
  const nodesInRegistry = async () => {
    const ids = await redis.smembers(`${store.prefix}media:nodes`);
    const raws = ids.length ? await redis.mget(ids.map((id) => `${store.prefix}media:node:${id}`)) : [];
    return raws.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as { id: string; nodeUrl: string; liveRooms: string[]; edgeRooms: string[] });
  };
  const roomRow = async (roomId: string) => {
    const db = new pg.Client({ connectionString: store.dbUrl });
    await db.connect();
    try {
      return (await db.query('select status, interrupted, viewers, origin_node from rooms where id = $1', [roomId])).rows[0];
    } finally {
      await db.end();
    }
  };
  const metrics = async (p: ServerProcess) => (await p.http.request('GET', '/metrics')).body as string;

  before(async () => {
    store = await clusterStore('edge', 7 + (process.pid % 3));
    redis = new Redis(store.redisUrl);
    const nodeA = await nodeEnv('http,rooms,media,jobs');
    mediaA = nodeA.mediaUrl;
    a = await startServerProcess(nodeA.env, { readyPath: '/readyz' });
    procs.push(a);
    const nodeB = await nodeEnv('media');
    mediaB = nodeB.mediaUrl;
    envB = nodeB.env;
    b = await startServerProcess(envB, { readyPath: '/readyz' });
    procs.push(b);
  });

  after(async () => {
    for (const v of viewers) v.close();
    for (const p of pushes) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.stop('SIGTERM')));
    await redis?.quit();
    await store?.drop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  test('a push to A plays from B as an edge: one pull for every viewer, counted over both nodes, stopped when idle; losing B costs nothing, losing A interrupts then ends the room', async () => {
    const streamer = await a.http.register(uniqueName('edge'));
    const created = await a.http.request('POST', '/api/rooms', { token: streamer.token, json: { title: 'Edge' } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const roomId = created.body.room.id as string;
    pushes.push(push(created.body.ingest.rtmpUrl));
    await eventually(async () => (await a.http.request('GET', `/api/rooms/${roomId}`)).body.room?.status === 'live', 'live', 30_000);

    // both nodes are announced; A is the room's origin
    const registry = await eventually(async () => {
      const nodes = await nodesInRegistry();
      return nodes.length === 2 && nodes.some((n) => n.liveRooms.includes(roomId)) ? nodes : undefined;
    }, 'both nodes in the registry, A holding the room');
    const origin = registry.find((n) => n.liveRooms.includes(roomId))!;
    assert.equal(origin.nodeUrl, mediaA);
    assert.equal((await roomRow(roomId)).origin_node, origin.id);

    // three FLV viewers on B (which has no publisher): each starts on a keyframe
    for (let i = 0; i < 3; i++) viewers.push(readFlv(`${mediaB}/live/${roomId}.flv`));
    for (const v of viewers) {
      assert.equal(await v.status, 200);
      const first = await eventually(() => firstCodedVideo(v.tags), 'a video frame on the edge', 20_000);
      assert.ok(isKeyframe(first), 'an edge viewer starts on a keyframe');
    }
    // the edge plays what the origin does: H.264 and AAC, over FLV and HLS
    assert.deepEqual(await codecNames(`${mediaB}/live/${roomId}.flv`), ['h264', 'aac']);
    await eventually(async () => (await fetch(`${mediaB}/hls/${roomId}/index.m3u8`)).status === 200, 'HLS through the edge', 30_000);
    assert.deepEqual(await codecNames(`${mediaB}/hls/${roomId}/index.m3u8`), ['h264', 'aac']);

    // one pull from A for B's viewers, and B says it relays the room
    await eventually(async () => gauge(await metrics(a), 'liveroom_media_edge_pulls') === 1, 'one edge pull on the origin');
    await eventually(async () => gauge(await metrics(b), 'liveroom_media_edge_rooms') === 1, 'B relays one room');
    // the registry hears it at B's next heartbeat
    await eventually(async () => (await nodesInRegistry()).find((n) => n.id !== origin.id)?.edgeRooms.includes(roomId), 'B announces the room as relayed');

    // a viewer on A too: the room counts the viewers of both nodes (the edge's pull is no viewer)
    const onA = readFlv(`${mediaA}/live/${roomId}.flv`);
    viewers.push(onA);
    await eventually(async () => (await a.http.request('GET', `/api/rooms/${roomId}`)).body.room.viewers >= 4, 'viewers summed over nodes');
    const counted = (await a.http.request('GET', `/api/rooms/${roomId}`)).body.room.viewers;
    // three FLV on B, one on A, and at most the HLS player just probed on B
    assert.ok(counted === 4 || counted === 5, `viewers ${counted}`);

    // a WebRTC (WHEP) viewer on B: B plays the room from its own relay, still one pull from A, and counts the viewer
    if (chromiumAvailable()) {
      const browser = await launchBrowser();
      try {
        const page = await browser.newPage();
        // a page of node B's own origin: the web app's CSP lets it reach its own media address, not B's
        await page.goto(`${mediaB}/live/`);
        const answer = await playFromPage(page, `${mediaB}/whep/${roomId}`);
        assert.equal(answer.status, 201, answer.body);
        await page.waitForFunction(() => {
          const v = document.getElementById('whep') as HTMLVideoElement;
          return v.currentTime > 1 && v.getVideoPlaybackQuality().totalVideoFrames > 10;
        }, undefined, { timeout: 30_000 });
        assert.equal(gauge(await metrics(a), 'liveroom_media_edge_pulls'), 1, 'the WHEP feed shares the edge pull');
        await eventually(async () => /liveroom_media_viewers\{room="[^"]+",protocol="whep"\} 1/.test(await metrics(b)), 'the WHEP viewer counted on B');
        // the feed reading B's relay is no FLV viewer: B's three FLV players only
        assert.match(await metrics(b), /liveroom_media_viewers\{room="[^"]+",protocol="flv"\} 3\n/);
        // the viewer hangs up (DELETE of its session), as a player leaving does
        assert.equal((await fetch(new URL(answer.location!, mediaB), { method: 'DELETE' })).status, 200);
      } finally {
        await browser.close();
      }
    } else process.stdout.write('# no Chromium here: the WHEP viewer on the edge was not tried\n');

    // B's FLV viewers leave: after the idle time B stops pulling
    for (const v of viewers.slice(0, 3)) v.close();
    await eventually(async () => gauge(await metrics(a), 'liveroom_media_edge_pulls') === 0, 'the edge stopped pulling', 20_000);

    // SIGKILL of the edge: A is the origin, the room stays live past B's node lifetime (3 heartbeats)
    await b.stop('SIGKILL');
    await eventually(async () => (await nodesInRegistry()).length === 1, 'B dropped from the registry', 20_000);
    const afterB = await roomRow(roomId);
    assert.equal(afterB.status, 'live');
    assert.equal(afterB.interrupted, false);

    // B again, then SIGKILL of the origin: B notices A stopped heartbeating, the room is interrupted, then ended
    b = await startServerProcess(envB, { readyPath: '/readyz' });
    procs.push(b);
    await a.stop('SIGKILL');
    await eventually(async () => (await roomRow(roomId)).interrupted === true, 'interrupted once the origin is gone', 30_000);
    await eventually(async () => (await roomRow(roomId)).status === 'ended', 'ended after the grace period', 30_000);
  });
});
