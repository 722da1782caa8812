// What a live room's broadcast feeds besides FLV playback: HLS (ffmpeg, -c copy),
// a preview snapshot every few seconds, and the recording. Each reads the
// broadcast through its own internal tap, so each starts on a keyframe with
// the headers it needs (and an ffmpeg restart gets a fresh, valid FLV start).
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { pidReporter, snapshot, startHls, type FfmpegFeed } from './ffmpeg.ts';
import { flvFileHeader } from './flv-tags.ts';
import { hlsDir, previewFile, recordingDir } from './paths.ts';
import { tapBroadcast, type NmsBroadcast } from './rtmp-ingest.ts';

export interface OutputSettings {
  ffmpegPath: string;
  dataDir: string;
  hls: { segmentSec: number; listSize: number; maxBacklogBytes: number };
  thumbnail: { everyMs: number; widthPx: number };
  logger: Logger;
  onFfmpeg(pid: number, running: boolean): void;
  onPreview(roomId: string): void;
}

const HLS_MAX_RESTARTS = 5;
/** An HLS ffmpeg that ran this long was healthy: its death starts the restart count over. */
const HLS_STABLE_MS = 60_000;
const RECORDING_MAX_BACKLOG = 64 * 1024 * 1024;
// video only: a snapshot feeds one keyframe and no audio
const FLV_VIDEO_HEADER = flvFileHeader({ audio: false, video: true });

// Directory work of one room runs in order: a publisher that reconnects at once
// must not have its new HLS directory removed by the old publish's clean-up.
const chains = new Map<string, Promise<unknown>>();
function serial<T>(roomId: string, fn: () => Promise<T>): Promise<T> {
  const prev = chains.get(roomId) ?? Promise.resolve();
  const next = prev.then(fn, fn);
  const tail = next.catch(() => {});
  chains.set(roomId, tail);
  void tail.then(() => {
    if (chains.get(roomId) === tail) chains.delete(roomId);
  });
  return next;
}

export class RoomOutputs {
  readonly roomId: string;
  private readonly broadcast: NmsBroadcast;
  private readonly s: OutputSettings;
  private readonly log: Logger;
  private stopped = false;
  private hls: FfmpegFeed | undefined;
  private hlsUntap: (() => void) | undefined;
  private hlsFailures = 0;
  private hlsRetry: NodeJS.Timeout | undefined;
  private thumbTimer: NodeJS.Timeout | undefined;
  private thumbBusy = false;
  private recording: { out: WriteStream; untap: () => void; done: Promise<void> } | undefined;

  constructor(roomId: string, broadcast: NmsBroadcast, settings: OutputSettings) {
    this.roomId = roomId;
    this.broadcast = broadcast;
    this.s = settings;
    this.log = settings.logger.child({ roomId });
  }

  start(): void {
    const dir = hlsDir(this.s.dataDir, this.roomId);
    serial(this.roomId, async () => {
      if (this.stopped) return;
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      this.spawnHls(dir);
    }).catch((err) => this.log.error({ err }, 'HLS could not start'));
    // first preview soon after the first keyframe, then every THUMBNAIL_EVERY_SEC
    const first = Math.min(2000, this.s.thumbnail.everyMs);
    this.thumbTimer = setTimeout(() => {
      void this.takeSnapshot();
      this.thumbTimer = setInterval(() => void this.takeSnapshot(), this.s.thumbnail.everyMs);
    }, first);
  }

  private spawnHls(dir: string): void {
    if (this.stopped) return;
    const feed = startHls({
      bin: this.s.ffmpegPath,
      dir,
      segmentSec: this.s.hls.segmentSec,
      listSize: this.s.hls.listSize,
      onPid: pidReporter(this.s.onFfmpeg),
    });
    this.hls = feed;
    const startedAt = Date.now();
    let dead = false;
    this.hlsUntap = tapBroadcast(this.broadcast, (buf) => {
      if (dead) return;
      if (feed.backlog() > this.s.hls.maxBacklogBytes) {
        dead = true;
        this.log.warn('HLS ffmpeg fell behind its input; restarting it');
        void feed.stop(0);
        return;
      }
      feed.input.write(buf);
    });
    void feed.exited.then((err) => {
      dead = true;
      this.hlsUntap?.();
      this.hlsUntap = undefined;
      if (this.stopped) return;
      // a few deaths over a long broadcast are not a crash loop: only quick ones add up to giving up
      if (Date.now() - startedAt > HLS_STABLE_MS) this.hlsFailures = 0;
      this.hlsFailures++;
      this.log.warn({ err: err?.message, failures: this.hlsFailures }, 'HLS ffmpeg exited while live');
      if (this.hlsFailures > HLS_MAX_RESTARTS) return void this.log.error('HLS given up for this broadcast');
      this.hlsRetry = setTimeout(() => this.spawnHls(dir), 500 * this.hlsFailures);
    });
  }

  /** The latest keyframe, decoded to DATA_DIR/previews/<roomId>.jpg. */
  private async takeSnapshot(): Promise<void> {
    if (this.stopped || this.thumbBusy) return;
    const b = this.broadcast;
    const keyframe = b.flvGopCache?.values().next().value;
    // a coded AVC/HEVC keyframe: tag type 9, frame type 1 in the first body byte
    if (!b.flvVideoHeader || !keyframe || (keyframe[0]! & 0x1f) !== 9 || keyframe[11]! >> 4 !== 1) return;
    this.thumbBusy = true;
    const out = previewFile(this.s.dataDir, this.roomId);
    try {
      await mkdir(path.dirname(out), { recursive: true });
      await snapshot({
        bin: this.s.ffmpegPath,
        flv: Buffer.concat([FLV_VIDEO_HEADER, b.flvVideoHeader, keyframe]),
        out,
        maxWidth: this.s.thumbnail.widthPx,
        onPid: pidReporter(this.s.onFfmpeg),
      });
      if (!this.stopped) this.s.onPreview(this.roomId);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'snapshot failed');
    } finally {
      this.thumbBusy = false;
    }
  }

  /** Writes the broadcast as FLV (the tags as received, what `ffmpeg -c copy -f flv` would write) to a new part of the session's recording. */
  async record(sessionId: string): Promise<void> {
    if (this.stopped || this.recording) return;
    const dir = recordingDir(this.s.dataDir, sessionId);
    await mkdir(dir, { recursive: true });
    if (this.stopped) return;
    // parts sort by name in time order; a broadcast resumed after a media restart adds a part
    const file = path.join(dir, `part-${String(Date.now()).padStart(15, '0')}.flv`);
    const out = createWriteStream(file);
    let failed = false;
    const done = new Promise<void>((resolve) => {
      out.once('close', () => resolve());
      out.once('error', (err) => {
        failed = true;
        this.log.error({ err }, 'recording write failed');
        resolve();
      });
    });
    const untap = tapBroadcast(this.broadcast, (buf) => {
      if (failed) return;
      if (out.writableLength > RECORDING_MAX_BACKLOG) {
        failed = true;
        this.log.error('recording disk writes fell too far behind; the rest of this part is lost');
        out.end();
        return;
      }
      out.write(buf);
    });
    this.recording = { out, untap, done };
    this.log.info({ sessionId }, 'recording');
  }

  /** Stops every output; the HLS directory is removed. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.thumbTimer);
    clearInterval(this.thumbTimer);
    clearTimeout(this.hlsRetry);
    if (this.recording) {
      this.recording.untap();
      this.recording.out.end();
    }
    this.hlsUntap?.();
    // queued now, before any wait: the outputs of a publisher of this room that starts while this ffmpeg is
    // still finishing get their directory after this removal, never before it
    const hls = this.hls;
    const removed = serial(this.roomId, async () => {
      await hls?.stop(1000);
      await rm(hlsDir(this.s.dataDir, this.roomId), { recursive: true, force: true });
    }).catch((err) => this.log.warn({ err }, 'HLS directory not removed'));
    await this.recording?.done;
    await removed;
  }
}
