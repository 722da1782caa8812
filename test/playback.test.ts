// HTTP-FLV and WS-FLV playback (src/media/flv-playback.ts, stream-fanout.ts)
// behind a real node-media-server fed by a real ffmpeg push. node-media-server
// keeps global state, so this file runs one instance for all its tests.
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import WebSocket from 'ws';
import { loadConfig } from '../src/config.ts';
import { addressGroup } from '../src/media/address.ts';
import { createHlsServer } from '../src/media/hls.ts';
import { createFlvPlayback, type FlvPlayback } from '../src/media/flv-playback.ts';
import { mediaSettings } from '../src/media-control/media-settings.ts';
import { firstCodedVideo, flvTag, FlvTagReader, FLV_AUDIO, FLV_VIDEO, isKeyframe, isSequenceHeader, readFlv, type FlvTag } from './helpers/flv.ts';
import { freePort, killOnExit } from './helpers/server-process.ts';

const require = createRequire(import.meta.url);
const NodeMediaServer = require('node-media-server');
const nmsContext = require('node-media-server/src/core/context.js');
const nmsLogger = require('node-media-server/src/core/logger.js');

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
// the app's playback limits (config.ts defaults), as the supervisor hands them to the media process
const settings = mediaSettings(loadConfig({ JWT_SECRET: 'x'.repeat(32), DATA_DIR: tmpdir() }), { rtmp: 0, http: 0 }, 'test');
const LIMITS = { ...settings.flv, requestTimeoutMs: settings.httpRequestTimeoutMs };

async function until(what: string, cond: () => boolean, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function push(rtmpPort: number, name: string): ChildProcess {
  // prettier-ignore
  const args = ['-hide_banner', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', 'testsrc=size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-b:v', '1500k',
    '-c:a', 'aac', '-f', 'flv', `rtmp://127.0.0.1:${rtmpPort}/live/${name}`];
  const child = killOnExit(spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] }));
  child.stderr!.resume();
  return child;
}

function stop(child: ChildProcess | undefined): void {
  if (child?.pid && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
}

describe('FLV playback', () => {
  let nms: any;
  let playback: FlvPlayback;
  let ffmpeg: ChildProcess | undefined;
  let dir: string;
  let rtmpPort: number;
  let base: string;
  const ROOM = 'room-a';
  const STREAM = 'key-a';

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'liveroom-playback-'));
    rtmpPort = await freePort();
    nms = new NodeMediaServer({ bind: '127.0.0.1', rtmp: { port: rtmpPort, chunk_size: 60000, gop_cache: true, ping: 30, ping_timeout: 60 }, store: { path: dir } });
    nmsLogger.level = 'error';
    // attach the room when its publish starts (the ingest side does this in the app)
    nms.on('postPublish', (session: { streamPath: string; streamName: string }) => {
      if (session.streamName !== STREAM) return;
      playback.attach(ROOM, nmsContext.broadcasts.get(session.streamPath));
    });
    await nms.run();
    playback = await createFlvPlayback({ host: '127.0.0.1', port: 0, logger, ...LIMITS, maxViewerBufferBytes: 256 * 1024 });
    base = `http://127.0.0.1:${playback.port}/live`;
    ffmpeg = push(rtmpPort, STREAM);
    // live once a viewer gets coded video
    await until('the room to be attached', () => playback.viewerCounts()[ROOM] !== undefined);
    const probe = readFlv(`${base}/${ROOM}.flv`);
    await until('video from the push', () => firstCodedVideo(probe.tags) !== undefined);
    probe.close();
    await probe.done;
  });

  after(async () => {
    stop(ffmpeg);
    await playback?.close();
    await nms?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('ffprobe reads the HTTP-FLV URL and finds H.264 640x360 and AAC', async () => {
    const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) => {
      execFile('ffprobe', ['-v', 'error', '-rw_timeout', '20000000', '-show_streams', '-of', 'json', `${base}/${ROOM}.flv`], { timeout: 60_000 }, (err, stdout) =>
        err ? reject(err) : resolve({ stdout }),
      );
    });
    const streams = JSON.parse(stdout).streams as { codec_name: string; width?: number; height?: number }[];
    const video = streams.find((s) => s.codec_name === 'h264');
    assert.ok(video, `no h264 stream in ${stdout}`);
    assert.equal(video.width, 640);
    assert.equal(video.height, 360);
    assert.ok(streams.some((s) => s.codec_name === 'aac'), 'no aac stream');
  });

  test('a WS-FLV client receives the FLV header, then video tags starting on a keyframe', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${playback.port}/live/${ROOM}.flv`);
    const tags: FlvTag[] = [];
    const reader = new FlvTagReader((t) => tags.push({ ...t }));
    ws.on('message', (data: Buffer) => reader.push(data));
    try {
      await once(ws, 'open');
      // pings answered by ws itself interleave with the media frames without corrupting them
      let pongs = 0;
      ws.on('pong', () => pongs++);
      const pinger = setInterval(() => ws.ping(), 20);
      try {
        await until('30 video tags over WS-FLV', () => tags.filter((t) => t.type === FLV_VIDEO).length >= 30);
      } finally {
        clearInterval(pinger);
      }
      assert.ok(pongs > 5, `pongs arrive (${pongs})`);
      assert.equal(reader.headerOk, true);
      assert.equal(reader.error, null);
      const video = tags.filter((t) => t.type === FLV_VIDEO);
      assert.ok(isSequenceHeader(video[0]!), 'the AVC sequence header comes first');
      assert.ok(isKeyframe(firstCodedVideo(tags)!), 'the first coded frame is a keyframe');
      assert.ok(video.slice(1).some((t) => !isKeyframe(t)), 'inter frames follow');
    } finally {
      ws.terminate();
    }
  });

  test('a late joiner starts on a keyframe from the GOP cache', async () => {
    for (let i = 0; i < 3; i++) {
      // join at different points of the 1 s GOP
      await new Promise((r) => setTimeout(r, 370));
      const v = readFlv(`${base}/${ROOM}.flv`);
      try {
        assert.equal(await v.status, 200);
        await until('coded video', () => firstCodedVideo(v.tags) !== undefined);
        assert.ok(isKeyframe(firstCodedVideo(v.tags)!), `join ${i}: first coded video tag is a keyframe`);
        assert.ok(v.tags.some((t) => t.type === 18), 'metadata is sent');
        // the cached GOP and the live tags join without a gap or a repeat
        await until('40 video frames', () => v.tags.filter((t) => t.type === FLV_VIDEO && !isSequenceHeader(t)).length >= 40);
        const ts = v.tags.filter((t) => t.type === FLV_VIDEO && !isSequenceHeader(t)).map((t) => t.timestamp);
        for (let k = 1; k < ts.length; k++) {
          assert.ok(ts[k]! > ts[k - 1]!, `join ${i}: video timestamps increase (${ts[k - 1]} then ${ts[k]})`);
          assert.ok(ts[k]! - ts[k - 1]! <= 80, `join ${i}: no frame is skipped (${ts[k - 1]} then ${ts[k]})`);
        }
        const audio = v.tags.filter((t) => t.type === FLV_AUDIO && !isSequenceHeader(t)).map((t) => t.timestamp);
        for (let k = 1; k < audio.length; k++) {
          assert.ok(audio[k]! > audio[k - 1]!, `join ${i}: audio timestamps increase (${audio[k - 1]} then ${audio[k]})`);
        }
      } finally {
        v.close();
        await v.done;
      }
    }
  });

  test('the viewer count follows viewers joining and leaving', async () => {
    await until('no viewers left from other tests', () => playback.viewers(ROOM) === 0);
    const a = readFlv(`${base}/${ROOM}.flv`);
    const b = new WebSocket(`ws://127.0.0.1:${playback.port}/live/${ROOM}.flv`);
    try {
      await until('2 viewers', () => playback.viewers(ROOM) === 2);
      assert.deepEqual(playback.viewerCounts(), { [ROOM]: 2 });
      a.close();
      await until('1 viewer', () => playback.viewers(ROOM) === 1);
      b.close();
      await until('0 viewers', () => playback.viewers(ROOM) === 0);
    } finally {
      a.close();
      b.terminate();
      await a.done;
    }
  });

  test('an unknown room is 404 over HTTP and WebSocket, with CORS', async () => {
    const res = await fetch(`${base}/no-such-room.flv`);
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.equal((await res.json()).error.code, 'stream_not_found');
    assert.equal((await fetch(`http://127.0.0.1:${playback.port}/live/../etc/passwd`)).status, 404);
    const ws = new WebSocket(`ws://127.0.0.1:${playback.port}/live/no-such-room.flv`);
    ws.on('error', () => {});
    const [req, res2] = (await once(ws, 'unexpected-response')) as [{ destroy(): void }, { statusCode: number }];
    assert.equal(res2.statusCode, 404);
    req.destroy();
    const pre = await fetch(`${base}/${ROOM}.flv`, { method: 'OPTIONS', headers: { origin: 'http://example.com', 'access-control-request-method': 'GET' } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), '*');
  });

  test('a reader that stops reading is dropped, others keep playing', async () => {
    const fast = readFlv(`${base}/${ROOM}.flv`);
    // a raw client that sends the request, then never reads
    const slow = net.connect(playback.port, '127.0.0.1');
    await once(slow, 'connect');
    slow.write(`GET /live/${ROOM}.flv HTTP/1.1\r\nHost: x\r\n\r\n`);
    slow.pause();
    let slowClosed = false;
    slow.on('close', () => (slowClosed = true));
    slow.on('error', () => {});
    try {
      assert.equal(await fast.status, 200);
      await until('2 viewers', () => playback.viewers(ROOM) === 2);
      await until('the slow reader to be dropped', () => playback.viewers(ROOM) === 1, 120_000);
      // the server closed it: its socket ends once the client reads again
      slow.resume();
      await until('the slow socket to close', () => slowClosed);
      const before = fast.reader.bytes;
      await until('the fast reader to keep receiving', () => fast.reader.bytes > before + 50_000);
      assert.equal(fast.reader.error, null);
    } finally {
      slow.destroy();
      fast.close();
      await fast.done;
    }
  });

  test('a room going offline ends its viewers and then answers 404', async () => {
    const v = readFlv(`${base}/${ROOM}.flv`);
    const ws = new WebSocket(`ws://127.0.0.1:${playback.port}/live/${ROOM}.flv`);
    const wsClosed = once(ws, 'close');
    await until('2 viewers', () => playback.viewers(ROOM) === 2);
    playback.detach(ROOM);
    await v.done; // the response body ends
    const [code] = (await wsClosed) as [number];
    assert.equal(code, 1000);
    assert.equal(playback.viewers(ROOM), 0);
    assert.deepEqual(playback.viewerCounts(), {});
    assert.equal((await fetch(`${base}/${ROOM}.flv`)).status, 404);
    // attach again for the remaining tests
    const broadcast = [...nmsContext.broadcasts.values()].find((b: { streamPath: string }) => b.streamPath === `/live/${STREAM}`);
    playback.attach(ROOM, broadcast);
    const again = readFlv(`${base}/${ROOM}.flv`);
    await until('video after re-attaching', () => firstCodedVideo(again.tags) !== undefined);
    assert.ok(isKeyframe(firstCodedVideo(again.tags)!));
    again.close();
    await again.done;
  });

  test('close() ends every viewer and leaves no sockets or timers behind', async () => {
    const count = () => {
      const out: Record<string, number> = {};
      for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
      return out;
    };
    const baseline = count();
    const second = await createFlvPlayback({ host: '127.0.0.1', port: 0, logger, ...LIMITS, maxBatchDelayMs: 20 });
    const broadcast = [...nmsContext.broadcasts.values()].find((b: { streamPath: string }) => b.streamPath === `/live/${STREAM}`);
    const subscribers = broadcast.subscribers.size;
    second.attach('room-b', broadcast);
    assert.equal(broadcast.subscribers.size, subscribers + 1);
    const v = readFlv(`http://127.0.0.1:${second.port}/live/room-b.flv`);
    const ws = new WebSocket(`ws://127.0.0.1:${second.port}/live/room-b.flv`);
    const wsClosed = once(ws, 'close');
    await until('2 viewers with video', () => second.viewers('room-b') === 2 && firstCodedVideo(v.tags) !== undefined);
    await second.close();
    await second.close(); // a second close waits on the first
    await v.done;
    await wsClosed;
    const refused = await fetch(`http://127.0.0.1:${second.port}/live/room-b.flv`).then(
      () => false,
      () => true,
    );
    assert.ok(refused, 'the port is closed');
    // our internal subscriber left the broadcast
    assert.equal(broadcast.subscribers.size, subscribers);
    await new Promise((r) => setImmediate(r));
    const left = count();
    for (const kind of ['TCPServerWrap', 'TCPSocketWrap', 'Timeout', 'Immediate']) {
      assert.ok((left[kind] ?? 0) <= (baseline[kind] ?? 0), `${kind}: ${left[kind]} left, ${baseline[kind]} before`);
    }
  });
});

// The fan-out logic against a scripted broadcast: exact tag sequences, no ffmpeg.
describe('FLV playback with a scripted broadcast', () => {
  const meta = () => flvTag(18, 0, 0x02, 0x00);
  const aacHeader = () => flvTag(8, 0, 0xaf, 0);
  const avcHeader = () => flvTag(9, 0, 0x17, 0);
  const key = (ts: number, size = 20) => flvTag(9, ts, 0x17, 1, size);
  const inter = (ts: number) => flvTag(9, ts, 0x27, 1);
  const audio = (ts: number) => flvTag(8, ts, 0xaf, 1);

  function fakeBroadcast(name: string) {
    const b = {
      streamPath: `/live/${name}`,
      session: null as null | { sendBuffer(buf: Buffer): void },
      postPlay(s: { sendBuffer(buf: Buffer): void }) {
        b.session = s;
        return null;
      },
      donePlay() {
        b.session = null;
      },
      send(...tags: Buffer[]) {
        for (const t of tags) b.session!.sendBuffer(t);
      },
    };
    return b;
  }
  const describeTag = (t: FlvTag) =>
    t.type === 18 ? 'meta' : `${t.type === 9 ? 'v' : 'a'}${isSequenceHeader(t) ? 'seq' : isKeyframe(t) ? `K${t.timestamp}` : t.timestamp}`;
  const turn = () => new Promise((r) => setImmediate(r));

  let playback: FlvPlayback;
  let base: string;
  before(async () => {
    // audio waits for video as long as a test needs it to
    playback = await createFlvPlayback({ host: '127.0.0.1', port: 0, logger, ...LIMITS, maxBatchDelayMs: 60_000, maxGopBytes: 4096 });
    base = `http://127.0.0.1:${playback.port}/live`;
  });
  after(() => playback.close());

  test('a viewer joining while audio is queued gets every tag exactly once, in order', async () => {
    const b = fakeBroadcast('s1');
    playback.attach('s1', b);
    b.send(Buffer.from('FLV\x01\x05\0\0\0\x09\0\0\0\0', 'latin1'), meta(), aacHeader(), avcHeader(), key(0), audio(10), inter(40));
    await turn();
    b.send(audio(50)); // queued until the next video frame
    const v = readFlv(`${base}/s1.flv`);
    try {
      await until('the viewer', () => playback.viewers('s1') === 1);
      await until('the start-up tags', () => v.tags.length >= 6);
      b.send(inter(80));
      await until('the next batch', () => v.tags.length >= 8);
      await turn();
      assert.equal(v.reader.headerOk, true);
      assert.deepEqual(v.tags.map(describeTag), ['meta', 'aseq', 'vseq', 'vK0', 'a10', 'v40', 'a50', 'v80']);
    } finally {
      v.close();
      await v.done;
      playback.detach('s1');
    }
  });

  test('a viewer joining before the publisher sent anything still gets the metadata and sequence headers first', async () => {
    // a WHIP bridge goes live seconds before its ffmpeg writes the FLV header: early viewers wait in between
    const b = fakeBroadcast('s0');
    playback.attach('s0', b);
    const v = readFlv(`${base}/s0.flv`);
    try {
      await until('the viewer', () => playback.viewers('s0') === 1);
      b.send(Buffer.from('FLV\x01\x05\0\0\0\x09\0\0\0\0', 'latin1'), meta(), aacHeader(), avcHeader());
      await turn();
      b.send(audio(10), key(40), audio(50), inter(80));
      await until('the keyframe and after', () => v.tags.length >= 6);
      await turn();
      assert.deepEqual(v.tags.map(describeTag), ['meta', 'aseq', 'vseq', 'vK40', 'a50', 'v80']);
    } finally {
      v.close();
      await v.done;
      playback.detach('s0');
    }
  });

  test('a viewer joining before any keyframe starts at the next keyframe', async () => {
    const b = fakeBroadcast('s2');
    playback.attach('s2', b);
    b.send(meta(), aacHeader(), avcHeader());
    const v = readFlv(`${base}/s2.flv`);
    try {
      await until('the viewer', () => playback.viewers('s2') === 1);
      await until('the headers', () => v.tags.length >= 3);
      b.send(inter(40), audio(50));
      await turn();
      b.send(key(80), audio(90), inter(120));
      await until('the keyframe and after', () => v.tags.length >= 6);
      await turn();
      assert.deepEqual(v.tags.map(describeTag), ['meta', 'aseq', 'vseq', 'vK80', 'a90', 'v120']);
    } finally {
      v.close();
      await v.done;
      playback.detach('s2');
    }
  });

  test('past the viewer limit new viewers get 503 until a seat frees up', async () => {
    const small = await createFlvPlayback({ host: '127.0.0.1', port: 0, logger, ...LIMITS, maxViewers: 1 });
    const b = fakeBroadcast('s4');
    small.attach('s4', b);
    const url = `http://127.0.0.1:${small.port}/live/s4.flv`;
    const first = readFlv(url);
    try {
      assert.equal(await first.status, 200);
      await until('the first viewer', () => small.viewers('s4') === 1);
      const second = await fetch(url);
      assert.equal(second.status, 503);
      assert.equal((await second.json()).error.code, 'too_many_viewers');
      const ws = new WebSocket(`ws://127.0.0.1:${small.port}/live/s4.flv`);
      ws.on('error', () => {});
      const [req, res] = (await once(ws, 'unexpected-response')) as [{ destroy(): void }, { statusCode: number }];
      assert.equal(res.statusCode, 503);
      req.destroy();
      first.close();
      await until('the seat to free up', () => small.viewers('s4') === 0);
      const third = readFlv(url);
      assert.equal(await third.status, 200);
      third.close();
      await third.done;
    } finally {
      first.close();
      await first.done;
      await small.close();
    }
  });

  test('garbage on the playback port gets a 400, never lands inside a stream, and breaks nothing', async () => {
    const b = fakeBroadcast('s5');
    playback.attach('s5', b);
    b.send(meta(), aacHeader(), avcHeader(), key(0));
    try {
      const rawReply = async (bytes: Buffer | string, afterFirstData?: Buffer) => {
        const s = net.connect(playback.port, '127.0.0.1');
        await once(s, 'connect');
        const chunks: Buffer[] = [];
        s.on('data', (d) => {
          if (chunks.length === 0 && afterFirstData) s.write(afterFirstData);
          chunks.push(d);
        });
        s.on('error', () => {});
        s.write(bytes);
        await once(s, 'close');
        return Buffer.concat(chunks).toString('latin1');
      };
      const junk = Buffer.from('\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 garbage \r\n\r\n', 'latin1');
      assert.match(await rawReply(junk), /^HTTP\/1\.1 400/);
      // a viewer that sends junk after its request is cut off, without an HTTP answer in its FLV stream
      const got = await rawReply(`GET /live/s5.flv HTTP/1.1\r\nHost: x\r\n\r\n`, junk);
      assert.match(got, /^HTTP\/1\.1 200 OK/);
      assert.equal(got.indexOf('HTTP/1.1', 1), -1, 'nothing but FLV after the response head');
      assert.ok(got.includes('FLV'), 'the stream had started');
      await until('the cut-off viewer to be gone', () => playback.viewers('s5') === 0);
      const v = readFlv(`${base}/s5.flv`);
      assert.equal(await v.status, 200);
      await until('video for a new viewer', () => v.tags.some(isKeyframe));
      v.close();
      await v.done;
    } finally {
      playback.detach('s5');
    }
  });

  test('past the GOP size cap, new viewers wait for the next keyframe instead of replaying', async () => {
    const b = fakeBroadcast('s3');
    playback.attach('s3', b);
    b.send(meta(), aacHeader(), avcHeader(), key(0, 5000)); // bigger than maxGopBytes
    await turn();
    b.send(inter(40));
    await turn();
    const v = readFlv(`${base}/s3.flv`);
    try {
      await until('the viewer', () => playback.viewers('s3') === 1);
      await until('the headers', () => v.tags.length >= 3);
      b.send(inter(80));
      await turn();
      b.send(key(120));
      await until('the keyframe', () => v.tags.length >= 4);
      await turn();
      assert.deepEqual(v.tags.map(describeTag), ['meta', 'aseq', 'vseq', 'vK120']);
    } finally {
      v.close();
      await v.done;
      playback.detach('s3');
    }
  });
});

describe('HLS viewer counts', () => {
  test('playlist GETs from one address with hundreds of User-Agents count as one viewer; another address is another', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'liveroom-hls-'));
    await mkdir(path.join(dir, 'r1'));
    await writeFile(path.join(dir, 'r1', 'index.m3u8'), '#EXTM3U\n#EXT-X-TARGETDURATION:2\n');
    const hls = createHlsServer({ dir, viewerWindowMs: 60_000, maxViewersPerRoom: 20_000, viewersPerAddress: 1 });
    const server = http.createServer((req, res) => {
      if (!hls.handle(req, res)) res.writeHead(404).end();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as net.AddressInfo;
    const get = (ua: string, localAddress?: string) =>
      new Promise<number>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port, path: '/hls/r1/index.m3u8', headers: { 'user-agent': ua }, localAddress }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
      });
    try {
      assert.equal(await get('player-0'), 200);
      assert.deepEqual(hls.viewerCounts(), { r1: 1 });
      // the inflation: 1,000 fetches from one address under 500 User-Agents
      for (let round = 0; round < 20; round++) {
        const statuses = await Promise.all(Array.from({ length: 50 }, (_, i) => get(`player-${(round * 50 + i) % 500}`)));
        assert.ok(statuses.every((st) => st === 200));
      }
      assert.deepEqual(hls.viewerCounts(), { r1: 1 }, 'one address is one HLS viewer');
      // a second address (127.0.0.2 is loopback too on Linux) is a second viewer
      assert.equal(await get('player-0', '127.0.0.2'), 200);
      assert.deepEqual(hls.viewerCounts(), { r1: 2 });
    } finally {
      server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

test('HLS viewers are counted by IPv4 address (also IPv4-mapped) and by IPv6 /64', () => {
  assert.equal(addressGroup('203.0.113.9'), '203.0.113.9');
  assert.equal(addressGroup('::ffff:203.0.113.9'), '203.0.113.9');
  assert.equal(addressGroup('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(addressGroup('2001:db8:0:0:dead:beef:1:2'), '2001:db8:0:0::/64');
  assert.equal(addressGroup('2001:0db8:0000:0000::7'), '2001:db8:0:0::/64');
  assert.notEqual(addressGroup('2001:db8:0:1::1'), addressGroup('2001:db8::1'));
});
