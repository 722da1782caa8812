// Runs the media process (src/media/media-process.ts) as a supervised child
// and is its only link to the rest of Liveroom: it answers the child's
// questions from the domain services (the child never touches the database),
// turns its reports into room status, viewers and previews, passes kicks down,
// and restarts it with backoff when it dies. A crash interrupts the rooms that
// were live on it; a publisher that does not come back within
// MEDIA_RESUME_GRACE_SEC ends the broadcast as a media failure.
//
// In a cluster it also announces this media node in the registry (Redis) with
// a heartbeat, tells the child where a room published on another node is
// (edges pull from there), and interrupts the rooms of nodes that stopped
// heartbeating, as for a crash here.
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Config } from '../config.ts';
import { newId } from '../domain/ids.ts';
import type { RoomUrls } from '../domain/rooms.ts';
import type { Services } from '../domain/services.ts';
import type { JobRunner } from '../jobs/index.ts';
import type { ChildMessage, MediaRequest, ParentMessage } from '../media/ipc.ts';
import { mediaSettings } from './media-settings.ts';
import { memoryNodeRegistry, redisNodeRegistry, type MediaNodeInfo, type NodeRegistry } from './node-registry.ts';
import { enqueueRemux } from './recording-jobs.ts';

const CHILD = fileURLToPath(new URL('../media/media-process.ts', import.meta.url));
/** A child that stayed up this long starts the next restart from the first backoff step again. */
const STABLE_MS = 30_000;
/** The startup may take this long (the first fork also loads node-media-server). */
const READY_TIMEOUT_MS = 30_000;
const ENV_PASSED = ['PATH', 'HOME', 'TMPDIR', 'TZ', 'LANG', 'LC_ALL'];

export interface MediaSupervisor {
  /** Where media is reached now (the real ports when configured as 0); for the rooms' URLs. */
  urls(): Partial<RoomUrls>;
  ports(): { rtmp: number; http: number };
  /** The media process's pid once it listens (a restarted one only when ready to take publishers). */
  pid(): number | undefined;
  /** The media process listens (RTMP, HTTP playback, WHIP): false while it starts or is being restarted. */
  ready(): boolean;
  /** Rooms with a publisher on the media process. */
  liveRooms(): string[];
  /** Stops the media process (and with it every ffmpeg it ran); a second call waits on the first. */
  close(): Promise<void>;
}

export interface MediaSupervisorDeps {
  config: Config;
  services: Services;
  logger: Logger;
  registry: Registry;
  jobs: JobRunner;
  /** With Redis the node registry is shared with the cluster; without, this node is alone. */
  redis?: Redis;
}

export async function startMediaSupervisor(deps: MediaSupervisorDeps): Promise<MediaSupervisor> {
  const { config, services } = deps;
  // This node's name in the viewer counts of every node (a restart of the API process is a new node: its old counts expire)
  const nodeId = newId();
  const log = deps.logger.child({ module: 'media-supervisor', nodeId });
  // a node's counts hold for three report periods: one late report does not drop its viewers
  const viewersFreshForMs = config.MEDIA_VIEWERS_REPORT_SEC * 3000;
  const graceMs = config.MEDIA_RESUME_GRACE_SEC * 1000;
  const ports = { rtmp: config.RTMP_PORT, http: config.MEDIA_HTTP_PORT };
  let child: ChildProcess | undefined;
  let closing: Promise<void> | undefined;
  let backoffMs = config.MEDIA_RESTART_BACKOFF_MS;
  let upSince = 0;
  let restartTimer: NodeJS.Timeout | undefined;
  const timers = new Set<NodeJS.Timeout>();
  const liveRooms = new Set<string>();
  const ffmpegPids = new Set<number>();
  const nodes: NodeRegistry = deps.redis ? redisNodeRegistry(deps.redis, config.REDIS_PREFIX) : memoryNodeRegistry();
  const heartbeatMs = config.MEDIA_HEARTBEAT_SEC * 1000;
  const nodeTtlMs = heartbeatMs * 3;
  /** Rooms with players here that this node does not publish: it is their edge. */
  let edgeRooms: string[] = [];
  let viewerTotal = 0;
  let edgePulls = 0;

  const up = new Gauge({ name: 'liveroom_media_up', help: '1 while the media process runs', registers: [deps.registry] });
  const restarts = new Counter({ name: 'liveroom_media_restarts_total', help: 'Media process restarts after it exited or crashed', registers: [deps.registry] });
  const viewersGauge = new Gauge({
    name: 'liveroom_media_viewers',
    help: 'Players per live room on this media node, by protocol (flv: HTTP-FLV and WS-FLV; hls)',
    labelNames: ['room', 'protocol'] as const,
    registers: [deps.registry],
  });
  new Gauge({
    name: 'liveroom_media_edge_rooms',
    help: 'Rooms this media node relays from their origin on another node (one pull each)',
    registers: [deps.registry],
    collect() {
      this.set(edgeRooms.length);
    },
  });
  new Gauge({
    name: 'liveroom_media_edge_pulls',
    help: "Other media nodes' pulls of the streams published here (one per room per edge)",
    registers: [deps.registry],
    collect() {
      this.set(edgePulls);
    },
  });
  new Gauge({
    name: 'liveroom_media_publishers',
    help: 'Live publishers on this media node',
    registers: [deps.registry],
    collect() {
      this.set(liveRooms.size);
    },
  });

  // Reports about one room are handled in order (a stop never overtakes its start).
  const chains = new Map<string, Promise<unknown>>();
  function serial<T>(roomId: string, fn: () => Promise<T>): Promise<T> {
    const next = (chains.get(roomId) ?? Promise.resolve()).then(fn, fn);
    const tail = next.catch(() => {});
    chains.set(roomId, tail);
    void tail.then(() => {
      if (chains.get(roomId) === tail) chains.delete(roomId);
    });
    return next;
  }

  /** Retries a domain call that must not be lost (a broadcast that really stopped), with backoff, for about a minute. */
  async function persist(what: string, fn: () => Promise<unknown>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await fn();
        return;
      } catch (err) {
        if (attempt >= 7 || closing) return void log.error({ err, what }, 'media report lost');
        log.warn({ err, what, attempt }, 'media report failed; retrying');
        await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
      }
    }
  }

  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  /** Rooms this supervisor interrupted (a media crash, or left live by a previous run), and when. */
  const interruptedAt = new Map<string, number>();
  /** Interrupted broadcasts whose publisher did not come back in time end as media failures. */
  const endStaleLater = (roomIds: string[]) => {
    const now = Date.now();
    for (const id of roomIds) interruptedAt.set(id, now);
    later(graceMs + 250, () => {
      const due = [...interruptedAt].filter(([, at]) => Date.now() - at >= graceMs).map(([id]) => id);
      for (const id of due) interruptedAt.delete(id);
      if (due.length === 0) return;
      services.broadcasts.endInterrupted(due).then(
        (ended) => ended.length && log.warn({ rooms: ended }, 'broadcasts ended: their publisher did not come back after a media restart'),
        (err) => log.error({ err }, 'ending interrupted broadcasts failed'),
      );
    });
  };

  /** Recordings of broadcasts that ended are remuxed (a job, after the media process closed its files). */
  async function finishRecordings(roomId?: string): Promise<void> {
    const closed = await services.recordings.closeEnded(roomId);
    for (const r of closed) await enqueueRemux(deps.jobs, r.id);
  }

  const send = (c: ChildProcess, m: ParentMessage) => {
    if (c.connected) c.send(m, (err) => err && log.debug({ err }, 'media IPC send failed'));
  };

  async function answer(c: ChildProcess, id: number, req: MediaRequest): Promise<void> {
    try {
      let value: unknown;
      if (req.op === 'authorize') value = await services.broadcasts.authorizePublish(req.key);
      else if (req.op === 'locate') value = { originUrl: await originUrl(req.roomId) };
      else
        value = await serial(req.roomId, async () => {
          const sessionId = await services.broadcasts.publishStarted(req.roomId, nodeId);
          liveRooms.add(req.roomId);
          interruptedAt.delete(req.roomId);
          if (req.record) await services.recordings.start(req.roomId, sessionId);
          return { sessionId };
        });
      send(c, { t: 'answer', id, ok: true, value });
    } catch (err) {
      log.warn({ err, op: req.op }, 'media question failed');
      send(c, { t: 'answer', id, ok: false, error: (err as Error).message });
    }
  }

  function onMessage(c: ChildProcess, m: ChildMessage): void {
    switch (m.t) {
      case 'ask': {
        const { t: _t, id, ...req } = m;
        void answer(c, id, req as MediaRequest);
        break;
      }
      case 'stopped':
        void serial(m.roomId, async () => {
          liveRooms.delete(m.roomId);
          await persist('publish stopped', () => services.broadcasts.publishStopped(m.roomId, 'streamer_stopped'));
        });
        break;
      case 'viewers': {
        // the rooms published here and those relayed as an edge; the domain counts only live rooms
        const total: Record<string, number> = {};
        viewersGauge.reset();
        for (const [protocol, counts] of [['flv', m.flv], ['hls', m.hls], ['whep', m.whep]] as const) {
          for (const [room, n] of Object.entries(counts)) {
            total[room] = (total[room] ?? 0) + n;
            viewersGauge.set({ room, protocol }, n);
          }
        }
        edgeRooms = Object.keys(total).filter((room) => !liveRooms.has(room));
        viewerTotal = Object.values(total).reduce((a, b) => a + b, 0);
        edgePulls = m.edgePulls;
        services.broadcasts.reportViewers(nodeId, total, viewersFreshForMs).catch((err) => log.warn({ err }, 'viewer counts not stored'));
        break;
      }
      case 'preview':
        services.broadcasts.previewUpdated(m.roomId).catch((err) => log.warn({ err }, 'preview not recorded'));
        break;
      case 'ffmpeg':
        if (m.running) ffmpegPids.add(m.pid);
        else ffmpegPids.delete(m.pid);
        break;
      case 'fatal':
        log.error({ detail: m.message }, 'media process reported a fatal error');
        break;
    }
  }

  /** ffmpeg children of a dead media process see their input end and exit; this is the backstop. */
  function killLeftoverFfmpeg(): void {
    for (const pid of ffmpegPids) {
      try {
        // only if the pid is still an ffmpeg (never a recycled pid of something else)
        if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('ffmpeg')) process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    ffmpegPids.clear();
  }

  async function onExit(c: ChildProcess, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    if (c !== child) return;
    child = undefined;
    up.set(0);
    viewersGauge.reset();
    killLeftoverFfmpeg();
    if (closing) return;
    restarts.inc();
    const stable = upSince > 0 && Date.now() - upSince > STABLE_MS;
    if (stable) backoffMs = config.MEDIA_RESTART_BACKOFF_MS;
    log.error({ code, signal, restartInMs: backoffMs }, 'media process exited; restarting it');
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      spawn().catch((err) => log.error({ err }, 'media process did not start'));
    }, backoffMs);
    backoffMs = Math.min(backoffMs * 2, config.MEDIA_RESTART_BACKOFF_MAX_MS);
    // the publishers were on the dead process: their rooms show as interrupted until they come back (or the grace ends)
    await Promise.all(chains.values());
    const lost = [...liveRooms];
    liveRooms.clear();
    if (lost.length === 0) return;
    await persist('interrupt', () => services.broadcasts.interrupt(lost));
    endStaleLater(lost);
  }

  /** Forks the media process; resolves once it listens, rejects if it exits first. */
  function spawn(): Promise<void> {
    const env: Record<string, string> = { LIVEROOM_MEDIA_CHILD: '1' };
    for (const k of ENV_PASSED) if (process.env[k]) env[k] = process.env[k]!;
    // no secrets, no database settings: the child gets its settings over IPC
    const c = fork(CHILD, [], { env, execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child = c;
    upSince = 0;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error('the media process did not start in time'));
        c.kill('SIGKILL');
      }, READY_TIMEOUT_MS);
      let fatal = '';
      c.on('message', (m: ChildMessage) => {
        if (m.t === 'ready') {
          clearTimeout(timer);
          ports.rtmp = m.rtmpPort;
          ports.http = m.httpPort;
          upSince = Date.now();
          up.set(1);
          log.info({ pid: c.pid, rtmpPort: m.rtmpPort, httpPort: m.httpPort }, 'media process ready');
          resolve();
        } else if (m.t === 'fatal') fatal = m.message;
        onMessage(c, m);
      });
      c.on('error', (err) => log.error({ err }, 'media process error'));
      c.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the media process exited (${signal ?? code})${fatal ? `: ${fatal.split('\n')[0]}` : ''}`));
        void onExit(c, code, signal);
      });
      send(c, { t: 'init', settings: mediaSettings(config, ports, nodeId) });
    });
  }

  const unsubscribe = [
    services.events.subscribe('room.kick', (e) => {
      if (child) send(child, { t: 'kick', roomId: e.roomId, reason: e.reason });
    }),
    services.events.subscribe('room.status', (e) => {
      if (e.status === 'ended') finishRecordings(e.roomId).catch((err) => log.error({ err, roomId: e.roomId }, 'recording not queued for processing'));
    }),
  ];

  async function stopChild(): Promise<void> {
    const c = child;
    if (!c) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    send(c, { t: 'shutdown' });
    const timer = setTimeout(() => c.kill('SIGKILL'), config.MEDIA_SHUTDOWN_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }

  try {
    await spawn();
  } catch (err) {
    closing = Promise.resolve();
    for (const off of unsubscribe) off();
    await stopChild();
    throw new Error(`media could not start (RTMP_PORT ${config.RTMP_PORT}, MEDIA_HTTP_PORT ${config.MEDIA_HTTP_PORT}): ${(err as Error).message}`);
  }

  const urls = (): Partial<RoomUrls> => {
    const out: Partial<RoomUrls> = {};
    if (!config.MEDIA_PUBLIC_URL) out.mediaUrl = `http://localhost:${ports.http}`;
    if (!config.RTMP_PUBLIC_URL) out.rtmpUrl = `rtmp://localhost:${ports.rtmp}/live`;
    return out;
  };
  // where other nodes reach this one (a wildcard listen address is reached over loopback on one machine)
  const nodeUrl = () => {
    if (config.MEDIA_NODE_URL) return config.MEDIA_NODE_URL.replace(/\/$/, '');
    const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST;
    return `http://${host}:${ports.http}`;
  };

  /** The media URL of the node holding a room published elsewhere (an edge pulls from it), else null. */
  async function originUrl(roomId: string): Promise<string | null> {
    const origin = await services.broadcasts.originOf(roomId);
    if (!origin || origin === nodeId) return null;
    return (await nodes.get(origin))?.nodeUrl ?? null;
  }

  /** Rooms whose origin node is gone are interrupted, as for a crash here; they end after the grace unless their publisher returns. */
  async function interruptOrphans(includeUnknown: boolean): Promise<void> {
    const alive = (await nodes.nodes()).map((n) => n.id);
    if (!alive.includes(nodeId)) alive.push(nodeId);
    const orphans = await services.broadcasts.orphanedLiveRooms(alive, includeUnknown);
    if (orphans.length === 0) return;
    await services.broadcasts.interrupt(orphans);
    endStaleLater(orphans);
    log.warn(
      { rooms: orphans },
      includeUnknown ? 'rooms left live by a node that is gone are interrupted until their publisher returns' : 'a media node stopped heartbeating: its rooms are interrupted',
    );
  }

  const announce = (): Promise<void> => {
    const info: MediaNodeInfo = {
      id: nodeId,
      nodeUrl: nodeUrl(),
      mediaUrl: config.MEDIA_PUBLIC_URL ?? urls().mediaUrl!,
      rtmpUrl: config.RTMP_PUBLIC_URL ?? urls().rtmpUrl!,
      viewers: viewerTotal,
      liveRooms: [...liveRooms],
      edgeRooms,
      at: Date.now(),
    };
    return nodes.announce(info, nodeTtlMs);
  };

  // Announced first, so that no other node takes this one's rooms for orphans; then the rooms left live by a previous
  // run (or by a node that died while none was watching) are interrupted, so an encoder that reconnects resumes them.
  try {
    await announce();
    await interruptOrphans(true);
    await finishRecordings();
  } catch (err) {
    log.error({ err }, 'start-up clean-up of rooms failed');
  }

  // The heartbeat. A node judges others only after its own announcements have gone through for a whole node lifetime:
  // across a Redis outage every record expires, and the others need a beat to announce again.
  let announcedSince = Date.now();
  let beating = false;
  const heartbeat = setInterval(() => {
    if (beating || closing) return;
    beating = true;
    void (async () => {
      try {
        await announce();
        await services.broadcasts.claimOrigin(nodeId, [...liveRooms]);
        if (nodes.shared && Date.now() - announcedSince >= nodeTtlMs) await interruptOrphans(false);
      } catch (err) {
        announcedSince = Date.now();
        log.warn({ err }, 'media node heartbeat failed');
      } finally {
        beating = false;
      }
    })();
  }, heartbeatMs);
  heartbeat.unref();

  return {
    urls,
    ports: () => ({ ...ports }),
    pid: () => (upSince > 0 ? child?.pid : undefined),
    ready: () => upSince > 0 && !closing,
    liveRooms: () => [...liveRooms],
    close() {
      closing ??= (async () => {
        clearInterval(heartbeat);
        for (const off of unsubscribe) off();
        // the rest of the cluster takes this node's rooms for interrupted at once, not after the heartbeat lapses
        await nodes.withdraw(nodeId).catch((err) => log.warn({ err }, 'leaving the node registry failed'));
        clearTimeout(restartTimer);
        for (const t of timers) clearTimeout(t);
        timers.clear();
        await stopChild();
        killLeftoverFfmpeg();
        await Promise.all(chains.values());
        up.set(0);
      })();
      return closing;
    },
  };
}
