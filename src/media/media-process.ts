// The media process: RTMP ingest (node-media-server), HTTP-FLV/WS-FLV and HLS
// playback by room id, HLS packaging, previews and recordings. It runs as a
// child of the supervisor (src/media-control/supervisor.ts), so malformed input
// or a crash here never takes the API, rooms or the ledger down. It never touches
// the database: publishes are authorized by asking the supervisor over IPC.
// src/media/ is this process's code; src/media-control/ is the API side, which
// nothing here imports (eslint.config.js keeps it so).
//
// Publish flow: node-media-server's prePublish is synchronous and has no
// reject, so the key check runs after it; a refusal closes the connection, and
// only a session that was authorized (and that node-media-server made the
// publisher of its path) ever counts. The room's status follows the
// publisher's TCP connection, not node-media-server's 30 s donePublish grace.
import { rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import type { Logger } from 'pino';
import { createLogger, maskProcessOutput } from '../logger.ts';
import { ffmpegPath } from './ffmpeg.ts';
import { createHlsServer, type HlsServer } from './hls.ts';
import type { AuthorizeAnswer, ChildMessage, LocateAnswer, MediaRequest, MediaSettings, ParentMessage, StartedAnswer } from './ipc.ts';
import { createFlvPlayback, type FlvPlayback } from './flv-playback.ts';
import { RoomOutputs } from './room-outputs.ts';
import { startRtmpIngest, type Publisher, type RtmpIngest } from './rtmp-ingest.ts';
import { pullSource } from './stream-source.ts';
import { createOfferLimiter } from './webrtc-http.ts';
import { broadcastWhepSource, createWhepPlayback, loopbackWhepSource, type WhepPlayback } from './whep.ts';
import { createWhipIngest, type WhipIngest } from './whip.ts';

interface Live {
  roomId: string;
  publisher: Publisher;
  outputs: RoomOutputs;
  stopped: boolean;
}

function send(m: ChildMessage): void {
  if (process.connected) process.send!(m);
}

const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
let nextAsk = 1;
let ipcTimeoutMs = 5000;

function ask<T>(req: MediaRequest): Promise<T> {
  const id = nextAsk++;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      pending.delete(id);
      reject(new Error(`no answer to ${req.op} within ${ipcTimeoutMs} ms`));
    }, ipcTimeoutMs);
    pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
    send({ t: 'ask', id, ...req });
  });
}

/** How this node reaches its own listeners: a wildcard listen address over loopback. */
function loopbackHost(host: string): string {
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
}

async function main(settings: MediaSettings): Promise<void> {
  // stream keys pass through here (publish paths): none may reach the log, from pino or from a dependency's console
  maskProcessOutput();
  const logger: Logger = createLogger(settings.logLevel, 'liveroom-media');
  const fatal = (err: unknown) => {
    logger.fatal({ err }, 'media process failed');
    send({ t: 'fatal', message: String((err as Error)?.stack ?? err) });
    process.exit(1);
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
  ipcTimeoutMs = settings.ipcTimeoutMs;

  const bin = ffmpegPath(settings.ffmpegPath);
  // a crashed predecessor may have left HLS directories behind
  await rm(path.join(settings.dataDir, 'hls'), { recursive: true, force: true });

  const live = new Map<string, Live>();
  // Which node holds a room's publisher, asked of the supervisor and reused a moment (HLS players ask every segment).
  const located = new Map<string, { url: string | null; at: number }>();
  const originOf = async (roomId: string): Promise<string | null> => {
    if (live.has(roomId)) return null;
    const hit = located.get(roomId);
    if (hit && Date.now() - hit.at < settings.edge.locateCacheMs) return hit.url;
    const { originUrl } = await ask<LocateAnswer>({ op: 'locate', roomId });
    if (located.size > 10_000) located.clear();
    located.set(roomId, { url: originUrl, at: Date.now() });
    return originUrl;
  };
  const hls: HlsServer = createHlsServer({
    dir: path.join(settings.dataDir, 'hls'),
    viewerWindowMs: settings.hls.viewerWindowMs,
    viewersPerAddress: settings.hls.viewersPerAddress,
    maxViewersPerRoom: settings.flv.maxViewers,
    edge: { originOf, nodeId: settings.nodeId, cacheBytes: settings.edge.hlsCacheBytes, timeoutMs: settings.edge.timeoutMs },
  });
  // WHIP publishers come in on the playback port and are bridged to RTMP (rtmpPort is known once ingest listens)
  let rtmpPort = 0;
  // one count for both endpoints: a client address cannot hold more offers open by spreading them over WHIP and WHEP
  const offers = createOfferLimiter(settings.webrtcMaxOffersPerAddress);
  const whip: WhipIngest | undefined =
    settings.whip.maxSessions > 0
      ? createWhipIngest({
          ffmpegPath: bin,
          rtmpHost: loopbackHost(settings.host),
          rtmpPort: () => rtmpPort,
          authorize: (key) => ask<AuthorizeAnswer>({ op: 'authorize', key }),
          offers,
          settings: settings.whip,
          logger,
          onFfmpeg: (pid, running) => send({ t: 'ffmpeg', pid, running }),
        })
      : undefined;
  const whep: WhepPlayback | undefined =
    settings.whep.maxViewers > 0
      ? createWhepPlayback({
          ffmpegPath: bin,
          source: async (roomId) => {
            const broadcast = live.get(roomId)?.publisher.broadcast();
            if (broadcast) return broadcastWhepSource(broadcast);
            // published on another node: played from this node's edge relay (one pull, shared with FLV viewers)
            if (!(await originOf(roomId).catch(() => null))) return undefined;
            return loopbackWhepSource(`http://${loopbackHost(settings.host)}:${playback.port}/live/${roomId}.flv`);
          },
          offers,
          settings: settings.whep,
          logger,
          onFfmpeg: (pid, running) => send({ t: 'ffmpeg', pid, running }),
        })
      : undefined;
  const webrtc = (req: IncomingMessage, res: ServerResponse) => Boolean(whip?.handle(req, res) || whep?.handle(req, res));
  const playback: FlvPlayback = await createFlvPlayback({
    host: settings.host,
    port: settings.httpPort,
    logger,
    ...settings.flv,
    requestTimeoutMs: settings.httpRequestTimeoutMs,
    onRequest: hls.handle,
    intercept: webrtc,
    edgeIdleMs: settings.edge.idleMs,
    locate: async (roomId) => {
      const base = await originOf(roomId);
      if (!base) return null;
      return pullSource({ url: `${base}/live/${roomId}.flv`, nodeId: settings.nodeId, timeoutMs: settings.edge.timeoutMs });
    },
  });
  const outputSettings = {
    ffmpegPath: bin,
    dataDir: settings.dataDir,
    hls: settings.hls,
    thumbnail: settings.thumbnail,
    logger: logger.child({ module: 'outputs' }),
    onFfmpeg: (pid: number, running: boolean) => send({ t: 'ffmpeg', pid, running }),
    onPreview: (roomId: string) => send({ t: 'preview', roomId }),
  };

  /** The publisher is gone (its connection closed, or it was kicked): the room is told at once. */
  const stop = (l: Live, report = true) => {
    if (l.stopped) return;
    l.stopped = true;
    if (live.get(l.roomId) === l) {
      live.delete(l.roomId);
      playback.detach(l.roomId);
      hls.forget(l.roomId);
      whep?.stopRoom(l.roomId);
    }
    if (report) send({ t: 'stopped', roomId: l.roomId });
    return l.outputs.stop().catch((err) => logger.warn({ err, roomId: l.roomId }, 'outputs did not stop cleanly'));
  };

  const onPublish = (p: Publisher) => {
    const log = logger.child({ session: p.id, ip: p.address });
    // A WHIP bridge publishes under a one-time name standing for its session's key. The key is checked again
    // now, like any encoder's: the room may have been ended or its key rotated since the offer was answered.
    const bridged = whip?.claim(p.key);
    ask<AuthorizeAnswer>({ op: 'authorize', key: bridged?.key ?? p.key }).then(
      (ans) => {
        if (p.closed()) return;
        if (!ans.ok || (bridged && ans.roomId !== bridged.roomId)) {
          log.info({ reason: ans.ok ? 'another room' : ans.reason, whip: Boolean(bridged) }, 'publish refused');
          return p.close();
        }
        const current = live.get(ans.roomId);
        // node-media-server refuses a second publisher of a path itself (but emits prePublish first)
        if (!p.isPublisher() || (current && !current.publisher.closed())) {
          log.info({ roomId: ans.roomId }, 'publish refused: the room already has a publisher');
          return p.close();
        }
        if (current) void stop(current);
        const l: Live = { roomId: ans.roomId, publisher: p, outputs: new RoomOutputs(ans.roomId, p.broadcast(), outputSettings), stopped: false };
        live.set(l.roomId, l);
        p.onClose(() => void stop(l));
        playback.attach(l.roomId, p.broadcast());
        l.outputs.start();
        log.info({ roomId: l.roomId, record: ans.record }, 'publishing');
        ask<StartedAnswer>({ op: 'started', roomId: l.roomId, record: ans.record }).then(
          ({ sessionId }) => {
            if (ans.record && !l.stopped) void l.outputs.record(sessionId).catch((err) => log.error({ err }, 'recording did not start'));
          },
          (err) => {
            log.warn({ err: err.message }, 'the room could not go live; dropping the publisher');
            p.close();
          },
        );
      },
      (err) => {
        log.warn({ err: err.message }, 'publish refused: authorization failed');
        p.close();
      },
    );
  };

  let ingest: RtmpIngest;
  try {
    ingest = await startRtmpIngest({ host: settings.host, port: settings.rtmpPort, limits: settings.rtmp, logger, onPublish });
    rtmpPort = ingest.port;
  } catch (err) {
    await playback.close();
    throw err;
  }

  const report = setInterval(() => {
    const flv: Record<string, number> = {};
    const h: Record<string, number> = {};
    const all = playback.viewerCounts();
    const hc = hls.viewerCounts();
    const wc = whep?.viewerCounts() ?? {};
    const w: Record<string, number> = {};
    // the rooms published here and those served as an edge (the origin does not count an edge's pull)
    for (const roomId of new Set([...live.keys(), ...Object.keys(all), ...Object.keys(hc)])) {
      if (all[roomId]) flv[roomId] = all[roomId];
      if (hc[roomId]) h[roomId] = hc[roomId];
      if (wc[roomId]) w[roomId] = wc[roomId];
    }
    send({ t: 'viewers', flv, hls: h, whep: w, edgePulls: playback.edgePulls() });
  }, settings.viewersReportMs);

  let shuttingDown: Promise<void> | undefined;
  const shutdown = () => {
    shuttingDown ??= (async () => {
      clearInterval(report);
      // not reported as stopped: the supervisor is going away with us; the next start sorts the rooms out
      await whip?.close();
      await whep?.close();
      await Promise.all([...live.values()].map((l) => stop(l, false)));
      await ingest.close();
      await playback.close();
      logger.info('media process stopped');
    })();
    return shuttingDown;
  };

  process.on('message', (m: ParentMessage) => {
    if (m.t === 'answer') {
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.ok) p.resolve(m.value);
      else p.reject(new Error(m.error));
    } else if (m.t === 'kick') {
      const l = live.get(m.roomId);
      if (l) {
        logger.info({ roomId: m.roomId, reason: m.reason }, 'disconnecting the publisher');
        l.publisher.close();
      }
      // WHIP sessions answered but not live yet (and offers being answered) would otherwise go live on the old authorization
      whip?.kick(m.roomId, m.reason);
    } else if (m.t === 'shutdown') {
      void shutdown().then(() => process.exit(0));
    }
  });
  // the supervisor died: stop at once (no orphan media process)
  onParentGone = () => {
    const timer = setTimeout(() => process.exit(0), 2000);
    timer.unref();
    void shutdown().finally(() => process.exit(0));
  };

  send({ t: 'ready', rtmpPort: ingest.port, httpPort: playback.port });
  logger.info({ rtmpPort: ingest.port, httpPort: playback.port, ffmpeg: bin }, 'media process ready');
}

/** What to do when the supervisor goes away: exit, until main() can shut down cleanly. */
let onParentGone = (): void => process.exit(0);
// Only when forked by the supervisor (test runners fork with IPC too).
if (process.send && process.env.LIVEROOM_MEDIA_CHILD === '1') {
  // registered first: a supervisor that dies while we start must not leave us holding the ports
  process.once('disconnect', () => onParentGone());
  process.once('message', (m: ParentMessage) => {
    if (m.t !== 'init') return process.exit(2);
    main(m.settings).catch((err) => {
      send({ t: 'fatal', message: String((err as Error)?.stack ?? err) });
      process.exit(1);
    });
  });
}
