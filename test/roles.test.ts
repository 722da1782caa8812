// The four roles as separate processes on one PostgreSQL and one Redis behave
// as one `npm start`: an http-only process takes REST, a rooms-only process
// holds the live room, a media-only process takes the RTMP push, a jobs-only
// process draws lotteries and refreshes rankings; what each does shows up
// through the others.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LiveroomClient, type LiveRoomConnection } from '../src/client/index.ts';
import { uniqueName } from './helpers/app.ts';
import { auditCount, clusterEnv, clusterStore, type ClusterStore } from './helpers/cluster.ts';
import { postgresAvailable } from './helpers/db.ts';
import { firstCodedVideo, isKeyframe, readFlv } from './helpers/flv.ts';
import { redisAvailable } from './helpers/jobs.ts';
import { next, until } from './helpers/live.ts';
import { push, type Push } from './helpers/media.ts';
import { freePort, startServerProcess, type ServerProcess } from './helpers/server-process.ts';
import { eventually } from './helpers/wait.ts';

const ready = (await postgresAvailable()) && (await redisAvailable());

describe('roles as separate processes (http, rooms, media, jobs)', { skip: !ready && 'needs PostgreSQL and Redis' }, () => {
  let store: ClusterStore;
  let dataDir: string;
  const procs: ServerProcess[] = [];
  let http: ServerProcess, rooms: ServerProcess, media: ServerProcess, jobs: ServerProcess;
  const pushes: Push[] = [];
  const conns: LiveRoomConnection[] = [];
  let mediaUrl: string;

  before(async () => {
    // a Redis database of its own keeps the matchmaker from seeing other tests' processes
    store = await clusterStore('roles', 1 + (process.pid % 3));
    dataDir = await mkdtemp(path.join(tmpdir(), 'liveroom-roles-'));
    const rtmpPort = await freePort();
    const mediaHttpPort = await freePort();
    mediaUrl = `http://127.0.0.1:${mediaHttpPort}`;
    // every process is told where media is reached; one DATA_DIR on this machine
    const env = (roles: string) => clusterEnv(store, { roles, dataDir, rtmpPort, mediaHttpPort }, { RANKINGS_DEBOUNCE_MS: '200' });
    // one after the other: the first migrates the database
    for (const [name, roles] of [['jobs', 'jobs'], ['http', 'http'], ['rooms', 'rooms'], ['media', 'media']] as const) {
      const p = await startServerProcess(env(roles), { readyPath: '/readyz' });
      procs.push(p);
      if (name === 'jobs') jobs = p;
      else if (name === 'http') http = p;
      else if (name === 'rooms') rooms = p;
      else media = p;
    }
  });

  after(async () => {
    for (const p of pushes) p.child.kill('SIGKILL');
    await Promise.allSettled(conns.map((c) => c.leave()));
    await Promise.all(procs.map((p) => p.stop('SIGTERM')));
    await store?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('each process runs only its roles', async () => {
    for (const [p, roles] of [[http, []], [rooms, ['rooms']], [media, ['media']], [jobs, ['jobs']]] as const) {
      const r = await p.http.request('GET', '/readyz');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const checked = Object.keys(r.body.checks).filter((k) => k !== 'database' && k !== 'redis');
      assert.deepEqual(checked, roles, JSON.stringify(r.body));
    }
    // REST lives only on the http process
    assert.equal((await rooms.http.request('GET', '/api/gifts')).status, 404);
    assert.equal((await http.http.request('GET', '/api/gifts')).status, 200);
  });

  test('a push to the media process, a gift over REST on the http process and a lottery drawn by the jobs process all reach the room held by the rooms process', async () => {
    const streamer = await http.http.register(uniqueName('rs'));
    const fan = await http.http.register(uniqueName('rf'));
    const created = await http.http.request('POST', '/api/rooms', { token: streamer.token, json: { title: 'Roles' } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const roomId = created.body.room.id as string;
    // the viewer joins through the rooms process (its matchmaker and WebSocket)
    const viewer = await new LiveroomClient({ baseUrl: rooms.url, token: fan.token }).joinRoom(roomId);
    conns.push(viewer);
    assert.equal(viewer.state.status, 'idle');

    // RTMP to the media process: the room turns live in the rooms process's state and in REST
    pushes.push(push(created.body.ingest.rtmpUrl));
    await until(viewer, () => viewer.state.status === 'live', 'live in the room state', 30_000);
    const room = await eventually(async () => {
      const r = (await http.http.request('GET', `/api/rooms/${roomId}`)).body.room;
      return r?.status === 'live' ? r : undefined;
    }, 'live over REST', 30_000);
    assert.equal(room.playback.flv, `${mediaUrl}/live/${roomId}.flv`);
    // and plays from the media node, a keyframe first
    const flv = readFlv(room.playback.flv);
    try {
      const first = await eventually(() => firstCodedVideo(flv.tags), 'a video frame', 20_000);
      assert.ok(isKeyframe(first), 'a new viewer starts on a keyframe');
    } finally {
      flv.close();
    }

    // a gift over REST on the http process shows in the room's gift feed
    const gift = await http.http.request('POST', `/api/rooms/${roomId}/gifts`, { token: fan.token, json: { giftId: 'rose', count: 2 } });
    assert.equal(gift.status, 201, JSON.stringify(gift.body));
    await until(viewer, () => viewer.state.gifts.some((g) => g.userId === fan.id && g.giftId === 'rose'), 'the gift in the feed');
    await until(viewer, () => viewer.state.topFans.some((f) => f.userId === fan.id), 'the fan among the top fans');

    // a click lottery opened and entered over REST is drawn by the jobs process, once, and announced in the room
    const lottery = await http.http.request('POST', `/api/rooms/${roomId}/lotteries`, {
      token: streamer.token,
      json: { prize: 'A mug', winners: 1, method: 'click', durationSec: 5 },
    });
    assert.equal(lottery.status, 201, JSON.stringify(lottery.body));
    const lotteryId = lottery.body.lottery.id as string;
    const result = next(viewer, 'lottery:result', (r) => r.lotteryId === lotteryId, 60_000);
    assert.equal((await http.http.request('POST', `/api/lotteries/${lotteryId}/entries`, { token: fan.token })).status, 201);
    const drawn = await result;
    assert.deepEqual(drawn.winners.map((w) => w.id), [fan.id]);
    assert.equal(await auditCount(store, 'lottery.draw', lotteryId), 1, 'drawn exactly once');

    // the preview the media process makes is served by the http process (one DATA_DIR on this machine)
    await eventually(async () => (await fetch(`${http.url}/previews/${roomId}.jpg`)).status === 200, 'the preview over the http process', 30_000);
  });
});
