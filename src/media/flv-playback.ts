// The media node's HTTP server, for HTTP-FLV and WS-FLV playback by room id
// (`/live/<roomId>.flv`); HLS and WHIP/WHEP share its port through the
// onRequest and intercept hooks. Each live room's tags come from its
// StreamFanout (stream-fanout.ts), attached when the room's publish starts on
// this node (an origin). A viewer asking for a room published on another node
// makes this node an edge for it: one pull from the origin (`locate`) feeds a
// fan-out of its own, whatever its viewer count, until `edgeIdleMs` after its
// last viewer left. This module routes viewers, bounds them per node, and
// answers everything else.
import http from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import type { Logger } from 'pino';
import type { NmsBroadcast } from './rtmp-ingest.ts';
import { StreamFanout, type FanoutLimits, type Viewer } from './stream-fanout.ts';
import { broadcastSource, EDGE_HEADER, FEED_HEADER, type StreamSource } from './stream-source.ts';

export interface FlvPlayback {
  port: number;
  attach(roomId: string, broadcast: unknown): void;
  detach(roomId: string): void;
  viewers(roomId: string): number;
  viewerCounts(): Record<string, number>;
  /** Pulls of this node's streams by edges, over all rooms. */
  edgePulls(): number;
  close(): Promise<void>;
}

/** The limits have no defaults here: the app's are in config.ts (FLV_*, MEDIA_HTTP_REQUEST_TIMEOUT_MS), passed down by the supervisor. */
export interface FlvPlaybackOptions extends FanoutLimits {
  host: string;
  port: number;
  logger: Logger;
  /** Viewers across all rooms of this node; past it new viewers get 503. */
  maxViewers: number;
  /** A request (headers and any body) must arrive whole within this; a GET stream is complete at once and never cut. */
  requestTimeoutMs: number;
  /** Other GET/HEAD routes on the same server (HLS): return true when the request was handled. */
  onRequest?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean;
  /** Runs before the method checks (WHIP takes POST, DELETE and its own OPTIONS); true = handled. */
  intercept?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean;
  /** A pull of a room published on another node, or null when no node holds it (then 404). */
  locate?: (roomId: string) => Promise<StreamSource | null>;
  /** An edge stops pulling this long after its last viewer left. */
  edgeIdleMs?: number;
}

const ROOM_PATH = /^\/live\/([A-Za-z0-9_-]{1,128})\.flv$/;
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

export async function createFlvPlayback(opts: FlvPlaybackOptions): Promise<FlvPlayback> {
  const log = opts.logger.child({ module: 'flv-playback' });
  const { maxViewerBufferBytes, maxGopBytes, maxBatchDelayMs, maxViewers } = opts;
  const limits: FanoutLimits = { maxViewerBufferBytes, maxGopBytes, maxBatchDelayMs };
  const streams = new Map<string, StreamFanout>();
  let closing: Promise<void> | null = null;

  // Node's 300 s default would let a client that announces a body and never sends it hold a connection for minutes;
  // the expiry check runs every second (its 30 s default would stretch a short timeout)
  const requestTimeout = opts.requestTimeoutMs;
  const server = http.createServer({ noDelay: true, requestTimeout, headersTimeout: requestTimeout, connectionsCheckingInterval: 1000 });
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 4096 });
  const sockets = new Set<Socket>();
  const streaming = new WeakSet<object>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  const roomOf = (url: string | undefined): string | undefined => {
    const q = url?.indexOf('?') ?? -1;
    const path = q >= 0 ? url!.slice(0, q) : (url ?? '');
    return ROOM_PATH.exec(path)?.[1];
  };

  // Edges: one pull per room, however many viewers ask at once; stopped when idle.
  const opening = new Map<string, Promise<StreamFanout | undefined>>();
  const idleTimers = new Map<StreamFanout, NodeJS.Timeout>();
  const edgeIdleMs = opts.edgeIdleMs ?? 10_000;
  /** Drops an edge stream's idle timer and its place in `streams` (it ended, or is being replaced). */
  const forget = (stream: StreamFanout) => {
    clearTimeout(idleTimers.get(stream));
    idleTimers.delete(stream);
    if (streams.get(stream.roomId) === stream) streams.delete(stream.roomId);
  };
  const armIdle = (stream: StreamFanout) => {
    clearTimeout(idleTimers.get(stream));
    idleTimers.set(
      stream,
      setTimeout(() => {
        if (stream.connectionCount > 0 || streams.get(stream.roomId) !== stream) return void idleTimers.delete(stream);
        forget(stream);
        stream.end(false);
        log.info({ roomId: stream.roomId }, 'edge pull stopped: no viewers');
      }, edgeIdleMs),
    );
  };
  const edgeOf = (roomId: string): Promise<StreamFanout | undefined> => {
    if (!opts.locate || closing) return Promise.resolve(undefined);
    let p = opening.get(roomId);
    if (!p) {
      p = (async () => {
        const source = await opts.locate!(roomId).catch((err: unknown) => {
          log.warn({ err, roomId }, 'locating the origin failed');
          return null;
        });
        const current = streams.get(roomId);
        if (current || !source || closing) return current;
        const stream: StreamFanout = new StreamFanout(roomId, source, limits, log, () => forget(stream));
        stream.onIdle = () => armIdle(stream);
        streams.set(roomId, stream);
        stream.subscribe();
        armIdle(stream); // a pull nobody ends up watching stops too
        log.info({ roomId }, 'edge pull started');
        return stream;
      })().finally(() => opening.delete(roomId));
      opening.set(roomId, p);
    }
    return p;
  };
  /** The room's fan-out here, or the edge opened for it; undefined when no node has it. */
  const streamOf = (roomId: string): StreamFanout | Promise<StreamFanout | undefined> | undefined => {
    const local = streams.get(roomId);
    if (local && !local.closed) return local;
    return opts.locate ? edgeOf(roomId) : undefined;
  };
  const join = (stream: StreamFanout, v: Viewer) => {
    clearTimeout(idleTimers.get(stream));
    idleTimers.delete(stream);
    stream.addViewer(v);
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
    for (const stream of streams.values()) n += stream.viewerCount;
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
    const roomId = roomOf(req.url);
    const found = roomId && !closing ? streamOf(roomId) : undefined;
    if (found instanceof Promise) {
      found.then(
        (stream) => (stream && !stream.closed && !closing ? play(req, res, stream) : notFound(res)),
        () => notFound(res),
      );
    } else if (found) play(req, res, found);
    else notFound(res);
  });

  const play = (req: http.IncomingMessage, res: http.ServerResponse, stream: StreamFanout): void => {
    if (req.socket.destroyed) return;
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
    const v: Viewer = { socket, ws: null, maxBuffered: maxViewerBufferBytes, edge: req.headers[EDGE_HEADER] !== undefined, feed: req.headers[FEED_HEADER] !== undefined };
    socket.once('close', () => stream.removeViewer(v));
    socket.on('error', () => socket.destroy());
    join(stream, v);
  };

  server.on('upgrade', (req, socket: Socket, head) => {
    socket.on('error', () => socket.destroy());
    const roomId = roomOf(req.url);
    const found = roomId && !closing ? streamOf(roomId) : undefined;
    const notHere = () => socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    if (found instanceof Promise) {
      found.then(
        (stream) => (stream && !stream.closed && !closing ? upgrade(req, socket, head, stream) : notHere()),
        () => notHere(),
      );
    } else if (found) upgrade(req, socket, head, found);
    else notHere();
  });

  const upgrade = (req: http.IncomingMessage, socket: Socket, head: Buffer, stream: StreamFanout): void => {
    if (socket.destroyed) return;
    if (totalViewers() >= maxViewers) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 30\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (stream.closed) {
        ws.close(1001, 'stream ended');
        return;
      }
      const v: Viewer = { socket, ws, maxBuffered: maxViewerBufferBytes };
      ws.once('close', () => stream.removeViewer(v));
      ws.on('error', () => ws.terminate());
      join(stream, v);
    });
  };

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

  return {
    port,

    attach(roomId: string, broadcast: unknown): void {
      if (closing) return;
      const b = broadcast as NmsBroadcast;
      if (!b || typeof b.postPlay !== 'function' || typeof b.donePlay !== 'function') {
        throw new TypeError('attach() needs a node-media-server BroadcastServer');
      }
      const existing = streams.get(roomId);
      if (existing) {
        if ((existing.source as { broadcast?: unknown }).broadcast === b) return;
        // an older broadcast, or an edge pull of a publisher that has come to this node: its viewers reconnect
        forget(existing);
        existing.end(false);
      }
      const stream: StreamFanout = new StreamFanout(roomId, broadcastSource(b), limits, log, () => {
        if (streams.get(roomId) === stream) streams.delete(roomId);
      });
      streams.set(roomId, stream);
      try {
        stream.subscribe();
      } catch (err) {
        streams.delete(roomId);
        throw err;
      }
      log.info({ roomId }, 'FLV playback attached');
    },

    detach(roomId: string): void {
      const stream = streams.get(roomId);
      if (!stream) return;
      streams.delete(roomId);
      stream.end(false);
      log.info({ roomId }, 'FLV playback detached');
    },

    viewers(roomId: string): number {
      return streams.get(roomId)?.viewerCount ?? 0;
    },

    viewerCounts(): Record<string, number> {
      const out: Record<string, number> = {};
      for (const [id, stream] of streams) out[id] = stream.viewerCount;
      return out;
    },

    edgePulls(): number {
      let n = 0;
      for (const stream of streams.values()) n += stream.edgeCount;
      return n;
    },

    close(): Promise<void> {
      closing ??= (async () => {
        for (const t of idleTimers.values()) clearTimeout(t);
        idleTimers.clear();
        for (const stream of streams.values()) stream.end(true);
        streams.clear();
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
