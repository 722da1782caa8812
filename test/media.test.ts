// The media side end to end: a real ffmpeg pushes a generated test pattern
// (H.264 + AAC) over RTMP with a room's stream key into the media child
// process; viewers play by room id over HTTP-FLV, WS-FLV and HLS; the room's
// status, sessions, previews, recordings and viewer counts are checked through
// the API the way clients see them.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { after, afterEach, before, describe, test } from 'node:test';
import { pino } from 'pino';
import WebSocket from 'ws';
import type { EventMap } from '../src/domain/events.ts';
import { RoomOutputs } from '../src/media/room-outputs.ts';
import { createRtmpSlots, type RtmpSlot, type RtmpSlots } from '../src/media/rtmp-slots.ts';
import { startTestApp, uniqueName, type TestApp } from './helpers/app.ts';
import { dbKinds } from './helpers/db.ts';
import { firstCodedVideo, FLV_VIDEO, FlvTagReader, isKeyframe, isSequenceHeader, readFlv, type FlvTag } from './helpers/flv.ts';
import { anonymous, until } from './helpers/live.ts';
import {
  alive, connectCommand, createStreamCommand, exitsWithin, ffmpegsMentioning, ffprobe, getRoom, handshake, MEDIA_ENV, newRoom, publishCommand, push, PUSH_HEIGHT, PUSH_WIDTH,
  rawRtmp, rtmpMessage, sessions, setChunkSize, spawnServer, waitStatus, type Push,
} from './helpers/media.ts';
import { eventually } from './helpers/wait.ts';

/** The status events of a room, as the event bus carries them. */
function statusEvents(app: TestApp, roomId: string) {
  const seen: EventMap['room.status'][] = [];
  const off = app.services.events.subscribe('room.status', (e) => e.roomId === roomId && seen.push(e));
  return { seen, off };
}

for (const kind of await dbKinds()) {
  describe(`media: publish and play (${kind})`, () => {
    let app: TestApp;
    const pushes: Push[] = [];
    const start = (url: string, seconds?: number) => {
      const p = push(url, { seconds });
      pushes.push(p);
      return p;
    };
    before(async () => {
      app = await startTestApp(kind, MEDIA_ENV);
    });
    afterEach(() => {
      for (const p of pushes.splice(0)) p.kill();
    });
    after(async () => {
      for (const p of pushes.splice(0)) p.kill();
      await app?.close();
    });

    test('the right key makes the room live; FLV plays from a keyframe; stopping ends it as streamer_stopped', async () => {
      const r = await newRoom(app);
      assert.ok(!r.playback.flv.includes(r.key) && !r.playback.hls.includes(r.key), 'playback URLs never name the key');
      assert.ok(r.playback.flv.endsWith(`/live/${r.roomId}.flv`));
      const events = statusEvents(app, r.roomId);
      const p = start(r.rtmpUrl);
      const live = await waitStatus(app, r.roomId, 'live', 15_000);
      assert.ok(live.liveSince);
      await eventually(() => events.seen.some((e) => e.status === 'live'), 'a room.status live event');

      const viewer = readFlv(r.playback.flv);
      assert.equal(await viewer.status, 200);
      assert.equal((await viewer.headers).get('content-type'), 'video/x-flv');
      await eventually(() => firstCodedVideo(viewer.tags), 'coded video over HTTP-FLV');
      assert.equal(viewer.reader.headerOk, true);
      assert.ok(isKeyframe(firstCodedVideo(viewer.tags)!), 'the first coded video tag is a keyframe (GOP cache)');
      // the viewer is counted on the room and in /metrics
      await eventually(async () => (await getRoom(app, r.roomId)).viewers >= 1, 'viewers >= 1');
      const metrics = await app.http.request('GET', '/metrics');
      assert.match(metrics.body, new RegExp(`liveroom_media_viewers\\{room="${r.roomId}",protocol="flv"\\} 1`));
      assert.match(metrics.body, /liveroom_media_up 1/);
      viewer.close();

      p.kill();
      const ended = await waitStatus(app, r.roomId, 'ended', 10_000);
      assert.equal(ended.liveSince, null);
      await eventually(() => events.seen.some((e) => e.status === 'ended'), 'a room.status ended event');
      events.off();
      const [s] = await sessions(app, r.roomId);
      assert.equal(s.endReason, 'streamer_stopped');
      assert.ok(s.peakViewers >= 1);
      // playback of an ended room: 404
      const gone = await fetch(r.playback.flv);
      assert.equal(gone.status, 404);
      await gone.body?.cancel();
    });

    test('a wrong key, a malformed key and a path other than /live are refused; the room stays idle', async () => {
      const r = await newRoom(app);
      const base = r.rtmpUrl.slice(0, r.rtmpUrl.lastIndexOf('/'));
      const wrong = start(`${base}/lr_${'A'.repeat(32)}`);
      const malformed = start(`${base}/not-a-key`);
      const otherApp = start(`${base.replace(/\/live$/, '/other')}/${r.key}`);
      await exitsWithin(wrong, 15_000, 'wrong key');
      await exitsWithin(malformed, 15_000, 'malformed key');
      await exitsWithin(otherApp, 15_000, 'other app');
      const room = await getRoom(app, r.roomId);
      assert.equal(room.status, 'idle');
      assert.deepEqual(await sessions(app, r.roomId), []);
    });

    test('a second publisher on a live key is refused while the first stays live', async () => {
      const r = await newRoom(app);
      const first = start(r.rtmpUrl);
      await waitStatus(app, r.roomId, 'live', 15_000);
      const second = start(r.rtmpUrl);
      await exitsWithin(second, 15_000, 'second publisher');
      assert.ok(first.running(), 'the first publisher still pushes');
      const room = await getRoom(app, r.roomId);
      assert.equal(room.status, 'live');
      // and it still plays
      const viewer = readFlv(r.playback.flv);
      await eventually(() => firstCodedVideo(viewer.tags), 'video from the first publisher');
      viewer.close();
      assert.equal((await sessions(app, r.roomId)).length, 1);
    });

    test('rotating the key disconnects the publisher (key_rotated) and the old key stops working', async () => {
      const r = await newRoom(app);
      const p = start(r.rtmpUrl);
      await waitStatus(app, r.roomId, 'live', 15_000);
      const rot = await app.http.request('POST', `/api/rooms/${r.roomId}/stream-key`, { token: r.token });
      assert.equal(rot.status, 201);
      await exitsWithin(p, 10_000, 'publisher on the rotated key');
      await waitStatus(app, r.roomId, 'ended', 10_000);
      assert.equal((await sessions(app, r.roomId))[0].endReason, 'key_rotated');
      const old = start(r.rtmpUrl);
      await exitsWithin(old, 15_000, 'old key');
      assert.equal((await getRoom(app, r.roomId)).status, 'ended');
      const fresh = start(rot.body.ingest.rtmpUrl);
      await waitStatus(app, r.roomId, 'live', 15_000);
      fresh.kill();
      await waitStatus(app, r.roomId, 'ended', 10_000);
    });

    test('POST /rooms/:id/end disconnects the publisher (ended_by_owner)', async () => {
      const r = await newRoom(app);
      const p = start(r.rtmpUrl);
      await waitStatus(app, r.roomId, 'live', 15_000);
      const end = await app.http.request('POST', `/api/rooms/${r.roomId}/end`, { token: r.token });
      assert.equal(end.status, 204);
      await exitsWithin(p, 10_000, 'publisher of an ended broadcast');
      assert.equal((await getRoom(app, r.roomId)).status, 'ended');
      assert.equal((await sessions(app, r.roomId))[0].endReason, 'ended_by_owner');
      // the encoder reconnecting (as OBS does by itself) is refused: the broadcast stays ended
      const again = start(r.rtmpUrl);
      await exitsWithin(again, 15_000, 'a reconnect after the end');
      assert.equal((await getRoom(app, r.roomId)).status, 'ended');
      assert.equal((await sessions(app, r.roomId)).length, 1);
    });
  });
}

describe('media: HLS, WS-FLV, previews, recordings, viewers (pglite)', () => {
  let app: TestApp;
  const pushes: Push[] = [];
  before(async () => {
    app = await startTestApp('pglite', MEDIA_ENV);
  });
  afterEach(() => {
    for (const p of pushes.splice(0)) p.kill();
  });
  after(async () => {
    for (const p of pushes.splice(0)) p.kill();
    await app?.close();
  });

  test('ffprobe finds H.264 at the pushed size and AAC over HTTP-FLV and HLS; WS-FLV gets the header and video; HLS is served and counted; previews appear', async () => {
    const r = await newRoom(app);
    const p = push(r.rtmpUrl);
    pushes.push(p);
    await waitStatus(app, r.roomId, 'live', 15_000);

    for (const url of [r.playback.flv, r.playback.hls]) {
      if (url === r.playback.hls) await eventually(async () => (await fetch(url).then((x) => x.arrayBuffer().then(() => x.status))) === 200, 'the HLS playlist');
      const probe = await ffprobe(url);
      const video = probe.streams.find((s) => s.codec_type === 'video');
      assert.equal(video?.codec_name, 'h264', url);
      assert.equal(video?.width, PUSH_WIDTH);
      assert.equal(video?.height, PUSH_HEIGHT);
      assert.equal(probe.streams.find((s) => s.codec_type === 'audio')?.codec_name, 'aac', url);
    }

    // HLS: content types and CORS, a segment is served
    const pl = await fetch(r.playback.hls, { headers: { 'user-agent': 'hls-test-player' } });
    assert.equal(pl.status, 200);
    assert.equal(pl.headers.get('content-type'), 'application/vnd.apple.mpegurl');
    assert.equal(pl.headers.get('access-control-allow-origin'), '*');
    const text = await pl.text();
    assert.match(text, /#EXTM3U/);
    const seg = text.split('\n').find((l) => l.endsWith('.ts'))!;
    assert.ok(seg, text);
    const segRes = await fetch(new URL(seg, r.playback.hls));
    assert.equal(segRes.status, 200);
    assert.equal(segRes.headers.get('content-type'), 'video/mp2t');
    const segBytes = Buffer.from(await segRes.arrayBuffer());
    assert.equal(segBytes[0], 0x47, 'an MPEG-TS segment starts with a sync byte');
    assert.equal((await fetch(r.playback.hls.replace('index.m3u8', '..%2F..%2Fsecrets.json'))).status, 404);
    // the HLS requester is a viewer
    await eventually(async () => {
      const m = await app.http.request('GET', '/metrics');
      return new RegExp(`liveroom_media_viewers\\{room="${r.roomId}",protocol="hls"\\} [1-9]`).test(m.body);
    }, 'an HLS viewer in /metrics');

    // WS-FLV
    const ws = new WebSocket(r.playback.wsFlv);
    const tags: FlvTag[] = [];
    const reader = new FlvTagReader((t) => tags.push({ ...t }));
    ws.on('message', (d: Buffer) => reader.push(d));
    try {
      await eventually(() => tags.filter((t) => t.type === FLV_VIDEO && !isSequenceHeader(t)).length >= 5, 'WS-FLV video tags');
      assert.equal(reader.headerOk, true);
      assert.ok(isKeyframe(firstCodedVideo(tags)!));
    } finally {
      ws.terminate();
    }

    // preview: the room list shows the snapshot (no cover), served as a JPEG
    const room = await eventually(async () => {
      const x = await getRoom(app, r.roomId);
      return x.previewUrl ? x : undefined;
    }, 'a preview');
    assert.match(room.previewUrl, new RegExp(`/previews/${r.roomId}\\.jpg\\?t=\\d+$`));
    const img = await fetch(room.previewUrl);
    assert.equal(img.status, 200);
    assert.equal(img.headers.get('content-type'), 'image/jpeg');
    assert.match(img.headers.get('cache-control') ?? '', /max-age=10/);
    const jpeg = Buffer.from(await img.arrayBuffer());
    assert.deepEqual([...jpeg.subarray(0, 3)], [0xff, 0xd8, 0xff]);
    assert.equal((await fetch(`${app.url}/previews/..%2Fsecrets.json`)).status, 404);

    p.kill();
    await waitStatus(app, r.roomId, 'ended', 10_000);
    // the HLS segments are removed with the broadcast
    await eventually(() => !existsSync(`${app.dataDir}/hls/${r.roomId}`), 'the HLS directory removed');
    const after = await fetch(r.playback.hls);
    assert.equal(after.status, 404);
    await after.body?.cancel();
  });

  test('an HLS player that goes away mid-segment leaves no file open in the media process', async () => {
    const r = await newRoom(app);
    const p = push(r.rtmpUrl);
    pushes.push(p);
    await waitStatus(app, r.roomId, 'live', 15_000);
    await eventually(async () => (await fetch(r.playback.hls).then((x) => x.arrayBuffer().then(() => x.status))) === 200, 'the HLS playlist');
    // a segment too big to fit in the socket buffers (ffmpeg never deletes a name it did not write)
    const big = `${app.dataDir}/hls/${r.roomId}/seg-1.ts`;
    writeFileSync(big, Buffer.alloc(64 * 1024 * 1024, 0x47));
    const pid = app.media!.pid()!;
    const openOnBig = () =>
      readdirSync(`/proc/${pid}/fd`).filter((fd) => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(big);
        } catch {
          return false;
        }
      }).length;
    const url = new URL(r.playback.hls);
    for (let i = 0; i < 5; i++) {
      const s = net.connect(Number(url.port), url.hostname);
      s.on('error', () => {});
      await once(s, 'connect');
      s.write(`GET /hls/${r.roomId}/seg-1.ts HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`);
      await once(s, 'data'); // the download has started
      s.destroy();
    }
    await eventually(() => openOnBig() === 0, 'the aborted downloads closing the segment', 10_000);
    rmSync(big);
  });

  test('a recorded broadcast becomes a ready MP4 of about the pushed length, served with range requests', async () => {
    const r = await newRoom(app, { record: true });
    const seconds = 6;
    const p = push(r.rtmpUrl, { seconds });
    pushes.push(p);
    await waitStatus(app, r.roomId, 'live', 15_000);
    const during = (await app.http.request('GET', `/api/rooms/${r.roomId}/recordings`)).body.items;
    await exitsWithin(p, 30_000, 'a push of fixed length');
    await waitStatus(app, r.roomId, 'ended', 10_000);
    const rec = await eventually(async () => {
      const items = (await app.http.request('GET', `/api/rooms/${r.roomId}/recordings`)).body.items;
      return items[0]?.status === 'ready' ? items[0] : undefined;
    }, 'a ready recording', 60_000);
    assert.equal(during[0]?.status, 'recording');
    assert.equal(rec.sessionId, (await sessions(app, r.roomId))[0].id);
    assert.ok(rec.bytes > 10_000);
    assert.match(rec.url, new RegExp(`/recordings/${rec.id}\\.mp4$`));
    // ffprobe: H.264 + AAC, duration close to the pushed length (the recording starts at the first keyframe it saw)
    const probe = await ffprobe(rec.url);
    assert.deepEqual(probe.streams.map((s) => s.codec_name).sort(), ['aac', 'h264']);
    const duration = Number(probe.format?.duration);
    assert.ok(Math.abs(duration - seconds) <= 1.5, `duration ${duration} s, pushed ${seconds} s`);
    assert.ok(Math.abs(rec.durationSec - duration) <= 0.5, `reported ${rec.durationSec} s, probed ${duration} s`);
    // faststart: the index (moov) comes before the media (mdat)
    const whole = Buffer.from(await (await fetch(rec.url)).arrayBuffer());
    assert.ok(whole.indexOf('moov') < whole.indexOf('mdat'), 'moov before mdat');
    const part = await fetch(rec.url, { headers: { range: 'bytes=0-99' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-type'), 'video/mp4');
    assert.equal(part.headers.get('content-range'), `bytes 0-99/${rec.bytes}`);
    assert.equal((await part.arrayBuffer()).byteLength, 100);
    // the FLV parts are gone once the MP4 is ready
    assert.equal(existsSync(`${app.dataDir}/recordings/${rec.sessionId}`), false);
    const missing = await app.http.request('GET', `/api/rooms/${'0'.repeat(8)}-0000-7000-8000-${'0'.repeat(12)}/recordings`);
    assert.equal(missing.status, 404);
    assert.equal((await fetch(`${app.url}/recordings/nope.mp4`)).status, 404);
  });

  test('the live room state follows the push: idle -> live -> ended', async () => {
    const r = await newRoom(app);
    const conn = await anonymous(app).joinRoom(r.roomId);
    try {
      assert.equal(conn.state.status, 'idle');
      const p = push(r.rtmpUrl);
      pushes.push(p);
      await until(conn, () => conn.state.status === 'live', 'status live in the room state', 15_000);
      p.kill();
      await until(conn, () => conn.state.status === 'ended', 'status ended in the room state', 10_000);
    } finally {
      await conn.leave();
    }
  });
});

describe('media: isolation (pglite)', () => {
  let app: TestApp;
  const pushes: Push[] = [];
  before(async () => {
    app = await startTestApp('pglite', MEDIA_ENV);
  });
  afterEach(() => {
    for (const p of pushes.splice(0)) p.kill();
  });
  after(async () => {
    for (const p of pushes.splice(0)) p.kill();
    await app?.close();
  });

  test('killing the media process: rooms show interrupted, API and chat keep serving, media restarts, a publisher resumes, one that does not return ends as media_failure', async () => {
    const resumes = await newRoom(app);
    const leaves = await newRoom(app);
    const streamer = await app.http.register(uniqueName('chatter'));
    const pa = push(resumes.rtmpUrl);
    const pb = push(leaves.rtmpUrl);
    pushes.push(pa, pb);
    await waitStatus(app, resumes.roomId, 'live', 15_000);
    await waitStatus(app, leaves.roomId, 'live', 15_000);
    // HLS running for both (their ffmpeg must not outlive the media process)
    await eventually(() => ffmpegsMentioning(app.dataDir).length >= 2, 'HLS ffmpegs running');
    const ports = app.media!.ports();
    const pid = app.media!.pid()!;
    const { LiveroomClient } = await import('../src/client/index.ts');
    const chatter = new LiveroomClient({ baseUrl: app.url, token: streamer.token });
    const conn = await chatter.joinRoom(resumes.roomId);
    try {
      process.kill(pid, 'SIGKILL');
      const interrupted = await eventually(async () => {
        const room = await getRoom(app, resumes.roomId);
        return room.interrupted ? room : undefined;
      }, 'the room interrupted');
      assert.equal(interrupted.status, 'live');
      await until(conn, () => conn.state.interrupted, 'interrupted in the room state');
      // the API and chat answer while media is down or restarting
      assert.equal((await app.http.request('GET', '/healthz')).status, 200);
      conn.chat('still here');
      await until(conn, () => conn.state.chat.some((l) => l.text === 'still here'), 'a chat line');
      // the encoders lose their connection
      await exitsWithin(pa, 15_000, 'publisher of the killed media process');
      await exitsWithin(pb, 15_000, 'publisher of the killed media process');
      // no ffmpeg of the dead media process survives it
      await eventually(() => ffmpegsMentioning(app.dataDir).length === 0, 'no orphan ffmpeg', 10_000);
      // restarted, on the same ports
      await eventually(() => app.media!.pid() !== undefined && app.media!.pid() !== pid, 'a new media process');
      assert.deepEqual(app.media!.ports(), ports);
      assert.equal(alive(pid), false);
      // one publisher comes back within the grace: the same broadcast resumes
      const again = push(resumes.rtmpUrl);
      pushes.push(again);
      await waitStatus(app, resumes.roomId, 'live', 15_000);
      await until(conn, () => conn.state.status === 'live' && !conn.state.interrupted, 'resumed in the room state');
      const s = await sessions(app, resumes.roomId);
      assert.equal(s.length, 1);
      assert.equal(s[0].endedAt, null);
      // the other does not: its broadcast ends as a media failure after MEDIA_RESUME_GRACE_SEC
      await waitStatus(app, leaves.roomId, 'ended', 15_000);
      assert.equal((await sessions(app, leaves.roomId))[0].endReason, 'media_failure');
      const viewer = readFlv(resumes.playback.flv);
      await eventually(() => firstCodedVideo(viewer.tags), 'video after the restart');
      viewer.close();
      const m = await app.http.request('GET', '/metrics');
      assert.match(m.body, /liveroom_media_restarts_total 1/);
    } finally {
      await conn.leave();
    }
  });

  test('a broadcast interrupted by a media crash still ends as media_failure when its streamer edits the room meanwhile', async () => {
    const r = await newRoom(app);
    const p = push(r.rtmpUrl);
    pushes.push(p);
    await waitStatus(app, r.roomId, 'live', 15_000);
    const pid = app.media!.pid()!;
    process.kill(pid, 'SIGKILL');
    await eventually(async () => (await getRoom(app, r.roomId)).interrupted, 'the room interrupted');
    await exitsWithin(p, 15_000, 'publisher of the killed media process');
    await eventually(() => app.media!.pid() !== undefined && app.media!.pid() !== pid, 'a new media process');
    // the streamer puts a notice in the title while the stream is down, and does not come back
    const patched = await app.http.request('PATCH', `/api/rooms/${r.roomId}`, { token: r.token, json: { title: 'Technical difficulties' } });
    assert.equal(patched.status, 200);
    assert.equal(patched.body.room.interrupted, true);
    await waitStatus(app, r.roomId, 'ended', 20_000);
    assert.equal((await sessions(app, r.roomId))[0].endReason, 'media_failure');
  });

  test('garbage on the RTMP port: each bad connection is closed, the media process stays up and the next push goes live', async () => {
    const port = app.media!.ports().rtmp;
    const pid = app.media!.pid();
    const bad: [string, boolean, () => Buffer][] = [
      ['random bytes', false, () => randomBytes(5000)],
      ['a truncated handshake', false, () => Buffer.from([3, 1, 2, 3])],
      ['garbage after the handshake', true, () => randomBytes(20_000)],
      ['chunk size 0', true, () => setChunkSize(0)],
      ['an absurd chunk size', true, () => setChunkSize(0xffffffff)],
      ['a 16 MB command', true, () => rtmpMessage(3, 20, 0, Buffer.alloc(16), 0xffffff)],
      ['connect with a broken tcUrl', true, () => connectCommand('::::')],
      ['a publish with no key', true, () => Buffer.concat([connectCommand('rtmp://127.0.0.1/live'), createStreamCommand(), publishCommand('')])],
      ['a publish before connect', true, () => publishCommand('lr_x')],
    ];
    await Promise.all(
      bad.map(async ([what, shake, bytes]) => {
        const c = await rawRtmp(port);
        if (shake) await handshake(c.socket);
        c.socket.write(bytes());
        let timer: NodeJS.Timeout | undefined;
        const open = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: the connection is still open`)), 15_000)));
        await Promise.race([c.closed, open]).finally(() => clearTimeout(timer));
      }),
    );
    assert.equal(app.media!.pid(), pid, 'the media process did not restart');
    assert.equal((await app.http.request('GET', '/healthz')).status, 200);
    const r = await newRoom(app);
    const p = push(r.rtmpUrl);
    pushes.push(p);
    await waitStatus(app, r.roomId, 'live', 15_000);
    const viewer = readFlv(r.playback.flv);
    await eventually(() => firstCodedVideo(viewer.tags), 'video after the garbage');
    viewer.close();
    assert.equal(app.media!.pid(), pid);
  });

  test('close() stops the media process and every ffmpeg it ran', async () => {
    // no rooms role: Colyseus's matchmaker is one per process, and the suite's app holds it
    const own = await startTestApp('pglite', { ...MEDIA_ENV, ROLES: 'http,jobs,media' });
    let pid: number | undefined;
    try {
      const r = await newRoom(own);
      const p = push(r.rtmpUrl);
      pushes.push(p);
      await waitStatus(own, r.roomId, 'live', 15_000);
      await eventually(() => ffmpegsMentioning(own.dataDir).length >= 1, 'an HLS ffmpeg');
      pid = own.media!.pid();
      assert.ok(alive(pid));
    } finally {
      const dir = own.dataDir;
      await own.close();
      assert.equal(alive(pid), false, 'the media process is gone');
      assert.deepEqual(ffmpegsMentioning(dir), []);
    }
  });
});

describe('media: RTMP connection slots (pglite)', () => {
  test('idle sockets held on the RTMP port (each reopened when dropped) past RTMP_MAX_CONNECTIONS: a publisher with a valid key still goes live', async () => {
    const max = 20;
    const app = await startTestApp('pglite', { ...MEDIA_ENV, ROLES: 'http,jobs,media', RTMP_MAX_CONNECTIONS: String(max), RTMP_RESERVED_CONNECTIONS: '5' });
    const sockets = new Set<net.Socket>();
    let flooding = true;
    let opened = 0;
    let p: Push | undefined;
    try {
      const port = app.media!.ports().rtmp;
      // plain TCP, never a byte: each one the server drops (deadline, limit) comes straight back
      const open = () => {
        if (!flooding) return;
        const s = net.connect(port, '127.0.0.1');
        opened++;
        sockets.add(s);
        s.on('error', () => {});
        s.once('close', () => {
          sockets.delete(s);
          setImmediate(open);
        });
      };
      for (let i = 0; i < max * 2; i++) open();
      // the flood holds the port before the publisher comes
      await eventually(() => opened >= max * 3, 'the flood cycling');
      const r = await newRoom(app);
      const before = opened;
      p = push(r.rtmpUrl);
      await waitStatus(app, r.roomId, 'live', 20_000);
      const viewer = readFlv(r.playback.flv);
      await eventually(() => firstCodedVideo(viewer.tags), 'video through the flood');
      viewer.close();
      assert.ok(p.running(), 'the publisher is still pushing');
      assert.ok(opened > before + max, `the flood went on meanwhile (${opened - before} sockets opened)`);
    } finally {
      flooding = false;
      for (const s of sockets) s.destroy();
      p?.kill();
      await app.close();
    }
  });
});

describe('media: RTMP connection accounting', () => {
  const admitAll = (slots: RtmpSlots, address: string, n: number) => {
    const out: { slot: RtmpSlot | null; dropped: boolean }[] = [];
    for (let i = 0; i < n; i++) {
      const c = { slot: null as RtmpSlot | null, dropped: false };
      c.slot = slots.admit(address, () => (c.dropped = true));
      out.push(c);
    }
    return out;
  };

  test('one address gets a bounded share: its next connection replaces its own oldest, other addresses are untouched', () => {
    const slots = createRtmpSlots({ maxConnections: 100, maxPerAddress: 3, reserved: 10 });
    const other = admitAll(slots, '198.51.100.7', 2);
    const flood = admitAll(slots, '203.0.113.9', 50);
    assert.equal(slots.counts().total, 5, 'three from the flooding address, two from the other');
    assert.deepEqual(flood.flatMap((c, i) => (c.dropped ? [] : [i])), [47, 48, 49], 'each newcomer of the address replaced its oldest');
    assert.ok(other.every((c) => c.slot && !c.dropped));
    // a publishing session of the address is never the one replaced
    flood[47]!.slot!.started();
    admitAll(slots, '203.0.113.9', 5);
    assert.equal(flood[47]!.dropped, false);
    // loopback (WHIP bridges, local tools) has no share of its own
    assert.ok(admitAll(slots, '127.0.0.1', 20).every((c) => c.slot && !c.dropped));
    // one IPv6 /64 is one address
    const v6 = [...admitAll(slots, '2001:db8::1', 3), ...admitAll(slots, '2001:db8::2:3', 1)];
    assert.deepEqual(v6.map((c) => c.dropped), [true, false, false, false]);
  });

  test('connections in the handshake never take the reserved slots; a full pool drops the one that did least, oldest first', () => {
    const slots = createRtmpSlots({ maxConnections: 10, maxPerAddress: 1000, reserved: 3 });
    const idle = admitAll(slots, '203.0.113.9', 20);
    assert.deepEqual(slots.counts(), { total: 7, handshaking: 7, started: 0 }, 'at most 10 - 3 in the handshake');
    // a publisher: its bytes make it more than an idle socket, and past the handshake it leaves their pool
    const [pub] = admitAll(slots, '198.51.100.7', 1);
    pub!.slot!.received();
    admitAll(slots, '203.0.113.9', 30);
    assert.equal(pub!.dropped, false, 'idle sockets go first');
    pub!.slot!.handshakeDone();
    const more = admitAll(slots, '203.0.113.9', 30);
    assert.equal(pub!.dropped, false);
    assert.equal(slots.counts().total, 8);
    assert.ok(more.at(-1)!.slot && !more.at(-1)!.dropped, 'the newest idle socket got in');
    assert.ok(idle[0]!.dropped, 'the oldest was dropped for it');
    // started sessions fill every slot: a newcomer is refused, nobody is dropped
    const pubs = admitAll(slots, '192.0.2.1', 2);
    for (const c of [pub!, ...pubs]) {
      c.slot!.handshakeDone();
      c.slot!.started();
    }
    for (const c of admitAll(slots, '192.0.2.2', 7)) {
      c.slot!.handshakeDone();
      c.slot!.started();
    }
    assert.deepEqual(slots.counts(), { total: 10, handshaking: 0, started: 10 });
    const [late] = admitAll(slots, '192.0.2.3', 1);
    assert.equal(late!.slot, null);
    assert.ok(![pub!, ...pubs].some((c) => c.dropped));
  });
});

describe('media: the server log', () => {
  test('stream keys never reach the log, whatever path an encoder pushes them in', async () => {
    // trace: node-media-server's own lines too (its info and debug name the stream path)
    const server = await spawnServer({ LOG_LEVEL: 'trace' });
    const pushes: Push[] = [];
    try {
      const r = await newRoom(server);
      const base = r.rtmpUrl.slice(0, r.rtmpUrl.lastIndexOf('/')); // rtmp://host:port/live
      const host = base.slice(0, -'/live'.length);
      const k = r.key;
      // the full ingest URL given as OBS's "Server" (the key twice), and other ways of getting it wrong
      // (`/live/<key>?x=1` and `/live/<key>.flv` are the key itself to ffmpeg: they publish like the right one below)
      const odd = [`${base}/${k}/${k}`, `${host}/${k}`, `${host}/${k}/live`, `${base}/${k}/`, `${base}/${k}/x`, `${base}/x${k}`, `${base}/${k}${k}`, `${base}/x-${k}-x`];
      for (const url of odd) pushes.push(push(url));
      // each is refused (node-media-server or the key check closes it)
      await Promise.all(pushes.map((p, i) => exitsWithin(p, 20_000, odd[i]!)));
      // and the right one, live and stopped
      const ok = push(r.rtmpUrl);
      pushes.push(ok);
      await waitStatus(server, r.roomId, 'live');
      ok.kill();
      await waitStatus(server, r.roomId, 'ended');
      // node-media-server's refusal of the key-in-the-app path is in the log (what leaked the key)
      await eventually(() => server.output().includes('invalid stream path characters'), 'node-media-server refusing a path');
      const log = server.output();
      assert.match(log, /publishing/);
      const at = log.indexOf(k);
      assert.equal(at, -1, `the key is in the log: ${log.slice(Math.max(0, at - 300), at + 100)}`);
      // nor any part of it long enough to matter
      assert.equal(log.includes(k.slice(3, 19)), false, 'a part of the key is in the log');
    } finally {
      for (const p of pushes) p.kill();
      await server.close();
    }
  });
});

describe('media: room outputs', () => {
  test('a publisher of the same room starting while the last one\'s HLS is still stopping keeps its HLS directory and gets a playlist', async () => {
    // 8 s of the test pattern as FLV (what node-media-server hands a reader): more than ffmpeg's analysis window
    const flv = await new Promise<Buffer>((resolve, reject) =>
      execFile(
        'ffmpeg',
        ['-v', 'error', '-f', 'lavfi', '-i', `testsrc=size=${PUSH_WIDTH}x${PUSH_HEIGHT}:rate=25`, '-t', '8', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-f', 'flv', 'pipe:1'],
        { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
        (err, stdout) => (err ? reject(err) : resolve(stdout)),
      ),
    );
    const fakeBroadcast = () => {
      const readers = new Set<{ sendBuffer(b: Buffer): void }>();
      return {
        streamPath: '/live/x',
        publisher: null,
        flvMetaData: null,
        flvVideoHeader: null,
        flvAudioHeader: null,
        flvGopCache: null,
        postPlay: (s: { sendBuffer(b: Buffer): void }) => (readers.add(s), null),
        donePlay: (s: { sendBuffer(b: Buffer): void }) => void readers.delete(s),
        send: (b: Buffer) => readers.forEach((r) => r.sendBuffer(b)),
        readers,
      };
    };
    const dataDir = await mkdtemp(`${tmpdir()}/liveroom-outputs-`);
    const running = new Set<number>();
    const settings = {
      ffmpegPath: 'ffmpeg',
      dataDir,
      hls: { segmentSec: 1, listSize: 4, maxBacklogBytes: 64 * 1024 * 1024 },
      thumbnail: { everyMs: 3_600_000, widthPx: 320 },
      logger: pino({ level: 'silent' }),
      onFfmpeg: (pid: number, on: boolean) => (on ? running.add(pid) : running.delete(pid)),
      onPreview: () => {},
    };
    const roomId = 'room-outputs-test';
    const playlist = `${dataDir}/hls/${roomId}/index.m3u8`;
    const a = fakeBroadcast();
    const b = fakeBroadcast();
    const first = new RoomOutputs(roomId, a as never, settings);
    const second = new RoomOutputs(roomId, b as never, settings);
    try {
      first.start();
      await eventually(() => running.size === 1 && a.readers.size === 1, 'the first HLS ffmpeg');
      a.send(flv);
      await eventually(() => existsSync(playlist), 'the first broadcast\'s playlist');
      // the publisher drops and comes straight back: the new outputs start while the old ffmpeg finishes
      const stopping = first.stop();
      second.start();
      await stopping;
      await eventually(() => b.readers.size === 1, 'the second HLS ffmpeg reading');
      b.send(flv);
      await eventually(() => existsSync(playlist), 'a playlist for the second broadcast', 15_000);
    } finally {
      await first.stop();
      await second.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
    assert.equal(running.size, 0, 'no ffmpeg left running');
  });
});
