// WHEP playback (RFC 9725's playback twin) in the media process: a viewer
// POSTs a recvonly SDP offer to /whep/<roomId> and gets WebRTC with well under
// a second of delay. Per live room with WHEP viewers, one ffmpeg reads the
// room's FLV (on stdin, like HLS: the publisher's broadcast on its origin, or
// on an edge the node's own relay of the origin's pull, read over loopback)
// and sends RTP over loopback: H.264
// constrained baseline without B-frames and a keyframe every second (what
// browsers' WebRTC decoders take and what lets a newcomer start fast) and Opus.
// werift then encrypts it per viewer (SRTP in JavaScript: tens of viewers per
// core, see docs/media.md; FLV and HLS are the mass-audience paths).
// A stalled client holds no viewer place: the room must be live before the
// body is read, the body must arrive within sdpReadTimeoutMs, and the place is
// taken only once it has (the caller bounds offers per client address).
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import http from 'node:http';
import type { Logger } from 'pino';
import { MediaStreamTrack, RTCPeerConnection, RTCRtpCodecParameters, useNACK, usePLI } from 'werift';
import { pidReporter, startWhepFeed, type FfmpegFeed } from './ffmpeg.ts';
import type { WhepSettings } from './ipc.ts';
import { tapBroadcast, type NmsBroadcast } from './rtmp-ingest.ts';
import { FEED_HEADER } from './stream-source.ts';
import { HttpError, readBody, replyError, tooManyOffers, waitForCandidates, WEBRTC_CORS, type OfferLimiter } from './webrtc-http.ts';

/** A room's FLV bytes for the feed's ffmpeg. */
export interface WhepSource {
  /** Starts delivery; `onEnd` when the stream ends. Returns the stop. */
  tap(onData: (buf: Buffer) => void, onEnd: () => void): () => void;
}

export interface WhepPlaybackOptions {
  ffmpegPath: string;
  /** Where this node can read a live room's FLV: its publisher here, or the node's edge relay of it; undefined when not live. */
  source(roomId: string): Promise<WhepSource | undefined>;
  /** Offers in flight per client address (shared with WHIP). */
  offers: OfferLimiter;
  settings: WhepSettings;
  logger: Logger;
  onFfmpeg?: (pid: number, running: boolean) => void;
}

export interface WhepPlayback {
  /** Answers /whep requests (any method); false for other paths. */
  handle(req: http.IncomingMessage, res: http.ServerResponse): boolean;
  /** The room's publisher is gone: its WHEP viewers and feed end. */
  stopRoom(roomId: string): void;
  viewerCounts(): Record<string, number>;
  close(): Promise<void>;
}

const WHEP_PATH = /^\/whep\/([A-Za-z0-9_-]{1,64})(?:\/([A-Za-z0-9_-]{1,64}))?\/?$/;
const VIDEO_PT = 96;
const AUDIO_PT = 111;
const CODECS = {
  video: [
    new RTCRtpCodecParameters({
      mimeType: 'video/H264',
      clockRate: 90000,
      payloadType: VIDEO_PT,
      rtcpFeedback: [useNACK(), usePLI()],
      parameters: 'profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1',
    }),
  ],
  audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: AUDIO_PT })],
};

interface Viewer {
  id: string;
  pc: RTCPeerConnection;
  video: MediaStreamTrack;
  audio: MediaStreamTrack;
  timers: NodeJS.Timeout[];
  closing?: Promise<void>;
}

interface Feed {
  roomId: string;
  video: dgram.Socket;
  audio: dgram.Socket;
  ffmpeg: FfmpegFeed;
  untap: () => void;
  viewers: Map<string, Viewer>;
  idleTimer?: NodeJS.Timeout;
  stopped: boolean;
}

async function boundSocket(onPacket: (packet: Buffer) => void): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  s.on('message', onPacket);
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => resolve());
  });
  return s;
}

export function createWhepPlayback(opts: WhepPlaybackOptions): WhepPlayback {
  const { settings } = opts;
  const log = opts.logger.child({ module: 'whep' });
  const feeds = new Map<string, Feed>();
  let starting = 0;
  let closed = false;
  const total = () => {
    let n = starting;
    for (const f of feeds.values()) n += f.viewers.size;
    return n;
  };

  function closeViewer(feed: Feed, v: Viewer, why: string): Promise<void> {
    v.closing ??= (async () => {
      feed.viewers.delete(v.id);
      for (const t of v.timers) clearTimeout(t);
      log.debug({ roomId: feed.roomId, viewer: v.id, why }, 'WHEP viewer gone');
      // the last viewer gone: keep the feed a little for the next one, then stop it
      if (feed.viewers.size === 0 && !feed.stopped) feed.idleTimer = setTimeout(() => stopFeed(feed), settings.idleStopMs);
      await v.pc.close().catch(() => {});
    })();
    return v.closing;
  }

  function stopFeed(feed: Feed): void {
    if (feed.stopped) return;
    feed.stopped = true;
    clearTimeout(feed.idleTimer);
    if (feeds.get(feed.roomId) === feed) feeds.delete(feed.roomId);
    feed.untap();
    void feed.ffmpeg.stop(0);
    feed.video.close();
    feed.audio.close();
    for (const v of feed.viewers.values()) void closeViewer(feed, v, 'feed stopped');
  }

  async function startFeed(roomId: string, source: WhepSource): Promise<Feed> {
    // each packet goes to every viewer's track; werift gives it that sender's SSRC and payload type
    const fanOut = (kind: 'video' | 'audio') => (packet: Buffer) => {
      const f = feeds.get(roomId);
      if (f) for (const v of f.viewers.values()) v[kind].writeRtp(packet);
    };
    const video = await boundSocket(fanOut('video'));
    const audio = await boundSocket(fanOut('audio'));
    const ff = startWhepFeed({
      bin: opts.ffmpegPath,
      videoPort: video.address().port,
      audioPort: audio.address().port,
      videoPayloadType: VIDEO_PT,
      audioPayloadType: AUDIO_PT,
      videoKbps: settings.videoKbps,
      onPid: pidReporter(opts.onFfmpeg),
    });
    const feed: Feed = { roomId, video, audio, ffmpeg: ff, untap: () => {}, viewers: new Map(), stopped: false };
    void ff.exited.then((err) => {
      if (!feed.stopped) log.warn({ roomId, err: err?.message.slice(-500) }, 'WHEP feed ffmpeg exited');
      stopFeed(feed);
    });
    feed.untap = source.tap(
      (buf) => {
        // an encoder that cannot keep up is not fed without bound: its viewers end and may come back
        if (ff.backlog() > settings.maxBacklogBytes) return stopFeed(feed);
        ff.input.write(buf);
      },
      () => stopFeed(feed),
    );
    feeds.set(roomId, feed);
    log.info({ roomId }, 'WHEP feed started');
    return feed;
  }

  async function answer(req: http.IncomingMessage, res: http.ServerResponse, roomId: string): Promise<void> {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/sdp') throw new HttpError(415, 'unsupported_media_type', 'send the SDP offer as application/sdp');
    if (closed) throw new HttpError(503, 'shutting_down', 'the media node is stopping');
    const notLive = () => new HttpError(404, 'stream_not_found', 'this room is not live on this media node');
    const tooMany = () => new HttpError(503, 'too_many_viewers', 'this media node takes no more WebRTC viewers now; play FLV or HLS');
    // an offline room or a full node is refused before the body is read
    if (!(await opts.source(roomId))) throw notLive();
    if (total() >= settings.maxViewers) throw tooMany();
    const body = await readBody(req, settings.maxSdpBytes, settings.sdpReadTimeoutMs);
    if (!/^v=0\r?\n/.test(body) || !/\r?\nm=(audio|video) /.test(body)) throw new HttpError(400, 'invalid_sdp', 'the body is not an SDP offer with audio or video');
    if (closed) throw new HttpError(503, 'shutting_down', 'the media node is stopping');
    const source = await opts.source(roomId);
    if (!source) throw notLive();
    // the place is taken with the body in hand and before the next await
    if (total() >= settings.maxViewers) throw tooMany();
    starting++;
    let viewer: Viewer | undefined;
    let feed: Feed | undefined;
    try {
      feed = feeds.get(roomId) ?? (await startFeed(roomId, source));
      clearTimeout(feed.idleTimer);
      const pc = new RTCPeerConnection({
        codecs: CODECS,
        iceAdditionalHostAddresses: settings.iceHostAddresses,
        ...(settings.icePortRange ? { icePortRange: settings.icePortRange } : {}),
      });
      viewer = { id: randomBytes(12).toString('base64url'), pc, video: new MediaStreamTrack({ kind: 'video' }), audio: new MediaStreamTrack({ kind: 'audio' }), timers: [] };
      await pc.setRemoteDescription({ type: 'offer', sdp: body });
      const transceivers = pc.getTransceivers();
      if (transceivers.length === 0) throw new HttpError(400, 'invalid_sdp', 'the offer asks for no audio or video');
      for (const t of transceivers) {
        t.setDirection('sendonly');
        await t.sender.replaceTrack(t.kind === 'video' ? viewer.video : viewer.audio);
      }
      await pc.setLocalDescription(await pc.createAnswer());
      await waitForCandidates(pc);
      const sdp = pc.localDescription?.sdp;
      if (!sdp) throw new Error('no local description');
      if (feed.stopped) throw new HttpError(404, 'stream_not_found', 'the broadcast ended');
      const v = viewer;
      const f = feed;
      f.viewers.set(v.id, v);
      pc.connectionStateChange.subscribe((state) => {
        if (state === 'failed' || state === 'closed') void closeViewer(f, v, `peer ${state}`);
        if (state === 'disconnected') v.timers.push(setTimeout(() => pc.connectionState === 'disconnected' && void closeViewer(f, v, 'peer disconnected'), settings.connectTimeoutMs));
      });
      // a viewer that never connects does not hold a place
      v.timers.push(setTimeout(() => pc.connectionState !== 'connected' && void closeViewer(f, v, 'never connected'), settings.connectTimeoutMs));
      res.writeHead(201, { ...WEBRTC_CORS, 'Content-Type': 'application/sdp', Location: `/whep/${roomId}/${v.id}`, ETag: `"${v.id}"` });
      res.end(sdp);
    } catch (err) {
      if (viewer) await viewer.pc.close().catch(() => {});
      if (feed && feed.viewers.size === 0 && !feed.stopped && !feed.idleTimer) feed.idleTimer = setTimeout(() => stopFeed(feed!), settings.idleStopMs);
      if (err instanceof HttpError) throw err;
      throw new HttpError(400, 'invalid_sdp', `the SDP offer could not be answered: ${(err as Error).message}`.slice(0, 300));
    } finally {
      starting--;
    }
  }

  return {
    handle(req, res) {
      const m = WHEP_PATH.exec((req.url ?? '').split('?')[0]!);
      if (!m) return false;
      const [, roomId, viewerId] = m;
      if (req.method === 'OPTIONS') {
        res.writeHead(204, { ...WEBRTC_CORS, 'Accept-Post': 'application/sdp' });
        res.end();
      } else if (req.method === 'POST' && !viewerId) {
        const release = opts.offers.enter(req);
        (release ? answer(req, res, roomId!) : Promise.reject(tooManyOffers()))
          .catch((err) => {
            if (err instanceof HttpError) replyError(res, err.status, err.code, err.message);
            else {
              log.error({ err }, 'WHEP offer failed');
              replyError(res, 500, 'internal', 'the offer could not be handled');
            }
          })
          .finally(() => release?.());
      } else if (req.method === 'DELETE' && viewerId) {
        const feed = feeds.get(roomId!);
        const v = feed?.viewers.get(viewerId);
        if (!feed || !v) replyError(res, 404, 'session_not_found', 'no such WHEP session');
        else
          void closeViewer(feed, v, 'client ended it').then(() => {
            res.writeHead(200, WEBRTC_CORS);
            res.end();
          });
      } else {
        replyError(res, 405, 'method_not_allowed', 'POST an SDP offer to /whep/<roomId>; DELETE its Location to stop');
      }
      return true;
    },
    stopRoom(roomId) {
      const feed = feeds.get(roomId);
      if (feed) stopFeed(feed);
    },
    viewerCounts() {
      const out: Record<string, number> = {};
      for (const [roomId, f] of feeds) if (f.viewers.size > 0) out[roomId] = f.viewers.size;
      return out;
    },
    async close() {
      closed = true;
      const viewers = [...feeds.values()].flatMap((f) => [...f.viewers.values()].map((v) => closeViewer(f, v, 'media stopping')));
      for (const f of [...feeds.values()]) stopFeed(f);
      await Promise.all(viewers);
    },
  };
}

/** The publisher's broadcast on this node. */
export function broadcastWhepSource(broadcast: NmsBroadcast): WhepSource {
  // the broadcast's end reaches the feed through stopRoom (the publisher left)
  return { tap: (onData) => tapBroadcast(broadcast, onData) };
}

/** This node's own FLV of the room, over loopback: on an edge, its one pull from the origin feeds WHEP too. */
export function loopbackWhepSource(url: string): WhepSource {
  return {
    tap(onData, onEnd) {
      let done = false;
      const end = () => {
        if (done) return;
        done = true;
        onEnd();
      };
      const req = http.get(url, { headers: { [FEED_HEADER]: '1' } }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          return end();
        }
        res.on('data', (chunk: Buffer) => done || onData(chunk));
        res.once('end', end);
        res.once('error', end);
        res.once('close', end);
      });
      req.once('error', end);
      return () => {
        done = true;
        req.destroy();
      };
    },
  };
}
