// One live room's FLV fan-out. Its tags come from a StreamSource (the room's
// node-media-server broadcast on an origin, an HTTP-FLV pull from the origin on
// an edge); it keeps what a viewer joining now needs (metadata, sequence
// headers, the GOP so far) and writes the tags to its viewers. Hot-path rules (the cost per viewer is what limits a media
// node, and that cost is mostly one socket write, so: fewer writes):
// - tags are batched: a coded video frame is sent at the end of the event-loop
//   turn it arrived in, together with the audio and data queued since the last
//   one; audio waits at most `maxBatchDelayMs` for a video frame. At 25 fps that
//   is 25 writes per viewer per second instead of ~70 (one per tag);
// - a batch is joined into ONE buffer that every viewer shares;
// - nothing is allocated per viewer per tag and nothing is logged per packet;
// - HTTP viewers get the bytes straight on their socket, without chunked framing.
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { WebSocket } from 'ws';
import { classifyTag, flvFileHeader, TAG_AUDIO_HEADER, TAG_FLV_FILE_HEADER, TAG_KEYFRAME, TAG_META, TAG_VIDEO, TAG_VIDEO_HEADER } from './flv-tags.ts';
import type { StreamSource } from './stream-source.ts';
import { wsBinaryFrame } from './ws-frame.ts';

const FLV_HEADER = flvFileHeader({ audio: true, video: true });

/** An HTTP-FLV viewer (ws null: raw FLV on the socket) or a WS-FLV one. */
export interface Viewer {
  socket: Socket;
  ws: WebSocket | null;
  /** Unsent bytes past which the viewer is dropped. */
  maxBuffered: number;
  /** Another media node's pull (an edge): served like a viewer, not counted as one. */
  edge?: boolean;
  /** This node's own WHEP feed (whep.ts): served like a viewer, counted neither as one nor as an edge. */
  feed?: boolean;
}

export interface FanoutLimits {
  /** A viewer whose unsent bytes exceed this is dropped (it cannot keep up). */
  maxViewerBufferBytes: number;
  /** The GOP cache is abandoned past this size; new viewers then wait for the next keyframe. */
  maxGopBytes: number;
  /** The longest audio/data tags wait for the next video frame before they are sent on their own. */
  maxBatchDelayMs: number;
}

export class StreamFanout {
  readonly roomId: string;
  readonly source: StreamSource;
  private readonly limits: FanoutLimits;
  private readonly log: Logger;
  /** Viewers receiving the shared batches. */
  private readonly live = new Set<Viewer>();
  /** Viewers that joined before any keyframe: they start at the next one. */
  private readonly waiting = new Set<Viewer>();
  private meta: Buffer | null = null;
  private audioHeader: Buffer | null = null;
  private videoHeader: Buffer | null = null;
  /** Tags since the last keyframe (starting with it), or null when there is none usable. */
  private gop: Buffer[] | null = null;
  private gopBytes = 0;
  /** How many GOP tags have been sent to the viewers already (the rest are queued). */
  private gopSent = 0;
  private pending: Buffer[] = [];
  private flushSoon = false; // a setImmediate flush is queued
  private flushTimer: NodeJS.Timeout | null = null; // the max-delay flush for audio
  private ended = false;
  private edges = 0;
  private feeds = 0;
  private readonly onSourceClosed: () => void;
  /** Runs when the last viewer (edges included) leaves. */
  onIdle: (() => void) | null = null;

  /** `onSourceClosed` runs when the source ends (the publisher left, the origin's stream stopped), before the viewers are ended. */
  constructor(roomId: string, source: StreamSource, limits: FanoutLimits, log: Logger, onSourceClosed: () => void) {
    this.roomId = roomId;
    this.source = source;
    this.limits = limits;
    this.log = log;
    this.onSourceClosed = onSourceClosed;
  }

  /** Starts the source: a broadcast hands over its cached tags at once, then every new one. */
  subscribe(): void {
    try {
      this.source.open({
        tag: (tag) => this.onTag(tag),
        closed: () => {
          if (this.ended) return;
          this.onSourceClosed();
          this.end(false);
        },
      });
    } catch (err) {
      this.ended = true;
      throw err;
    }
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Viewers, not counting other nodes' pulls. */
  get viewerCount(): number {
    return this.live.size + this.waiting.size - this.edges - this.feeds;
  }

  /** Other nodes pulling this stream (edges). */
  get edgeCount(): number {
    return this.edges;
  }

  /** Everything connected: viewers and edges. */
  get connectionCount(): number {
    return this.live.size + this.waiting.size;
  }

  /** Start a viewer: FLV header, metadata, sequence headers and the GOP so far. */
  addViewer(v: Viewer): void {
    const parts: Buffer[] = [FLV_HEADER];
    if (this.meta) parts.push(this.meta);
    if (this.audioHeader) parts.push(this.audioHeader);
    if (this.videoHeader) parts.push(this.videoHeader);
    if (this.gop !== null) {
      // the GOP tags sent so far; the queued rest reach the newcomer with the next batch
      for (let i = 0; i < this.gopSent; i++) parts.push(this.gop[i]!);
      this.live.add(v);
    } else {
      this.waiting.add(v);
    }
    let bytes = 0;
    for (const p of parts) bytes += p.length;
    if (v.edge) this.edges++;
    else if (v.feed) this.feeds++;
    // the start-up burst does not count against the viewer's backlog allowance
    v.maxBuffered = this.limits.maxViewerBufferBytes + bytes;
    if (v.ws === null) {
      // one writev of the shared buffers: nothing copied per viewer
      v.socket.cork();
      for (const p of parts) v.socket.write(p);
      v.socket.uncork();
    } else {
      this.send(v, Buffer.concat(parts, bytes));
    }
  }

  removeViewer(v: Viewer): void {
    if (!this.live.delete(v) && !this.waiting.delete(v)) return;
    if (v.edge) this.edges--;
    else if (v.feed) this.feeds--;
    if (this.connectionCount === 0 && !this.ended) this.onIdle?.();
  }

  /** Leaves the broadcast and ends every viewer: gracefully, or at once (`terminate`, at shutdown). */
  end(terminate: boolean): void {
    this.ended = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    this.pending = [];
    this.gop = null;
    try {
      this.source.close();
    } catch (err) {
      this.log.warn({ err, roomId: this.roomId }, 'closing the stream source failed');
    }
    for (const set of [this.live, this.waiting]) {
      for (const v of set) {
        if (v.ws) {
          if (terminate) v.ws.terminate();
          else v.ws.close(1000, 'stream ended');
        } else if (terminate) v.socket.destroy();
        else v.socket.end();
      }
      set.clear();
    }
    this.edges = 0;
    this.feeds = 0;
  }

  private onTag(tag: Buffer): void {
    if (this.ended) return;
    const kind = classifyTag(tag);
    switch (kind) {
      case TAG_FLV_FILE_HEADER:
        return; // each viewer gets its own file header
      case TAG_META:
        this.meta = tag;
        break;
      case TAG_AUDIO_HEADER:
        this.audioHeader = tag;
        break;
      case TAG_VIDEO_HEADER:
        this.videoHeader = tag;
        // a new sequence header invalidates cached frames of the old one
        this.gop = null;
        this.gopBytes = 0;
        this.gopSent = 0;
        break;
      case TAG_KEYFRAME:
        // everything queued so far belongs to the old GOP: send it, then let the
        // viewers that wait for a keyframe in, so their first frame is this one
        this.flush();
        for (const v of this.waiting) this.live.add(v);
        this.waiting.clear();
        this.gop = [];
        this.gopBytes = 0;
        this.gopSent = 0;
        break;
    }
    // viewers waiting for a keyframe get nothing else, but must not miss what a decoder needs first
    // (it comes after they joined when the publisher was slow to start, e.g. a WHIP bridge)
    if (kind === TAG_META || kind === TAG_AUDIO_HEADER || kind === TAG_VIDEO_HEADER) for (const v of this.waiting) this.send(v, tag);
    if (this.gop !== null && kind !== TAG_META && kind !== TAG_AUDIO_HEADER && kind !== TAG_VIDEO_HEADER) {
      this.gop.push(tag);
      this.gopBytes += tag.length;
      if (this.gopBytes > this.limits.maxGopBytes) {
        this.gop = null; // too long a GOP to replay; late joiners wait for the next keyframe
        this.gopBytes = 0;
        this.gopSent = 0;
      }
    }
    this.pending.push(tag);
    if (this.flushSoon) return;
    if (kind === TAG_KEYFRAME || kind === TAG_VIDEO || this.limits.maxBatchDelayMs === 0) {
      // a frame to show: send with whatever else arrives in this turn
      this.flushSoon = true;
      setImmediate(this.flushQueued);
    } else if (this.flushTimer === null) {
      this.flushTimer = setTimeout(this.flushQueued, this.limits.maxBatchDelayMs);
    }
  }

  // one function per stream for setImmediate/setTimeout: nothing allocated per batch
  private readonly flushQueued = (): void => {
    if (!this.ended) this.flush();
  };

  private flush(): void {
    this.flushSoon = false;
    if (this.flushTimer !== null) {
      clearTimeout(this.flushTimer);
      this.flushTimer = null;
    }
    const pending = this.pending;
    if (pending.length === 0) return;
    this.pending = [];
    this.gopSent = this.gop?.length ?? 0;
    if (this.live.size === 0) return;
    // one buffer per batch, shared by every viewer
    const batch = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
    this.source.countOut(batch.length);
    let frame: Buffer | null = null; // the batch as one WebSocket frame, built for the first WS viewer
    for (const v of this.live) {
      if (v.ws === null) this.send(v, batch);
      else {
        if (v.ws.readyState !== WebSocket.OPEN) continue;
        if (v.socket.writableLength > v.maxBuffered) {
          this.dropSlow(v);
          continue;
        }
        // a complete unmasked frame written straight to the socket: ws writes
        // only whole frames too (no compression), so the two never interleave
        frame ??= wsBinaryFrame(batch);
        v.socket.write(frame);
      }
    }
  }

  private send(v: Viewer, data: Buffer): void {
    if (v.ws === null) {
      if (v.socket.writableLength > v.maxBuffered) return this.dropSlow(v);
      v.socket.write(data);
    } else {
      if (v.ws.readyState !== WebSocket.OPEN) return;
      if (v.ws.bufferedAmount > v.maxBuffered) return this.dropSlow(v);
      v.ws.send(data, { binary: true, compress: false });
    }
  }

  private dropSlow(v: Viewer): void {
    this.log.debug({ roomId: this.roomId }, 'dropping a viewer that cannot keep up');
    this.removeViewer(v);
    if (v.ws) v.ws.terminate();
    else v.socket.destroy();
  }
}
