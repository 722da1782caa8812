// Helpers for media tests: ffmpeg pushing a generated test pattern, ffprobe,
// raw RTMP for malformed-input tests, and process checks (FLV readers: flv.ts).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { uniqueName, type HttpClient, type TestApp } from './app.ts';
import { freePort, killOnExit, startServerProcess, type ServerProcess } from './server-process.ts';
import { eventually } from './wait.ts';

/** A test app with the media role, short intervals and a short resume grace. */
export const MEDIA_ENV = {
  ROLES: 'http,rooms,jobs,media',
  HLS_SEGMENT_SEC: '1',
  THUMBNAIL_EVERY_SEC: '1',
  MEDIA_VIEWERS_REPORT_SEC: '1',
  MEDIA_RESUME_GRACE_SEC: '4',
  MEDIA_RESTART_BACKOFF_MS: '200',
  RTMP_HANDSHAKE_TIMEOUT_SEC: '2',
  JOBS_POLL_MS: '200',
};

interface Created {
  token: string;
  userId: string;
  roomId: string;
  key: string;
  rtmpUrl: string;
  playback: { flv: string; wsFlv: string; hls: string };
}

export async function newRoom(app: { http: HttpClient }, json: Record<string, unknown> = {}): Promise<Created> {
  const u = await app.http.register(uniqueName('media'));
  const r = await app.http.request('POST', '/api/rooms', { token: u.token, json: { title: 'Test pattern', ...json } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return { token: u.token, userId: u.id, roomId: r.body.room.id, key: r.body.ingest.streamKey, rtmpUrl: r.body.ingest.rtmpUrl, playback: r.body.room.playback };
}

export const getRoom = async (app: { http: HttpClient }, id: string) => (await app.http.request('GET', `/api/rooms/${id}`)).body.room;
export const waitStatus = (app: { http: HttpClient }, id: string, status: string, ms = 20_000) =>
  eventually(async () => {
    const room = await getRoom(app, id);
    return room.status === status && !room.interrupted ? room : undefined;
  }, `room ${status}`, ms);
export const sessions = async (app: TestApp, id: string) => (await app.http.request('GET', `/api/rooms/${id}/sessions`)).body.items;

export const PUSH_WIDTH = 640;
export const PUSH_HEIGHT = 360;

export interface Push {
  child: ChildProcess;
  /** Resolves with the exit code (or signal) when ffmpeg ends. */
  exited: Promise<number | string>;
  running(): boolean;
  stderr(): string;
  kill(): void;
}

/** ffmpeg pushing testsrc + sine (H.264 + AAC, 1 s GOP) to `url`, for `seconds` or until killed. */
export function push(url: string, opts: { seconds?: number } = {}): Push {
  // prettier-ignore
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', `testsrc=size=${PUSH_WIDTH}x${PUSH_HEIGHT}:rate=25`, '-f', 'lavfi', '-i', 'sine=frequency=440',
    ...(opts.seconds ? ['-t', String(opts.seconds)] : []),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-b:v', '800k',
    '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', url];
  const child = killOnExit(spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] }));
  let err = '';
  child.stderr!.on('data', (d) => (err = (err + d).slice(-4000)));
  const exited = once(child, 'exit').then(([code, signal]) => (code ?? signal) as number | string);
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    exited,
    running,
    stderr: () => err,
    kill: () => {
      if (child.pid && running()) process.kill(child.pid, 'SIGKILL');
    },
  };
}

/** Resolves when `p` exits, rejects if it still runs after `ms`. */
export async function exitsWithin(p: Push, ms: number, what: string): Promise<number | string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: ffmpeg still pushing after ${ms} ms`)), ms)));
  try {
    return await Promise.race([p.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface ProbedStream {
  codec_type: string;
  codec_name: string;
  width?: number;
  height?: number;
}

export function ffprobe(url: string, entries = 'stream=codec_type,codec_name,width,height:format=duration'): Promise<{ streams: ProbedStream[]; format?: { duration?: string } }> {
  return new Promise((resolve, reject) => {
    execFile('ffprobe', ['-v', 'error', '-rw_timeout', '15000000', '-show_entries', entries, '-of', 'json', url], { timeout: 60_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`ffprobe ${url}: ${err.message} ${stderr}`)) : resolve(JSON.parse(stdout)),
    );
  });
}

// --- raw RTMP (malformed input) -------------------------------------------------

/** A TCP client to the RTMP port that records whether the server closed it. */
/** The video and audio codec names ffprobe finds at `url` (a data track, as in FLV, is left out). */
export async function codecNames(url: string): Promise<[string | undefined, string | undefined]> {
  const { streams } = await ffprobe(url);
  return [streams.find((s) => s.codec_type === 'video')?.codec_name, streams.find((s) => s.codec_type === 'audio')?.codec_name];
}

export async function rawRtmp(port: number): Promise<{ socket: net.Socket; closed: Promise<void>; received: () => number }> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  let received = 0;
  socket.on('data', (d) => (received += d.length));
  const closed = once(socket, 'close').then(() => {});
  await once(socket, 'connect');
  return { socket, closed, received: () => received };
}

/** C0 + C1, then waits for S0+S1+S2 and sends C2: a completed simple handshake. */
export async function handshake(socket: net.Socket): Promise<void> {
  let got = 0;
  const enough = new Promise<void>((resolve) => {
    const on = (d: Buffer) => {
      got += d.length;
      if (got >= 1 + 1536 * 2) {
        socket.off('data', on);
        resolve();
      }
    };
    socket.on('data', on);
  });
  socket.write(Buffer.concat([Buffer.from([3]), Buffer.alloc(1536)]));
  await enough;
  socket.write(Buffer.alloc(1536));
}

const amfString = (s: string) => {
  const b = Buffer.from(s, 'utf8');
  const h = Buffer.alloc(3);
  h[0] = 0x02;
  h.writeUInt16BE(b.length, 1);
  return Buffer.concat([h, b]);
};
const amfNumber = (n: number) => {
  const b = Buffer.alloc(9);
  b[0] = 0x00;
  b.writeDoubleBE(n, 1);
  return b;
};
const amfNull = () => Buffer.from([0x05]);
const amfObject = (o: Record<string, string | number>) => {
  const parts: Buffer[] = [Buffer.from([0x03])];
  for (const [k, v] of Object.entries(o)) {
    const key = Buffer.from(k, 'utf8');
    const len = Buffer.alloc(2);
    len.writeUInt16BE(key.length);
    parts.push(len, key, typeof v === 'number' ? amfNumber(v) : amfString(v));
  }
  parts.push(Buffer.from([0x00, 0x00, 0x09]));
  return Buffer.concat(parts);
};

/** One RTMP message in a single type-0 chunk (the chunk size must cover it). */
export function rtmpMessage(cid: number, type: number, streamId: number, payload: Buffer, length = payload.length): Buffer {
  const h = Buffer.alloc(12);
  h[0] = cid & 0x3f; // fmt 0
  h.writeUIntBE(0, 1, 3); // timestamp
  h.writeUIntBE(length, 4, 3);
  h[7] = type;
  h.writeUInt32LE(streamId, 8);
  return Buffer.concat([h, payload]);
}

export const setChunkSize = (size: number) => {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(size >>> 0);
  return rtmpMessage(2, 1, 0, p);
};
export const connectCommand = (tcUrl: string) => rtmpMessage(3, 20, 0, Buffer.concat([amfString('connect'), amfNumber(1), amfObject({ app: 'live', tcUrl })]));
export const createStreamCommand = () => rtmpMessage(3, 20, 0, Buffer.concat([amfString('createStream'), amfNumber(2), amfNull()]));
export const publishCommand = (name: string) => rtmpMessage(8, 20, 1, Buffer.concat([amfString('publish'), amfNumber(3), amfNull(), amfString(name), amfString('live')]));

// --- processes ----------------------------------------------------------------

export { freePort };

export interface LoggedServer {
  http: HttpClient;
  /** Everything the server and its media process wrote to stdout and stderr so far. */
  output(): string;
  /** SIGTERM (SIGKILL if it hangs for 10 s), then its DATA_DIR is removed. */
  close(): Promise<void>;
}

/**
 * `src/main.ts` as its own process (PGlite in a fresh DATA_DIR, media on free
 * ports), its output captured: for tests of what lands in the server log.
 * Resolves once /readyz is 200 (every role, media too, is up).
 */
export async function spawnServer(env: Record<string, string>): Promise<LoggedServer> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'liveroom-proc-'));
  let server: ServerProcess;
  try {
    const processEnv = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      ...MEDIA_ENV,
      RTMP_PORT: String(await freePort()),
      MEDIA_HTTP_PORT: String(await freePort()),
      DATA_DIR: dataDir,
      JWT_SECRET: 'proc-test-secret-proc-test-secret-0123',
      ...env,
    };
    server = await startServerProcess(processEnv, { captureStdout: true, readyPath: '/readyz', timeoutMs: 90_000 });
  } catch (e) {
    await rm(dataDir, { recursive: true, force: true });
    throw e;
  }
  const close = async () => {
    const timer = setTimeout(() => void server.stop('SIGKILL'), 10_000);
    await server.stop('SIGTERM');
    clearTimeout(timer);
    await rm(dataDir, { recursive: true, force: true });
  };
  return { http: server.http, output: server.output, close };
}

export function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    // a zombie still answers kill(0): it has exited
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Pids of running ffmpeg processes whose command line mentions `needle` (e.g. a test's data directory). */
export function ffmpegsMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (cmd.includes('ffmpeg') && cmd.includes(needle) && alive(Number(name))) out.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

// --- stalled HTTP requests ----------------------------------------------------

export interface Stalled {
  connected: Promise<void>;
  /** The reply's status (0 while none came). */
  status(): number;
  /** Milliseconds from connecting to the first reply byte, if any came. */
  answeredAfter(): number | undefined;
  /** Resolves with the milliseconds from connecting to the server closing the socket. */
  closed: Promise<number>;
  /** Neither answered nor closed yet. */
  waiting(): boolean;
}

/**
 * A POST whose headers announce a body (Content-Length 1000) that never comes,
 * from `from` (any 127.x address on Linux: a client address of its own).
 */
export function stalledPost(port: number, path: string, opts: { from: string; headers?: Record<string, string> }): Stalled {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress: opts.from });
  socket.on('error', () => {});
  let t0 = performance.now();
  let reply = '';
  let answeredAfter: number | undefined;
  let isClosed = false;
  socket.on('data', (d) => {
    answeredAfter ??= performance.now() - t0;
    reply += d;
  });
  const closed = once(socket, 'close').then(() => {
    isClosed = true;
    return performance.now() - t0;
  });
  const connected = once(socket, 'connect').then(() => {
    t0 = performance.now();
    const headers = { Host: '127.0.0.1', 'Content-Type': 'application/sdp', 'Content-Length': '1000', ...opts.headers };
    socket.write(`POST ${path} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`);
  });
  return {
    connected,
    status: () => Number(/^HTTP\/1\.1 (\d{3})/.exec(reply)?.[1] ?? 0),
    answeredAfter: () => answeredAfter,
    closed,
    waiting: () => answeredAfter === undefined && !isClosed,
  };
}
