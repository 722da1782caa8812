// WHIP ingest (RFC 9725) in the media process: a browser (or any WHIP
// encoder) POSTs its SDP offer with `Authorization: Bearer <streamKey>`; werift
// terminates WebRTC, the RTP goes over loopback UDP to an ffmpeg that reads an
// SDP description, transcodes VP8/Opus to H.264/AAC and publishes FLV over
// RTMP into this same media process, so status, FLV/HLS, previews and
// recordings work exactly as for OBS. That push uses a one-time local name,
// never the stream key (no key on a command line); the key behind it is
// checked again when the push arrives, and ending the room or rotating its key
// closes its sessions, live or not yet.
//
// Offer order (a stalled client must hold nothing anyone else needs): the key
// is checked before the body is read, the body must arrive within
// sdpReadTimeoutMs, and a place among maxSessions is taken only once it has;
// the caller bounds offers in flight per client address.
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import type http from 'node:http';
import type { Logger } from 'pino';
import { RTCPeerConnection, RTCRtpCodecParameters, useNACK, usePLI, type MediaStreamTrack, type RTCRtpTransceiver } from 'werift';
import { pidReporter, startWhipBridge, type FfmpegRun } from './ffmpeg.ts';
import type { AuthorizeAnswer, WhipSettings } from './ipc.ts';
import { HttpError, readBody, replyError, tooManyOffers, waitForCandidates, WEBRTC_CORS, type OfferLimiter } from './webrtc-http.ts';

export interface WhipIngestOptions {
  ffmpegPath: string;
  /** Where this media process's RTMP ingest listens (the port is known once it does). */
  rtmpHost: string;
  rtmpPort: () => number;
  authorize(key: string): Promise<AuthorizeAnswer>;
  /** Offers in flight per client address (shared with WHEP). */
  offers: OfferLimiter;
  settings: WhipSettings;
  logger: Logger;
  onFfmpeg?: (pid: number, running: boolean) => void;
}

export interface WhipIngest {
  /** Answers /whip requests (any method); false for other paths. */
  handle(req: http.IncomingMessage, res: http.ServerResponse): boolean;
  /** The stream key (to check again) and room behind a local push name this module handed out (once). */
  claim(pushName: string): Claim | undefined;
  /** The room was ended or its key rotated: its sessions close, and offers being answered for it are refused. */
  kick(roomId: string, reason: string): void;
  sessions(): number;
  close(): Promise<void>;
}

export interface Claim {
  key: string;
  roomId: string;
}

const WHIP_PATH = /^\/whip(?:\/([A-Za-z0-9_-]{1,64}))?\/?$/;
const PUSH_PREFIX = 'whip_';
const CODECS = {
  video: [new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, rtcpFeedback: [useNACK(), usePLI()] })],
  audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2 })],
};
const RTPMAP = { video: 'VP8/90000', audio: 'opus/48000/2' } as const;
type Kind = keyof typeof RTPMAP;




/** A UDP port free on loopback right now, for ffmpeg to listen on. */
async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => resolve());
  });
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

interface Session {
  id: string;
  roomId: string;
  pc: RTCPeerConnection;
  udp: dgram.Socket;
  bridge?: FfmpegRun;
  timers: NodeJS.Timeout[];
  /** Asks the publisher for a keyframe (set once its video track is known). */
  requestKeyframe?: () => void;
  /** The one-time RTMP name of its bridge, while unclaimed. */
  pushName?: string;
  closing?: Promise<void>;
}

export function createWhipIngest(opts: WhipIngestOptions): WhipIngest {
  const { settings, logger } = opts;
  const log = logger.child({ module: 'whip' });
  const sessions = new Map<string, Session>();
  /** One-time RTMP names of the bridges' pushes -> their session's key and room. */
  const pushNames = new Map<string, Claim>();
  let closed = false;
  /** Offers being answered (not yet sessions). */
  let starting = 0;
  /** Authorized offers whose body is still coming: a kick marks them. */
  const authorized = new Set<{ roomId: string; kicked?: string }>();

  function closeSession(s: Session, why: string): Promise<void> {
    s.closing ??= (async () => {
      sessions.delete(s.id);
      if (s.pushName) pushNames.delete(s.pushName);
      for (const t of s.timers) clearTimeout(t);
      log.info({ session: s.id, roomId: s.roomId, why }, 'WHIP session closed');
      await s.bridge?.stop(0);
      s.udp.close();
      await s.pc.close().catch(() => {});
    })();
    return s.closing;
  }

  /** ffmpeg listens on `ports` for the tracks described, and publishes to this media process over RTMP. */
  function startBridge(s: Session, tracks: Map<Kind, { pt: number; port: number }>, key: string) {
    const pushName = PUSH_PREFIX + randomBytes(18).toString('base64url');
    pushNames.set(pushName, { key, roomId: s.roomId });
    s.pushName = pushName;
    s.timers.push(setTimeout(() => pushNames.delete(pushName), settings.startTimeoutMs));
    let sdp = 'v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=liveroom-whip\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n';
    for (const [kind, t] of tracks) sdp += `m=${kind} ${t.port} RTP/AVP ${t.pt}\r\na=rtpmap:${t.pt} ${RTPMAP[kind]}\r\n`;
    const bridge = startWhipBridge({
      bin: opts.ffmpegPath,
      sdp,
      hasVideo: tracks.has('video'),
      hasAudio: tracks.has('audio'),
      videoKbps: settings.videoKbps,
      rtmpUrl: `rtmp://${opts.rtmpHost}:${opts.rtmpPort()}/live/${pushName}`,
      onPid: pidReporter(opts.onFfmpeg),
    });
    s.bridge = bridge;
    // the publisher's first keyframe went by before ffmpeg listened: ask for one now, not at the next tick
    s.timers.push(setTimeout(() => s.requestKeyframe?.(), 200));
    void bridge.exited.then((err) => {
      if (!s.closing) log.info({ session: s.id, err: err?.message.slice(-500) }, 'WHIP bridge ffmpeg exited');
      void closeSession(s, 'bridge ended');
    });
  }

  const full = () => sessions.size + starting >= settings.maxSessions;
  const tooMany = () => new HttpError(503, 'too_many_sessions', 'this media node takes no more WHIP publishers now');
  const refused = (reason: string) => {
    if (reason === 'already_live') return new HttpError(409, 'already_live', 'the room already has a publisher');
    if (reason === 'ended') return new HttpError(403, 'broadcast_ended', 'the broadcast was ended; rotate the stream key to go live again now');
    return new HttpError(401, 'invalid_stream_key', 'unknown, rotated or ended stream key');
  };

  async function offer(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/sdp') throw new HttpError(415, 'unsupported_media_type', 'send the SDP offer as application/sdp');
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!bearer) throw new HttpError(401, 'unauthorized', 'give the stream key as Authorization: Bearer <streamKey>');
    if (closed) throw new HttpError(503, 'shutting_down', 'the media node is stopping');
    // a full node says so without waiting for the body (no place is taken yet)
    if (full()) throw tooMany();
    const key = bearer[1]!;
    const auth = await opts.authorize(key);
    if (!auth.ok) throw refused(auth.reason);
    const pending: { roomId: string; kicked?: string } = { roomId: auth.roomId };
    authorized.add(pending);
    let body: string;
    try {
      body = await readBody(req, settings.maxSdpBytes, settings.sdpReadTimeoutMs);
    } finally {
      authorized.delete(pending);
    }
    if (!/^v=0\r?\n/.test(body) || !/\r?\nm=(audio|video) /.test(body)) throw new HttpError(400, 'invalid_sdp', 'the body is not an SDP offer with audio or video');
    if (pending.kicked) throw refused(pending.kicked === 'key_rotated' ? 'unknown_key' : 'ended');
    if (closed) throw new HttpError(503, 'shutting_down', 'the media node is stopping');
    // the place is taken with the body in hand and before the next await, so concurrent offers cannot pass the limit together
    if (full()) throw tooMany();
    starting++;
    try {
      await answerOffer(res, body, auth.roomId, key);
    } finally {
      starting--;
    }
  }

  async function answerOffer(res: http.ServerResponse, body: string, roomId: string, key: string): Promise<void> {
    const pc = new RTCPeerConnection({
      codecs: CODECS,
      iceAdditionalHostAddresses: settings.iceHostAddresses,
      ...(settings.icePortRange ? { icePortRange: settings.icePortRange } : {}),
    });
    const s: Session = { id: randomBytes(12).toString('base64url'), roomId, pc, udp: dgram.createSocket('udp4'), timers: [] };
    s.udp.on('error', (err) => log.warn({ err, session: s.id }, 'WHIP forward socket error'));
    sessions.set(s.id, s);
    try {
      const wanted = new Map<Kind, { pt: number; port: number }>();
      const kinds = new Set<Kind>();
      const onTrack = (track: MediaStreamTrack, transceiver: RTCRtpTransceiver) => {
        const kind = track.kind as Kind;
        if (kind !== 'audio' && kind !== 'video') return;
        kinds.add(kind);
        track.onReceiveRtp.subscribe((rtp) => {
          if (!wanted.has(kind)) {
            void freeUdpPort().then((port) => {
              if (wanted.has(kind) || s.closing) return;
              wanted.set(kind, { pt: rtp.header.payloadType, port });
              // every announced track has sent something: ffmpeg gets the whole description at once
              if (!s.bridge && [...kinds].every((k) => wanted.has(k))) startBridge(s, wanted, key);
            });
            return;
          }
          if (s.bridge) s.udp.send(rtp.serialize(), wanted.get(kind)!.port, '127.0.0.1');
        });
        // ffmpeg can only start decoding on a keyframe: ask for one now and then
        if (kind === 'video') {
          s.requestKeyframe = () => {
            if (track.ssrc) transceiver.receiver.sendRtcpPLI(track.ssrc).catch(() => {});
          };
          s.timers.push(setInterval(s.requestKeyframe, settings.pliEveryMs));
        }
      };
      pc.onTrack.subscribe((track) => {
        const transceiver = pc.getTransceivers().find((t) => t.receiver.track === track) ?? pc.getTransceivers().find((t) => t.kind === track.kind);
        if (transceiver) onTrack(track, transceiver);
      });
      pc.connectionStateChange.subscribe((state) => {
        if (state === 'failed' || state === 'closed') void closeSession(s, `peer ${state}`);
        // a moment of 'disconnected' may recover; one that lasts ends the session
        if (state === 'disconnected') s.timers.push(setTimeout(() => pc.connectionState === 'disconnected' && void closeSession(s, 'peer disconnected'), settings.startTimeoutMs));
      });
      // no media, or no bridge, within the start timeout: nobody is coming
      s.timers.push(setTimeout(() => !s.bridge && void closeSession(s, 'no media'), settings.startTimeoutMs));

      await pc.setRemoteDescription({ type: 'offer', sdp: body });
      await pc.setLocalDescription(await pc.createAnswer());
      await waitForCandidates(pc);
      const answer = pc.localDescription?.sdp;
      if (!answer) throw new Error('no local description');
      if (s.closing) throw new HttpError(503, 'session_closed', 'the session closed before it was answered');
      res.writeHead(201, { ...WEBRTC_CORS, 'Content-Type': 'application/sdp', Location: `/whip/${s.id}`, ETag: `"${s.id}"` });
      res.end(answer);
      log.info({ session: s.id, roomId: s.roomId }, 'WHIP session answered');
    } catch (err) {
      void closeSession(s, 'offer failed');
      if (err instanceof HttpError) throw err;
      // werift's own complaint about the offer: the client's fault, never ours
      throw new HttpError(400, 'invalid_sdp', `the SDP offer could not be answered: ${(err as Error).message}`.slice(0, 300));
    }
  }

  return {
    handle(req, res) {
      const path = (req.url ?? '').split('?')[0]!;
      const m = WHIP_PATH.exec(path);
      if (!m) return false;
      const id = m[1];
      if (req.method === 'OPTIONS') {
        res.writeHead(204, { ...WEBRTC_CORS, 'Accept-Post': 'application/sdp' });
        res.end();
      } else if (req.method === 'POST' && !id) {
        const release = opts.offers.enter(req);
        (release ? offer(req, res) : Promise.reject(tooManyOffers()))
          .catch((err) => {
            if (err instanceof HttpError) replyError(res, err.status, err.code, err.message);
            else {
              log.error({ err }, 'WHIP offer failed');
              replyError(res, 500, 'internal', 'the offer could not be handled');
            }
          })
          .finally(() => release?.());
      } else if (req.method === 'DELETE' && id) {
        const s = sessions.get(id);
        if (!s) replyError(res, 404, 'session_not_found', 'no such WHIP session');
        else
          void closeSession(s, 'client ended it').then(() => {
            res.writeHead(200, WEBRTC_CORS);
            res.end();
          });
      } else if (req.method === 'PATCH' && id) {
        // trickle ICE and ICE restarts are not supported: the offer must carry its candidates
        replyError(res, 405, 'method_not_allowed', 'send every ICE candidate in the offer (no trickle)');
      } else {
        replyError(res, 405, 'method_not_allowed', 'POST an SDP offer to /whip; DELETE its Location to stop');
      }
      return true;
    },
    claim(pushName) {
      if (!pushName.startsWith(PUSH_PREFIX)) return undefined;
      const claim = pushNames.get(pushName);
      pushNames.delete(pushName);
      return claim;
    },
    kick(roomId, reason) {
      for (const p of authorized) if (p.roomId === roomId) p.kicked = reason;
      for (const s of [...sessions.values()]) if (s.roomId === roomId) void closeSession(s, `kicked (${reason})`);
    },
    sessions: () => sessions.size,
    async close() {
      closed = true;
      await Promise.all([...sessions.values()].map((s) => closeSession(s, 'media stopping')));
      pushNames.clear();
    },
  };
}
