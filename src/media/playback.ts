// HTTP-FLV and WS-FLV playback by room id, fed by node-media-server.
//
// One internal subscriber per live room receives the FLV tags that
// node-media-server builds once per packet; this module fans them out to its
// own viewers. Hot-path rules (the cost per viewer is what limits a media node,
// and that cost is mostly one socket write, so: fewer writes):
// - tags are batched: a coded video frame is sent at the end of the event-loop
//   turn it arrived in, together with the audio and data queued since the last
//   one; audio waits at most `maxBatchDelayMs` for a video frame. At 25 fps that
//   is 25 writes per viewer per second instead of ~70 (one per tag);
// - a batch is joined into ONE buffer that every viewer shares;
// - nothing is allocated per viewer per tag and nothing is logged per packet;
// - HTTP responses are written straight to the socket, without chunked framing.
import http from 'node:http';
import type { Socket } from 'node:net';
import { createRequire } from 'node:module';
import { WebSocketServer, WebSocket } from 'ws';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';

const require = createRequire(import.meta.url);
// node-media-server's session base: gives the internal subscriber the fields
// its BroadcastServer reads (id, endTime, stats).
const BaseSession = require('node-media-server/src/session/base_session.js') as new () => NmsSession;

interface NmsSession {
  id: string;
  ip: string;
  protocol: string;
  streamPath: string;
  streamApp: string;
  streamName: string;
  outBytes: number;
  sendBuffer: (buffer: Buffer) => void;
  close: () => void;
}

/** The part of node-media-server's BroadcastServer this module uses. */
interface NmsBroadcast {
  streamPath: string;
  postPlay(session: NmsSession): string | null;
  donePlay(session: NmsSession): void;
}

export interface FlvPlayback {
  port: number;
  attach(roomId: string, broadcast: unknown): void;
  detach(roomId: string): void;
  viewers(roomId: string): number;
  viewerCounts(): Record<string, number>;
  close(): Promise<void>;
}

export interface FlvPlaybackOptions {
  host: string;
  port: number;
  logger: Logger;
  /** A viewer whose unsent bytes exceed this is dropped (it cannot keep up). */
  maxViewerBufferBytes?: number;
  /** The GOP cache is abandoned past this size; new viewers then wait for the next keyframe. */
  maxGopBytes?: number;
  /** The longest audio/data tags wait for the next video frame before they are sent on their own. */
  maxBatchDelayMs?: number;
  /** Viewers across all rooms of this node; past it new viewers get 503. */
  maxViewers?: number;
  /** A request (headers and any body) must arrive whole within this; a GET stream is complete at once and never cut. */
  requestTimeoutMs?: number;
  /** Other GET/HEAD routes on the same server (HLS): return true when the request was handled. */
  onRequest?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean;
  /** Runs before the method checks (WHIP takes POST, DELETE and its own OPTIONS); true = handled. */
  intercept?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean;
}

export const FLV_DEFAULTS = {
  maxViewerBufferBytes: 4 * 1024 * 1024,
  maxGopBytes: 16 * 1024 * 1024,
  maxBatchDelayMs: 50,
  maxViewers: 20_000,
  requestTimeoutMs: 10_000,
};

/** The playback options from the app's settings (config.ts FLV_*, MEDIA_HTTP_REQUEST_TIMEOUT_MS). */
export function flvPlaybackSettings(
  c: Pick<Config, 'FLV_MAX_VIEWER_BUFFER_BYTES' | 'FLV_MAX_GOP_BYTES' | 'FLV_MAX_BATCH_MS' | 'FLV_MAX_VIEWERS' | 'MEDIA_HTTP_REQUEST_TIMEOUT_MS'>,
): Pick<FlvPlaybackOptions, 'maxViewerBufferBytes' | 'maxGopBytes' | 'maxBatchDelayMs' | 'maxViewers' | 'requestTimeoutMs'> {
  return {
    maxViewerBufferBytes: c.FLV_MAX_VIEWER_BUFFER_BYTES,
    maxGopBytes: c.FLV_MAX_GOP_BYTES,
    maxBatchDelayMs: c.FLV_MAX_BATCH_MS,
    maxViewers: c.FLV_MAX_VIEWERS,
    requestTimeoutMs: c.MEDIA_HTTP_REQUEST_TIMEOUT_MS,
  };
}

const ROOM_PATH = /^\/live\/([A-Za-z0-9_-]{1,128})\.flv$/;
const FLV_HEADER = Buffer.from([0x46, 0x4c, 0x56, 0x01, 0x05, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00]);
export const CORS_HEADERS: Record<string, string> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
  'Access-Control-Allow-Headers': 'Range, Content-Type',
  'Access-Control-Expose-Headers': 'Content-Length',
  'Access-Control-Max-Age': '86400',
};
// Raw response head for HTTP-FLV: no Content-Length and no chunked framing, the
// body ends when the connection closes (HTTP/1.1 allows it; fetch and mpegts.js read it).
const FLV_RESPONSE_HEAD = Buffer.from(
  'HTTP/1.1 200 OK\r\n' +
    'Content-Type: video/x-flv\r\n' +
    'Cache-Control: no-cache, no-store\r\n' +
    'Connection: close\r\n' +
    Object.entries(CORS_HEADERS)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('') +
    '\r\n',
);

// FLV tag kinds this module tells apart (from the tag bytes, see classify()).
const TAG_OTHER = 0;
const TAG_META = 1;
const TAG_AUDIO_HEADER = 2;
const TAG_VIDEO_HEADER = 3;
const TAG_KEYFRAME = 4;
const TAG_VIDEO = 5;
const TAG_FLV_FILE_HEADER = 6;

/** What an FLV tag (11-byte header + body + 4-byte size) is, from a few bytes of it. */
function classify(tag: Buffer): number {
  if (tag.length >= 13 && tag[0] === 0x46 && tag[1] === 0x4c && tag[2] === 0x56) return TAG_FLV_FILE_HEADER;
  if (tag.length < 12) return TAG_OTHER;
  const type = tag[0]! & 0x1f;
  const b = tag[11]!;
  if (type === 18) return TAG_META;
  if (type === 8) {
    const format = b >> 4;
    if (format === 10) return tag[12] === 0 ? TAG_AUDIO_HEADER : TAG_OTHER; // AAC
    if (format === 9) return (b & 0x0f) === 0 ? TAG_AUDIO_HEADER : TAG_OTHER; // enhanced audio
    return TAG_OTHER;
  }
  if (type === 9) {
    if (b & 0x80) {
      // enhanced RTMP video (HEVC, AV1, VP9): frame type in bits 4-6, packet type in 0-3
      if ((b & 0x0f) === 0) return TAG_VIDEO_HEADER;
      return ((b >> 4) & 0x07) === 1 ? TAG_KEYFRAME : TAG_VIDEO;
    }
    const codec = b & 0x0f;
    if ((codec === 7 || codec === 12) && tag[12] === 0) return TAG_VIDEO_HEADER;
    if ((b >> 4) === 5) return TAG_OTHER; // video info/command frame
    return (b >> 4) === 1 ? TAG_KEYFRAME : TAG_VIDEO;
  }
  return TAG_OTHER;
}

/** A final, unmasked binary WebSocket frame (RFC 6455 section 5.2) carrying `data`. */
function wsBinaryFrame(data: Buffer): Buffer {
  const n = data.length;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(head + n);
  frame[0] = 0x82; // FIN + binary
  if (n < 126) frame[1] = n;
  else if (n < 65536) {
    frame[1] = 126;
    frame.writeUInt16BE(n, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(n / 2 ** 32), 2);
    frame.writeUInt32BE(n >>> 0, 6);
  }
  data.copy(frame, head);
  return frame;
}

interface Viewer {
  socket: Socket;
  ws: WebSocket | null;
  /** Unsent bytes past which the viewer is dropped. */
  maxBuffered: number;
}

class Room {
  readonly id: string;
  readonly broadcast: NmsBroadcast;
  readonly session: NmsSession;
  /** Viewers receiving the shared batches. */
  readonly live = new Set<Viewer>();
  /** Viewers that joined before any keyframe: they start at the next one. */
  readonly waiting = new Set<Viewer>();
  meta: Buffer | null = null;
  audioHeader: Buffer | null = null;
  videoHeader: Buffer | null = null;
  /** Tags since the last keyframe (starting with it), or null when there is none usable. */
  gop: Buffer[] | null = null;
  gopBytes = 0;
  /** How many GOP tags have been sent to the viewers already (the rest are queued). */
  gopSent = 0;
  pending: Buffer[] = [];
  flushSoon = false; // a setImmediate flush is queued
  flushTimer: NodeJS.Timeout | null = null; // the max-delay flush for audio
  closed = false;

  constructor(id: string, broadcast: NmsBroadcast, session: NmsSession) {
    this.id = id;
    this.broadcast = broadcast;
    this.session = session;
  }

  get viewerCount(): number {
    return this.live.size + this.waiting.size;
  }
}

export async function createFlvPlayback(opts: FlvPlaybackOptions): Promise<FlvPlayback> {
  const log = opts.logger.child({ module: 'flv-playback' });
  const maxViewerBufferBytes = opts.maxViewerBufferBytes ?? FLV_DEFAULTS.maxViewerBufferBytes;
  const maxGopBytes = opts.maxGopBytes ?? FLV_DEFAULTS.maxGopBytes;
  const maxBatchDelayMs = opts.maxBatchDelayMs ?? FLV_DEFAULTS.maxBatchDelayMs;
  const maxViewers = opts.maxViewers ?? FLV_DEFAULTS.maxViewers;
  const rooms = new Map<string, Room>();
  let closing: Promise<void> | null = null;

  // --- fan-out ---------------------------------------------------------------

  const onTag = (room: Room, tag: Buffer): void => {
    if (room.closed) return;
    const kind = classify(tag);
    switch (kind) {
      case TAG_FLV_FILE_HEADER:
        return; // each viewer gets its own file header
      case TAG_META:
        room.meta = tag;
        break;
      case TAG_AUDIO_HEADER:
        room.audioHeader = tag;
        break;
      case TAG_VIDEO_HEADER:
        room.videoHeader = tag;
        // a new sequence header invalidates cached frames of the old one
        room.gop = null;
        room.gopBytes = 0;
        room.gopSent = 0;
        break;
      case TAG_KEYFRAME:
        // everything queued so far belongs to the old GOP: send it, then let the
        // viewers that wait for a keyframe in, so their first frame is this one
        flush(room);
        for (const v of room.waiting) room.live.add(v);
        room.waiting.clear();
        room.gop = [];
        room.gopBytes = 0;
        room.gopSent = 0;
        break;
    }
    // viewers waiting for a keyframe get nothing else, but must not miss what a decoder needs first
    // (it comes after they joined when the publisher was slow to start, e.g. a WHIP bridge)
    if (kind === TAG_META || kind === TAG_AUDIO_HEADER || kind === TAG_VIDEO_HEADER) for (const v of room.waiting) send(room, v, tag);
    if (room.gop !== null && kind !== TAG_META && kind !== TAG_AUDIO_HEADER && kind !== TAG_VIDEO_HEADER) {
      room.gop.push(tag);
      room.gopBytes += tag.length;
      if (room.gopBytes > maxGopBytes) {
        room.gop = null; // too long a GOP to replay; late joiners wait for the next keyframe
        room.gopBytes = 0;
        room.gopSent = 0;
      }
    }
    room.pending.push(tag);
    if (room.flushSoon) return;
    if (kind === TAG_KEYFRAME || kind === TAG_VIDEO || maxBatchDelayMs === 0) {
      // a frame to show: send with whatever else arrives in this turn
      room.flushSoon = true;
      setImmediate(flushQueued, room);
    } else if (room.flushTimer === null) {
      room.flushTimer = setTimeout(flushQueued, maxBatchDelayMs, room);
    }
  };

  const flushQueued = (room: Room): void => {
    if (!room.closed) flush(room);
  };

  const flush = (room: Room): void => {
    room.flushSoon = false;
    if (room.flushTimer !== null) {
      clearTimeout(room.flushTimer);
      room.flushTimer = null;
    }
    const pending = room.pending;
    if (pending.length === 0) return;
    room.pending = [];
    room.gopSent = room.gop?.length ?? 0;
    if (room.live.size === 0) return;
    // one buffer per batch, shared by every viewer
    const batch = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
    room.session.outBytes += batch.length;
    let frame: Buffer | null = null; // the batch as one WebSocket frame, built for the first WS viewer
    for (const v of room.live) {
      if (v.ws === null) send(room, v, batch);
      else {
        if (v.ws.readyState !== WebSocket.OPEN) continue;
        if (v.socket.writableLength > v.maxBuffered) {
          dropSlow(room, v);
          continue;
        }
        // a complete unmasked frame written straight to the socket: ws writes
        // only whole frames too (no compression), so the two never interleave
        frame ??= wsBinaryFrame(batch);
        v.socket.write(frame);
      }
    }
  };

  const send = (room: Room, v: Viewer, data: Buffer): void => {
    if (v.ws === null) {
      if (v.socket.writableLength > v.maxBuffered) return dropSlow(room, v);
      v.socket.write(data);
    } else {
      if (v.ws.readyState !== WebSocket.OPEN) return;
      if (v.ws.bufferedAmount > v.maxBuffered) return dropSlow(room, v);
      v.ws.send(data, { binary: true, compress: false });
    }
  };

  const dropSlow = (room: Room, v: Viewer): void => {
    log.debug({ roomId: room.id }, 'dropping a viewer that cannot keep up');
    removeViewer(room, v);
    if (v.ws) v.ws.terminate();
    else v.socket.destroy();
  };

  const removeViewer = (room: Room, v: Viewer): void => {
    room.live.delete(v);
    room.waiting.delete(v);
  };

  /** Start a viewer: FLV header, metadata, sequence headers and the GOP so far. */
  const addViewer = (room: Room, v: Viewer): void => {
    const parts: Buffer[] = [FLV_HEADER];
    if (room.meta) parts.push(room.meta);
    if (room.audioHeader) parts.push(room.audioHeader);
    if (room.videoHeader) parts.push(room.videoHeader);
    if (room.gop !== null) {
      // the GOP tags sent so far; the queued rest reach the newcomer with the next batch
      for (let i = 0; i < room.gopSent; i++) parts.push(room.gop[i]!);
      room.live.add(v);
    } else {
      room.waiting.add(v);
    }
    let bytes = 0;
    for (const p of parts) bytes += p.length;
    // the start-up burst does not count against the viewer's backlog allowance
    v.maxBuffered = maxViewerBufferBytes + bytes;
    if (v.ws === null) {
      // one writev of the shared buffers: nothing copied per viewer
      v.socket.cork();
      for (const p of parts) v.socket.write(p);
      v.socket.uncork();
    } else {
      send(room, v, Buffer.concat(parts, bytes));
    }
  };

  // --- HTTP and WebSocket --------------------------------------------------

  // Node's 300 s default would let a client that announces a body and never sends it hold a connection for minutes;
  // the expiry check runs every second (its 30 s default would stretch a short timeout)
  const requestTimeout = opts.requestTimeoutMs ?? FLV_DEFAULTS.requestTimeoutMs;
  const server = http.createServer({ noDelay: true, requestTimeout, headersTimeout: requestTimeout, connectionsCheckingInterval: 1000 });
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 4096 });
  const sockets = new Set<Socket>();
  const streaming = new WeakSet<object>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  const roomOf = (url: string | undefined): Room | undefined => {
    const q = url?.indexOf('?') ?? -1;
    const path = q >= 0 ? url!.slice(0, q) : (url ?? '');
    const m = ROOM_PATH.exec(path);
    return m ? rooms.get(m[1]!) : undefined;
  };

  const notFound = (res: http.ServerResponse): void => {
    res.writeHead(404, { ...CORS_HEADERS, 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'stream_not_found', message: 'no live stream for this room' } }));
  };

  const full = (res: http.ServerResponse): void => {
    res.writeHead(503, { ...CORS_HEADERS, 'Content-Type': 'application/json', 'Retry-After': '30' });
    res.end(JSON.stringify({ error: { code: 'too_many_viewers', message: 'this media node is at its viewer limit' } }));
  };

  const totalViewers = (): number => {
    let n = 0;
    for (const room of rooms.values()) n += room.viewerCount;
    return n;
  };

  const answered = new WeakSet<object>();
  server.on('request', (req, res) => {
    res.once('finish', () => answered.add(req.socket));
    if (opts.intercept?.(req, res)) return;
    if (req.method === 'OPTIONS') {
      res.writeHead(204, CORS_HEADERS);
      res.end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...CORS_HEADERS, Allow: 'GET, HEAD, OPTIONS', 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'method_not_allowed', message: 'use GET' } }));
      return;
    }
    if (opts.onRequest?.(req, res)) return;
    const room = roomOf(req.url);
    if (!room || closing) return notFound(res);
    if (totalViewers() >= maxViewers) return full(res);
    if (req.method === 'HEAD') {
      res.writeHead(200, { ...CORS_HEADERS, 'Content-Type': 'video/x-flv', 'Cache-Control': 'no-cache, no-store' });
      res.end();
      return;
    }
    // Take the socket over: from here on the body is raw FLV bytes.
    const socket = req.socket;
    streaming.add(socket);
    socket.write(FLV_RESPONSE_HEAD);
    const v: Viewer = { socket, ws: null, maxBuffered: maxViewerBufferBytes };
    socket.once('close', () => removeViewer(room, v));
    socket.on('error', () => socket.destroy());
    addViewer(room, v);
  });

  server.on('upgrade', (req, socket: Socket, head) => {
    socket.on('error', () => socket.destroy());
    const room = roomOf(req.url);
    if (!room || closing) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    if (totalViewers() >= maxViewers) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 30\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (room.closed) {
        ws.close(1001, 'stream ended');
        return;
      }
      const v: Viewer = { socket, ws, maxBuffered: maxViewerBufferBytes };
      ws.once('close', () => removeViewer(room, v));
      ws.on('error', () => ws.terminate());
      addViewer(room, v);
    });
  });

  // Node reports any error of a request's socket here, also mid-stream: only a
  // socket that is not streaming FLV may still get an HTTP answer.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    const timedOut = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'ERR_HTTP_HEADERS_TIMEOUT';
    // a request already answered (a refused offer whose body never came) gets no second status line
    if (socket.writable && !streaming.has(socket) && !answered.has(socket)) socket.end(`HTTP/1.1 ${timedOut ? '408 Request Timeout' : '400 Bad Request'}\r\nConnection: close\r\n\r\n`);
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  log.info({ port }, 'FLV playback listening');

  // --- rooms -----------------------------------------------------------------

  const endRoom = (room: Room, terminate: boolean): void => {
    room.closed = true;
    if (room.flushTimer) clearTimeout(room.flushTimer);
    room.flushTimer = null;
    room.pending = [];
    room.gop = null;
    try {
      room.broadcast.donePlay(room.session);
    } catch (err) {
      log.warn({ err, roomId: room.id }, 'unsubscribing from the broadcast failed');
    }
    for (const set of [room.live, room.waiting]) {
      for (const v of set) {
        if (v.ws) {
          if (terminate) v.ws.terminate();
          else v.ws.close(1000, 'stream ended');
        } else if (terminate) v.socket.destroy();
        else v.socket.end();
      }
      set.clear();
    }
  };

  return {
    port,

    attach(roomId: string, broadcast: unknown): void {
      if (closing) return;
      const b = broadcast as NmsBroadcast;
      if (!b || typeof b.postPlay !== 'function' || typeof b.donePlay !== 'function') {
        throw new TypeError('attach() needs a node-media-server BroadcastServer');
      }
      const existing = rooms.get(roomId);
      if (existing) {
        if (existing.broadcast === b) return;
        endRoom(existing, false);
        rooms.delete(roomId);
      }
      const session = new BaseSession();
      // internal subscriber: an empty ip keeps it out of play events and play counts
      session.ip = '';
      session.protocol = 'flv';
      session.streamPath = b.streamPath;
      const room = new Room(roomId, b, session);
      session.sendBuffer = (tag: Buffer) => onTag(room, tag);
      session.close = () => {
        if (rooms.get(roomId) === room) rooms.delete(roomId);
        endRoom(room, false);
      };
      rooms.set(roomId, room);
      const err = b.postPlay(session);
      if (err) {
        rooms.delete(roomId);
        room.closed = true;
        throw new Error(`subscribing to the broadcast failed: ${err}`);
      }
      log.info({ roomId }, 'FLV playback attached');
    },

    detach(roomId: string): void {
      const room = rooms.get(roomId);
      if (!room) return;
      rooms.delete(roomId);
      endRoom(room, false);
      log.info({ roomId }, 'FLV playback detached');
    },

    viewers(roomId: string): number {
      return rooms.get(roomId)?.viewerCount ?? 0;
    },

    viewerCounts(): Record<string, number> {
      const out: Record<string, number> = {};
      for (const [id, room] of rooms) out[id] = room.viewerCount;
      return out;
    },

    close(): Promise<void> {
      closing ??= (async () => {
        for (const room of rooms.values()) endRoom(room, true);
        rooms.clear();
        for (const ws of wss.clients) ws.terminate();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          for (const s of sockets) s.destroy();
          server.closeAllConnections();
        });
        await new Promise<void>((resolve) => wss.close(() => resolve()));
        log.info('FLV playback closed');
      })();
      return closing;
    },
  };
}
