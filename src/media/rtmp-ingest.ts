// RTMP ingest on node-media-server 4: its RTMP sessions, protocol parser and
// broadcasts, behind a listener of our own. Why not `nms.run()`: its listeners
// exit the process on a port conflict and cannot take port 0, and its store
// would write every stream path (which holds the stream key) to disk.
//
// Hardening (node-media-server's parser trusts its input): any exception while
// parsing a connection's bytes closes that connection instead of the process;
// messages are bounded in size (a 16 MB length field would otherwise allocate
// 16 MB per chunk stream), chunk streams per connection are bounded, a chunk
// size of 0 is refused; a connection must reach publish (or a local play)
// within a deadline and is closed when idle. Who gets a connection at all
// (per-address shares, slots kept for sessions past the handshake): rtmp-slots.ts.
import { createRequire } from 'node:module';
import net from 'node:net';
import type { Logger } from 'pino';
import { maskStreamKeys } from '../logger.ts';
import { createRtmpSlots, type RtmpSlot } from './rtmp-slots.ts';

const require = createRequire(import.meta.url);
const NodeMediaServer = require('node-media-server') as new (config: object) => { on(event: string, fn: (s: NmsSession) => void): void; stop(): Promise<void> };
const Context = require('node-media-server/src/core/context.js') as { sessions: Map<string, unknown>; broadcasts: Map<string, unknown> };
const RtmpSession = require('node-media-server/src/session/rtmp_session.js') as new (socket: net.Socket) => NmsRtmpSession;
const Rtmp = require('node-media-server/src/protocol/rtmp.js') as { prototype: RtmpParser };
const BaseSession = require('node-media-server/src/session/base_session.js') as new () => NmsSubscriber;
const nmsLogger = require('node-media-server/src/core/logger.js') as { level: string; log: (message: string, level?: string) => void };

interface RtmpParser {
  parserData(buf: Buffer): string | null;
  packetAlloc(): void;
  packetParse(): void;
  controlHandler(): void;
  parserPacket: { header: { type: number; length: number }; payload: Buffer };
  inPackets: Map<number, unknown>;
  /** Set by the patched parser after the first error: the connection is dead. */
  lrFailed?: string;
  lrOnFail?: (reason: string) => void;
}

/** The parts of a node-media-server session this module uses. */
export interface NmsSession {
  id: string;
  ip: string;
  protocol: string;
  streamPath: string;
  socket?: net.Socket;
  broadcast?: NmsBroadcast;
  close(): void;
}

/** A reader session for BroadcastServer.postPlay; node-media-server's session base gives it the fields the broadcast reads (id, endTime, stats). */
export interface NmsSubscriber extends NmsSession {
  outBytes: number;
  sendBuffer: (buffer: Buffer) => void;
}

interface NmsRtmpSession extends NmsSession {
  socket: net.Socket;
  rtmp: RtmpParser;
  run(): void;
}

/** node-media-server's BroadcastServer (one per stream path). */
export interface NmsBroadcast {
  streamPath: string;
  publisher: NmsSession | null;
  flvMetaData: Buffer | null;
  flvVideoHeader: Buffer | null;
  flvAudioHeader: Buffer | null;
  flvGopCache: Set<Buffer> | null;
  postPlay(session: unknown): string | null;
  donePlay(session: unknown): void;
}

export interface RtmpLimits {
  maxConnections: number;
  maxConnectionsPerAddress: number;
  /** Slots kept for sessions past the RTMP handshake (see rtmp-slots.ts). */
  reservedConnections: number;
  handshakeTimeoutMs: number;
  idleTimeoutMs: number;
  maxMessageBytes: number;
  maxCommandBytes: number;
  maxChunkStreams: number;
}

/** A connection that asked to publish `/live/<key>`. */
export interface Publisher {
  id: string;
  key: string;
  /** The remote address (without port). */
  address: string;
  /** node-media-server accepted it as the publisher of its path (not a second publisher). */
  isPublisher(): boolean;
  broadcast(): NmsBroadcast;
  closed(): boolean;
  /** Drops the connection at once (the encoder sees it and stops or reconnects). */
  close(): void;
  onClose(fn: () => void): void;
}

export interface RtmpIngest {
  port: number;
  close(): Promise<void>;
}

export interface RtmpIngestOptions {
  host: string;
  port: number;
  limits: RtmpLimits;
  logger: Logger;
  /** Called synchronously from node-media-server's prePublish: decide, and close() to refuse. */
  onPublish(p: Publisher): void;
}

/** A reader session of Liveroom's own (FLV fan-out, tapBroadcast): an empty ip keeps it out of play events and viewer counts. */
export function internalSubscriber(streamPath: string): NmsSubscriber {
  const s = new BaseSession();
  s.ip = '';
  s.protocol = 'flv';
  s.streamPath = streamPath;
  return s;
}

/**
 * An internal reader of a broadcast: gets the FLV file header, metadata,
 * sequence headers and the GOP so far, then every tag. Returns the unsubscribe.
 */
export function tapBroadcast(b: NmsBroadcast, onData: (buf: Buffer) => void): () => void {
  const s = internalSubscriber(b.streamPath);
  let on = true;
  s.sendBuffer = (buf: Buffer) => {
    if (on) onData(buf);
  };
  s.close = () => {
    on = false;
  };
  const err = b.postPlay(s);
  if (err) throw new Error(err);
  return () => {
    if (!on) return;
    on = false;
    b.donePlay(s);
  };
}

const PUBLISH_PATH = /^\/live\/([A-Za-z0-9_-]{1,200})$/;
const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
const MEDIA_TYPES = new Set([8, 9, 22]); // audio, video, aggregate
const MAX_CHUNK_SIZE = 0x7fffffff;
/** C0 + C1 + C2: a client that sent this much is past the RTMP handshake. */
const HANDSHAKE_BYTES = 1 + 1536 * 2;

let limits: RtmpLimits | undefined;
let patched = false;

/** Hardens node-media-server's RTMP parser (process-wide: the parser is a shared class). */
function patchParser(): void {
  if (patched) return;
  patched = true;
  const proto = Rtmp.prototype;
  const parserData = proto.parserData;
  proto.parserData = function (this: RtmpParser, buf: Buffer) {
    if (this.lrFailed) return this.lrFailed;
    try {
      return parserData.call(this, buf);
    } catch (err) {
      this.lrFailed = `malformed RTMP input: ${(err as Error).message}`;
      this.lrOnFail?.(this.lrFailed);
      return this.lrFailed;
    }
  };
  const packetAlloc = proto.packetAlloc;
  proto.packetAlloc = function (this: RtmpParser) {
    const { type, length } = this.parserPacket.header;
    const max = MEDIA_TYPES.has(type) ? limits!.maxMessageBytes : limits!.maxCommandBytes;
    if (length > max) throw new Error(`a type ${type} message of ${length} bytes is over the limit (${max})`);
    return packetAlloc.call(this);
  };
  const packetParse = proto.packetParse;
  proto.packetParse = function (this: RtmpParser) {
    packetParse.call(this);
    if (this.inPackets.size > limits!.maxChunkStreams) throw new Error(`more than ${limits!.maxChunkStreams} chunk streams`);
  };
  const controlHandler = proto.controlHandler;
  proto.controlHandler = function (this: RtmpParser) {
    if (this.parserPacket.header.type === 1) {
      const p = this.parserPacket;
      const size = p.header.length >= 4 ? p.payload.readUInt32BE(0) : 0;
      if (size < 1 || size > MAX_CHUNK_SIZE) throw new Error(`chunk size ${size} is out of range`);
    }
    return controlHandler.call(this);
  };
}

/**
 * node-media-server logs with console.log; its lines go to pino instead, keys
 * masked (its lines name stream paths in several forms, e.g. `app=live/<key>,
 * name=<key>` for a key pushed twice; createLogger's loggers mask again).
 */
function routeNmsLogs(logger: Logger): void {
  const log = logger.child({ module: 'nms' });
  const levels: Record<string, 'trace' | 'debug' | 'info' | 'warn'> = { trace: 'trace', debug: 'trace', info: 'debug', warn: 'warn', error: 'warn' };
  nmsLogger.log = (message: string, level = 'info') => {
    const lvl = levels[level] ?? 'debug';
    if (log.isLevelEnabled(lvl)) log[lvl](maskStreamKeys(String(message)));
  };
}

export async function startRtmpIngest(opts: RtmpIngestOptions): Promise<RtmpIngest> {
  const log = opts.logger.child({ module: 'rtmp' });
  limits = opts.limits;
  patchParser();
  routeNmsLogs(opts.logger);
  // Sets node-media-server's global context (config, events); no listener of its own.
  const nms = new NodeMediaServer({ bind: opts.host });
  /** Sessions that reached publish or play: exempt from the handshake deadline, never dropped to make room. */
  const started = new WeakSet<object>();
  const slots = createRtmpSlots({ maxConnections: opts.limits.maxConnections, maxPerAddress: opts.limits.maxConnectionsPerAddress, reserved: opts.limits.reservedConnections });
  const slotOf = new WeakMap<object, RtmpSlot>();
  const start = (session: object) => {
    started.add(session);
    slotOf.get(session)?.started();
  };

  nms.on('prePublish', (session) => {
    const socket = session.socket;
    const m = PUBLISH_PATH.exec(session.streamPath);
    if (session.protocol !== 'rtmp' || !socket || !m) {
      log.info({ ip: socket?.remoteAddress }, 'publish refused: the path must be /live/<streamKey>');
      if (socket) socket.destroy();
      else session.close();
      return;
    }
    start(session);
    const publisher: Publisher = {
      id: session.id,
      key: m[1]!,
      address: socket.remoteAddress ?? '',
      isPublisher: () => session.broadcast?.publisher === session,
      broadcast: () => session.broadcast!,
      closed: () => socket.destroyed,
      close: () => socket.destroy(),
      onClose: (fn) => (socket.closed ? queueMicrotask(fn) : void socket.once('close', fn)),
    };
    opts.onPublish(publisher);
  });

  // RTMP play names the stream key: only local tools may use it (viewers play by room id over HTTP).
  nms.on('prePlay', (session) => {
    if (session.protocol !== 'rtmp' || !session.socket) return;
    if (!LOOPBACK.has(session.socket.remoteAddress ?? '')) {
      log.info({ ip: session.socket.remoteAddress }, 'remote RTMP play refused');
      session.socket.destroy();
      return;
    }
    start(session);
  });

  const sockets = new Set<net.Socket>();
  let refusedLogged = 0;
  const server = net.createServer({ noDelay: true }, (socket) => {
    const address = socket.remoteAddress ?? '';
    const slot = slots.admit(address, () => socket.destroy());
    if (!slot) {
      // its address's share or the whole pool is held by publishing sessions: nothing to make room from (logged at most once a minute)
      if (Date.now() - refusedLogged > 60_000) {
        refusedLogged = Date.now();
        log.warn({ ip: address, ...slots.counts() }, 'RTMP connection refused: no slot (RTMP_MAX_CONNECTIONS_PER_IP or RTMP_MAX_CONNECTIONS)');
      }
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.setTimeout(opts.limits.idleTimeoutMs, () => socket.destroy());
    let bytesIn = 0;
    const progress = (d: Buffer) => {
      bytesIn += d.length;
      slot.received();
      if (bytesIn < HANDSHAKE_BYTES) return;
      slot.handshakeDone();
      socket.off('data', progress);
    };
    socket.on('data', progress);
    const session = new RtmpSession(socket);
    slotOf.set(session, slot);
    session.rtmp.lrOnFail = (reason) => {
      log.info({ ip: socket.remoteAddress, reason }, 'RTMP connection closed');
      socket.destroy();
    };
    session.run();
    Context.sessions.set(session.id, session);
    const deadline = setTimeout(() => {
      if (!started.has(session)) socket.destroy();
    }, opts.limits.handshakeTimeoutMs);
    socket.once('close', () => {
      clearTimeout(deadline);
      sockets.delete(socket);
      slot.release();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.error({ err }, 'RTMP listener error'));
  const port = (server.address() as net.AddressInfo).port;
  log.info({ port }, 'RTMP ingest listening');

  let closing: Promise<void> | undefined;
  return {
    port,
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          for (const s of sockets) s.destroy();
        });
        await nms.stop();
      })();
      return closing;
    },
  };
}
