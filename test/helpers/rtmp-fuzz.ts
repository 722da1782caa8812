// RTMP fuzzing: a real publish by ffmpeg is recorded (client to server bytes,
// through a recording proxy), then replayed with seeded mutations at every
// layer — handshake bytes, chunk headers and sizes, message lengths, AMF
// commands, FLV payloads, extended timestamps — and truncated anywhere. Used
// by test/rtmp-fuzz.test.ts (bounded) and loadtest/rtmp-fuzz.ts (10,000 cases).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { startTestApp, type TestApp } from './app.ts';
import { readFlv } from './flv.ts';
import { MEDIA_ENV, newRoom, push, waitStatus } from './media.ts';

const HANDSHAKE = 1 + 1536 + 1536; // C0, C1, C2

/** Records what ffmpeg sends when it publishes `seconds` of a tiny test pattern to `key`. */
export async function recordPublish(rtmpPort: number, key: string, seconds = 1): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const proxy = net.createServer((client) => {
    const upstream = net.connect(rtmpPort, '127.0.0.1');
    client.on('data', (d) => chunks.push(Buffer.from(d)));
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  proxy.listen(0, '127.0.0.1');
  await once(proxy, 'listening');
  const { port } = proxy.address() as net.AddressInfo;
  const ffmpeg = spawn(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', `testsrc=size=160x90:rate=15:duration=${seconds}`, '-f', 'lavfi', '-i', `sine=frequency=440:duration=${seconds}`,
      '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '15', '-b:v', '100k', '-c:a', 'aac', '-b:a', '32k', '-f', 'flv', `rtmp://127.0.0.1:${port}/live/${key}`],
    { stdio: 'ignore' },
  );
  await once(ffmpeg, 'exit');
  await new Promise<void>((r) => proxy.close(() => r()));
  const session = Buffer.concat(chunks);
  if (session.length <= HANDSHAKE) throw new Error(`recorded only ${session.length} bytes`);
  return session;
}

export interface FuzzCase {
  what: string;
  bytes: Buffer;
}

/** Positions weighted towards the start, where the handshake, connect and publish commands and headers are. */
const position = (len: number) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 0, max: Math.min(len - 1, HANDSHAKE + 600) }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: len - 1 }) },
  );

export function fuzzCases(session: Buffer): fc.Arbitrary<FuzzCase> {
  const len = session.length;
  const copy = () => Buffer.from(session);
  return fc.oneof(
    fc.array(fc.tuple(position(len), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 16 }).map((flips) => {
      const b = copy();
      for (const [at, bit] of flips) b[at]! ^= 1 << bit;
      return { what: `${flips.length} bit flips at ${flips.map(([a]) => a).join(',')}`, bytes: b };
    }),
    fc.tuple(position(len), fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([at, bytes]) => {
      const b = copy();
      b.set(bytes.subarray(0, len - at), at);
      return { what: `bytes overwritten at ${at}`, bytes: b };
    }),
    // Values that break parsers: all-ones lengths (extended timestamps, huge message lengths), zeros, chunk-size commands.
    fc.tuple(position(len), fc.constantFrom(Buffer.from([0xff, 0xff, 0xff]), Buffer.from([0x00, 0x00, 0x00]), Buffer.from([0x7f, 0xff, 0xff, 0xff]), Buffer.from([0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0, 1]))).map(([at, v]) => {
      const b = copy();
      v.copy(b, at, 0, Math.min(v.length, len - at));
      return { what: `${v.toString('hex')} written at ${at}`, bytes: b };
    }),
    fc.integer({ min: 0, max: len - 1 }).map((at) => ({ what: `truncated at ${at}`, bytes: session.subarray(0, at) })),
    fc.tuple(position(len), fc.uint8Array({ minLength: 1, maxLength: 512 })).map(([at, ins]) => ({
      what: `${ins.length} random bytes inserted at ${at}`,
      bytes: Buffer.concat([session.subarray(0, at), Buffer.from(ins), session.subarray(at)]),
    })),
    fc.tuple(position(len), fc.integer({ min: 1, max: 4096 })).map(([at, n]) => ({
      what: `${n} bytes from ${at} repeated`,
      bytes: Buffer.concat([session.subarray(0, at + n), session.subarray(at)]),
    })),
    fc.uint8Array({ maxLength: 4096 }).map((b) => ({ what: `${b.length} random bytes`, bytes: Buffer.from(b) })),
  );
}

/** Sends one case and waits until the server closes the connection or stops reading (at most `idleMs` of quiet). */
export async function sendCase(port: number, c: FuzzCase, idleMs = 300): Promise<void> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.on('data', () => {});
  await Promise.race([once(socket, 'connect'), once(socket, 'close')]);
  if (!socket.destroyed) {
    // In a few writes, as a network delivers it: the server's parser meets partial frames too.
    for (let at = 0; at < c.bytes.length && !socket.destroyed; at += 16_384) {
      if (!socket.write(c.bytes.subarray(at, at + 16_384))) await Promise.race([once(socket, 'drain'), once(socket, 'close')]);
    }
    await new Promise<void>((resolve) => {
      let timer = setTimeout(resolve, idleMs);
      socket.on('data', () => {
        clearTimeout(timer);
        timer = setTimeout(resolve, idleMs);
      });
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  socket.destroy();
}

export interface RtmpFuzzReport {
  seed: number;
  cases: number;
  ms: number;
  /** API health checks that did not answer 200 during the run. */
  healthFailures: number;
  /** Longest time the watched stream delivered no FLV tag, in ms. */
  longestGapMs: number;
  /** Times the watched stream's FLV response ended during the run. */
  interruptions: number;
  mediaRestarts: number;
  rssMb: { start: number; end: number; max: number };
}

export interface FuzzRig {
  rtmpPort: number;
  /** The API's /healthz answers 200. */
  healthy(): Promise<boolean>;
  /** Media restarts so far (the supervisor's counter). */
  restarts(): Promise<number>;
  /** Resident memory of the media process in MB, or NaN. */
  mediaRssMb(): number;
  /** Watched stream: time of the last FLV tag, and how many times its response ended. */
  watched(): { lastTagAt: number; ended: number };
}

export async function runRtmpFuzz(rig: FuzzRig, session: Buffer, opts: { cases: number; seed: number; concurrency?: number }): Promise<RtmpFuzzReport> {
  const cases = fc.sample(fuzzCases(session), { numRuns: opts.cases, seed: opts.seed });
  const t0 = performance.now();
  const restarts0 = await rig.restarts();
  const ended0 = rig.watched().ended;
  const rss = { start: rig.mediaRssMb(), end: 0, max: 0 };
  let healthFailures = 0;
  let longestGapMs = 0;
  let next = 0;
  let done = false;
  const sampler = (async () => {
    while (!done) {
      longestGapMs = Math.max(longestGapMs, Date.now() - rig.watched().lastTagAt);
      rss.max = Math.max(rss.max, rig.mediaRssMb() || 0);
      if (!(await rig.healthy())) healthFailures++;
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  await Promise.all(
    Array.from({ length: opts.concurrency ?? 8 }, async () => {
      while (next < cases.length) await sendCase(rig.rtmpPort, cases[next++]!);
    }),
  );
  done = true;
  await sampler;
  rss.end = rig.mediaRssMb();
  return {
    seed: opts.seed,
    cases: cases.length,
    ms: performance.now() - t0,
    healthFailures,
    longestGapMs,
    interruptions: rig.watched().ended - ended0,
    mediaRestarts: (await rig.restarts()) - restarts0,
    rssMb: rss,
  };
}

/**
 * A server with the media role, one room live from ffmpeg and watched over
 * HTTP-FLV (reopened if its response ends), and a second room whose key the
 * recorded session publishes to.
 */
export async function startRtmpFuzzRig(): Promise<{ rig: FuzzRig; session: Buffer; app: TestApp; close(): Promise<void> }> {
  const app = await startTestApp('pglite', { ...MEDIA_ENV, RTMP_HANDSHAKE_TIMEOUT_SEC: '2', RTMP_MAX_CONNECTIONS: '1000' });
  const rtmpPort = app.media!.ports().rtmp;
  const watchedRoom = await newRoom(app);
  const target = await newRoom(app);
  const pusher = push(`rtmp://127.0.0.1:${rtmpPort}/live/${watchedRoom.key}`);
  await waitStatus(app, watchedRoom.roomId, 'live');
  const session = await recordPublish(rtmpPort, target.key);
  let lastTagAt = Date.now();
  let ended = 0;
  let closing = false;
  let reader: ReturnType<typeof readFlv> | undefined;
  const watch = () => {
    const r = readFlv(watchedRoom.playback.flv);
    reader = r;
    let seen = 0;
    const poll = setInterval(() => {
      if (r.tags.length > seen) {
        seen = r.tags.length;
        r.tags.length = 0; // keep memory flat; only arrival matters here
        seen = 0;
        lastTagAt = Date.now();
      }
    }, 50);
    const onEnd = () => {
      clearInterval(poll);
      if (closing) return;
      ended++;
      setTimeout(watch, 200);
    };
    void r.done.then(onEnd, onEnd); // a stream cut by an error ended too
  };
  watch();
  const rig: FuzzRig = {
    rtmpPort,
    healthy: async () => (await app.http.request('GET', '/healthz').catch(() => ({ status: 0 }))).status === 200,
    restarts: async () => {
      // One retry: a reused keep-alive connection the server just closed fails once (ECONNRESET), not the server.
      const metrics = await app.http.request('GET', '/metrics').catch(() => app.http.request('GET', '/metrics'));
      return Number(/^liveroom_media_restarts_total (\d+)/m.exec(metrics.body)?.[1] ?? 0);
    },
    mediaRssMb: () => {
      try {
        const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${app.media!.pid()}/status`, 'utf8'))?.[1];
        return kb ? Number(kb) / 1024 : NaN;
      } catch {
        return NaN;
      }
    },
    watched: () => ({ lastTagAt, ended }),
  };
  return {
    rig,
    session,
    app,
    close: async () => {
      closing = true;
      reader?.close();
      pusher.kill();
      await app.close();
    },
  };
}
