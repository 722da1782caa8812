// The live player. HTTP-FLV through mpegts.js (MSE) with latency chasing, so
// a viewer stays about a second behind; HLS (native, else hls.js) where MSE
// cannot play FLV or the FLV path fails to decode. It recovers by itself: any
// error, an ended stream or a stall while the room is live tears the engine
// down and reconnects with backoff; the room page also calls live() again
// when the room's status goes back to live.
import type Hls from 'hls.js';
// mpegts.js is a UMD bundle with an ES-module-style `default`; bundlers and
// TypeScript's NodeNext view disagree on one level of `default`, so both are handled.
type MpegtsApi = (typeof import('mpegts.js'))['default'];
type FlvConfig = NonNullable<Parameters<MpegtsApi['createPlayer']>[1]>;
async function loadMpegts(): Promise<MpegtsApi> {
  const mod = (await import('mpegts.js')) as unknown as { default?: { default?: MpegtsApi } & Partial<MpegtsApi> };
  const d = mod.default;
  return (d?.createPlayer ? d : d?.default) as MpegtsApi;
}

export type PlayerState = 'connecting' | 'playing' | 'reconnecting' | 'offline' | 'ended' | 'unsupported';
export interface Playback {
  flv: string;
  wsFlv: string;
  hls: string;
  whep?: string | null;
}
type Tech = 'flv' | 'hls' | 'webrtc';
type Failure = 'network' | 'media' | 'stall';

const MAX_BACKOFF_MS = 5000;
/** No progress for this long while live and not paused: reconnect. */
const STALL_MS = 8000;

// Low-latency settings: no stash buffer (data goes to MSE as it arrives), chase
// the live edge when the buffer grows, drop old buffered media.
const FLV_CONFIG: FlvConfig = {
  enableWorker: false,
  enableStashBuffer: false,
  stashInitialSize: 128 * 1024,
  lazyLoad: false,
  autoCleanupSourceBuffer: true,
  autoCleanupMaxBackwardDuration: 30,
  autoCleanupMinBackwardDuration: 10,
  liveBufferLatencyChasing: true,
  liveBufferLatencyChasingOnPaused: false,
  liveBufferLatencyMaxLatency: 1.5,
  liveBufferLatencyMinRemain: 0.5,
  liveSync: true,
  liveSyncMaxLatency: 2.5,
  liveSyncTargetLatency: 1.0,
  liveSyncPlaybackRate: 1.2,
};

interface Engine {
  tech: Tech;
  destroy(): void;
}

export interface Player {
  /** The room is live: play from these URLs; `restart` reconnects even if an engine runs (the stream came back). */
  live(playback: Playback, restart?: boolean): void;
  /** The room is not live: stop and show why. */
  stop(state: 'offline' | 'ended'): void;
  destroy(): void;
  readonly tech: Tech | null;
}

export interface PlayerOptions {
  /** FLV over HTTP (default) or over a WebSocket (for proxies that buffer long HTTP responses). */
  flvTransport?: 'http' | 'ws';
  /** Play HLS from the start (a network that blocks FLV; tests of the fallback). */
  preferHls?: boolean;
  /** Play over WebRTC (WHEP, lowest delay) when the room offers it; FLV if it fails. */
  preferWebrtc?: boolean;
}

export function createPlayer(video: HTMLVideoElement, onState: (s: PlayerState, tech: Tech | null) => void, opts: PlayerOptions = {}): Player {
  let wanted: Playback | null = null;
  let engine: Engine | null = null;
  let preferred: Tech = opts.preferWebrtc ? 'webrtc' : opts.preferHls ? 'hls' : 'flv';
  let failures = 0;
  let retryTimer: number | undefined;
  let lastTime = 0;
  let lastProgressAt = 0;
  let destroyed = false;
  let generation = 0; // events of a torn-down engine are ignored
  let state: PlayerState | null = null;

  const set = (s: PlayerState) => {
    if (s === state) return;
    state = s;
    onState(s, engine?.tech ?? null);
  };

  video.muted = true; // autoplay is allowed only muted; the page offers unmute
  video.playsInline = true;
  video.autoplay = true;

  const progress = () => {
    if (video.currentTime !== lastTime) {
      lastTime = video.currentTime;
      lastProgressAt = performance.now();
      if (engine && wanted) {
        failures = 0;
        set('playing');
      }
    }
  };
  video.addEventListener('timeupdate', progress);
  const watchdog = window.setInterval(() => {
    if (!engine || !wanted || video.paused) return;
    if (performance.now() - lastProgressAt > STALL_MS) fail(generation, 'stall');
  }, 1000);

  const teardown = () => {
    generation++;
    window.clearTimeout(retryTimer);
    retryTimer = undefined;
    if (engine) {
      try {
        engine.destroy();
      } catch {
        // a half-initialised engine may throw on destroy; it is gone either way
      }
      engine = null;
    }
    video.srcObject = null;
    video.removeAttribute('src');
    video.load();
  };

  const fail = (gen: number, why: Failure) => {
    if (gen !== generation || destroyed) return;
    const was = engine?.tech;
    teardown();
    if (!wanted) return;
    // FLV that cannot be decoded here will not get better: switch to HLS; WebRTC that fails goes FLV
    if (why === 'media' && was === 'flv') preferred = 'hls';
    if (was === 'webrtc' && failures > 0) preferred = 'flv';
    failures++;
    set('reconnecting');
    const delay = Math.min(500 * 2 ** (failures - 1), MAX_BACKOFF_MS);
    retryTimer = window.setTimeout(() => void connect(), delay);
  };

  const connect = async () => {
    if (!wanted || destroyed) return;
    teardown();
    const gen = generation;
    const playback = wanted;
    if (failures === 0) set('connecting');
    lastProgressAt = performance.now();
    try {
      const e = preferred === 'webrtc' ? await startWebrtc(playback, gen) : preferred === 'flv' ? await startFlv(playback, gen) : await startHls(playback, gen);
      if (gen !== generation) return void e?.destroy();
      if (!e) {
        // this engine does not work in this browser (or the room has no WHEP): try the next
        if (preferred === 'webrtc') {
          preferred = 'flv';
          return void connect();
        }
        if (preferred === 'flv') {
          preferred = 'hls';
          return void connect();
        }
        return set('unsupported');
      }
      engine = e;
      video.play().catch(() => {
        // autoplay refused (even muted): the poster stays until the user taps play
      });
    } catch {
      fail(gen, 'network');
    }
  };

  const startFlv = async (playback: Playback, gen: number): Promise<Engine | null> => {
    const mpegts = await loadMpegts();
    if (!mpegts.getFeatureList().mseLivePlayback) return null;
    const url = opts.flvTransport === 'ws' ? playback.wsFlv : playback.flv;
    const p = mpegts.createPlayer({ type: 'flv', isLive: true, url }, FLV_CONFIG);
    p.on(mpegts.Events.ERROR, (type: string, detail: string) => {
      const media = type === mpegts.ErrorTypes.MEDIA_ERROR && detail !== mpegts.ErrorDetails.MEDIA_MSE_ERROR;
      fail(gen, media ? 'media' : 'network');
    });
    // the media node ends the response when the broadcast stops
    p.on(mpegts.Events.LOADING_COMPLETE, () => fail(gen, 'network'));
    p.attachMediaElement(video);
    p.load();
    return {
      tech: 'flv',
      destroy: () => {
        p.pause();
        // detached first: unload() would abort() a SourceBuffer mid-cleanup, which mpegts.js logs as an error
        p.detachMediaElement();
        p.unload();
        p.destroy();
      },
    };
  };

  const startWebrtc = async (playback: Playback, gen: number): Promise<Engine | null> => {
    if (!playback.whep || typeof RTCPeerConnection === 'undefined') return null;
    const { playWhep } = await import('./whep.ts');
    const session = await playWhep(playback.whep);
    session.onEnded(() => fail(gen, 'network'));
    video.srcObject = session.stream;
    return { tech: 'webrtc', destroy: () => session.close() };
  };

  const startHls = async (playback: Playback, gen: number): Promise<Engine | null> => {
    if (video.canPlayType('application/vnd.apple.mpegurl')) {
      const onError = () => fail(gen, 'network');
      video.addEventListener('error', onError);
      video.src = playback.hls;
      return { tech: 'hls', destroy: () => video.removeEventListener('error', onError) };
    }
    const HlsClass = (await import('hls.js')).default as typeof Hls;
    if (!HlsClass.isSupported()) return null;
    const hls = new HlsClass({ lowLatencyMode: true, liveSyncDurationCount: 2, manifestLoadingMaxRetry: 2 });
    hls.on(HlsClass.Events.ERROR, (_ev, data) => {
      if (data.fatal) fail(gen, data.type === HlsClass.ErrorTypes.MEDIA_ERROR ? 'media' : 'network');
    });
    hls.loadSource(playback.hls);
    hls.attachMedia(video);
    return { tech: 'hls', destroy: () => hls.destroy() };
  };

  return {
    live(playback, restart = false) {
      const same = wanted && wanted.flv === playback.flv;
      wanted = playback;
      // already playing or about to retry this stream: nothing to do
      if (!restart && same && (engine || retryTimer !== undefined)) return;
      failures = 0;
      void connect();
    },
    stop(s) {
      wanted = null;
      failures = 0;
      teardown();
      set(s);
    },
    destroy() {
      destroyed = true;
      wanted = null;
      teardown();
      window.clearInterval(watchdog);
      video.removeEventListener('timeupdate', progress);
    },
    get tech() {
      return engine?.tech ?? null;
    },
  };
}
