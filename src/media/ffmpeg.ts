// Every use of ffmpeg goes through this module (fluent-ffmpeg is deprecated
// upstream: keep it replaceable). Inputs are FLV bytes on stdin, never a URL:
// the key never appears on a command line, and an ffmpeg whose parent dies
// sees its input end and exits (no orphans).
// Shared: the media child runs its ffmpegs, src/media-control/ its remux job (API process).
import { existsSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import Ffmpeg from 'fluent-ffmpeg';

const require = createRequire(import.meta.url);

/** The system's ffmpeg when there is one (Debian's has x264/AAC and current fixes), else the one shipped in @ffmpeg-installer/ffmpeg. */
export function ffmpegPath(configured?: string): string {
  if (configured) return configured;
  if (existsSync('/usr/bin/ffmpeg')) return '/usr/bin/ffmpeg';
  return (require('@ffmpeg-installer/ffmpeg') as { path: string }).path;
}

function command(bin: string): Ffmpeg.FfmpegCommand {
  // fluent-ffmpeg runs `ffmpeg -encoders` once per process before the first job; the path is set per command
  return Ffmpeg().setFfmpegPath(bin);
}

/** A running ffmpeg. */
export interface FfmpegRun {
  pid(): number | undefined;
  /** Resolves when ffmpeg has exited: null after a clean end, else the error. */
  exited: Promise<Error | null>;
  /** Ends the input (if any) so ffmpeg can finish its files, and kills it after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** A running ffmpeg that reads FLV from `input`. */
export interface FfmpegFeed extends FfmpegRun {
  /** Write FLV bytes here. */
  input: PassThrough;
  /** Bytes written but not yet taken by ffmpeg. */
  backlog(): number;
}

function run(cmd: Ffmpeg.FfmpegCommand, input: PassThrough | undefined, onPid?: (pid: number | undefined) => void): FfmpegRun {
  let proc: { pid?: number; kill(signal?: NodeJS.Signals): boolean } | undefined;
  let stopping = false;
  const exited = new Promise<Error | null>((resolve) => {
    cmd.on('start', () => {
      proc = (cmd as unknown as { ffmpegProc?: typeof proc }).ffmpegProc;
      onPid?.(proc?.pid);
      if (stopping) proc?.kill('SIGKILL');
    });
    cmd.on('end', () => resolve(null));
    cmd.on('error', (err: Error) => resolve(err));
  });
  void exited.then(() => onPid?.(undefined));
  // ffmpeg gone: whatever is still written is dropped
  input?.on('error', () => {});
  cmd.run();
  return {
    pid: () => proc?.pid,
    exited,
    async stop(graceMs = 2000) {
      stopping = true;
      input?.end();
      const timer = setTimeout(() => proc?.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface HlsOptions {
  bin: string;
  /** Directory of the playlist (index.m3u8) and its segments; created by the caller. */
  dir: string;
  segmentSec: number;
  listSize: number;
  onPid?: (pid: number | undefined) => void;
}

/** HLS from FLV on stdin, without re-encoding: short segments cut on keyframes, a sliding playlist, old segments deleted. */
export function startHls(opts: HlsOptions): FfmpegFeed {
  const input = new PassThrough({ highWaterMark: 1024 * 1024 });
  const cmd = command(opts.bin)
    .input(input)
    .inputFormat('flv')
    .inputOptions('-nostdin', '-loglevel', 'error', '-analyzeduration', '3000000')
    .output(path.join(opts.dir, 'index.m3u8'))
    .outputOptions(
      '-map', '0:v?', '-map', '0:a?',
      '-c', 'copy',
      '-f', 'hls',
      '-hls_time', String(opts.segmentSec),
      '-hls_list_size', String(opts.listSize),
      // numbered from the epoch second: a restarted ffmpeg never reuses a segment name (segments are cacheable)
      '-hls_start_number_source', 'epoch',
      // temp_file: a segment appears under its name only once complete
      '-hls_flags', 'delete_segments+temp_file+omit_endlist',
      '-hls_segment_filename', path.join(opts.dir, 'seg-%d.ts'),
    );
  return { ...run(cmd, input, opts.onPid), input, backlog: () => input.writableLength + input.readableLength };
}

/** Turns run()'s pid reports (a pid, then undefined at exit) into started/exited calls with the pid. */
export function pidReporter(onFfmpeg?: (pid: number, running: boolean) => void): (pid: number | undefined) => void {
  let last: number | undefined;
  return (pid) => {
    if (pid !== undefined) {
      last = pid;
      onFfmpeg?.(pid, true);
    } else if (last !== undefined) onFfmpeg?.(last, false);
  };
}

export interface WhipBridgeOptions {
  bin: string;
  /** An SDP description of the RTP streams ffmpeg listens for (fed on stdin). */
  sdp: string;
  hasVideo: boolean;
  hasAudio: boolean;
  videoKbps: number;
  /** Where to publish the FLV (this media node's RTMP ingest). */
  rtmpUrl: string;
  onPid?: (pid: number | undefined) => void;
}

/** WebRTC in: RTP described by an SDP (VP8/Opus) to H.264/AAC FLV over RTMP, a keyframe every 2 s. */
export function startWhipBridge(opts: WhipBridgeOptions): FfmpegRun {
  const input = new PassThrough();
  input.end(opts.sdp);
  const kbps = opts.videoKbps;
  // prettier-ignore
  const cmd = command(opts.bin)
    .input(input)
    .inputFormat('sdp')
    // the SDP says what the streams are: a short probe (2 s, not 5) gets the picture size and goes live sooner
    .inputOptions('-nostdin', '-loglevel', 'error', '-protocol_whitelist', 'pipe,udp,rtp', '-analyzeduration', '2000000')
    .output(opts.rtmpUrl)
    .outputOptions(
      ...(opts.hasVideo
        ? ['-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-b:v', `${kbps}k`, '-maxrate', `${kbps}k`, '-bufsize', `${kbps * 2}k`, '-force_key_frames', 'expr:gte(t,n_forced*2)']
        : ['-vn']),
      ...(opts.hasAudio ? ['-c:a', 'aac', '-b:a', '128k', '-ar', '44100', '-ac', '2'] : ['-an']),
      '-f', 'flv',
    );
  return run(cmd, undefined, opts.onPid);
}

export interface WhepFeedOptions {
  bin: string;
  /** Loopback UDP ports the RTP goes to. */
  videoPort: number;
  audioPort: number;
  videoPayloadType: number;
  audioPayloadType: number;
  videoKbps: number;
  onPid?: (pid: number | undefined) => void;
}

/**
 * WebRTC out: a room's FLV on stdin to RTP, H.264 constrained baseline without
 * B-frames and a keyframe every second (what browsers' WebRTC decoders take,
 * and a newcomer starts fast) and Opus.
 */
export function startWhepFeed(opts: WhepFeedOptions): FfmpegFeed {
  const input = new PassThrough({ highWaterMark: 1024 * 1024 });
  const kbps = opts.videoKbps;
  const rtp = (port: number) => `rtp://127.0.0.1:${port}?pkt_size=1200`;
  // prettier-ignore
  const cmd = command(opts.bin)
    .input(input)
    .inputFormat('flv')
    .inputOptions('-nostdin', '-loglevel', 'error', '-fflags', 'nobuffer')
    .output(rtp(opts.videoPort))
    .outputOptions(
      '-map', '0:v:0?', '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p',
      '-b:v', `${kbps}k`, '-maxrate', `${kbps}k`, '-bufsize', `${kbps}k`, '-force_key_frames', 'expr:gte(t,n_forced*1)',
      '-f', 'rtp', '-payload_type', String(opts.videoPayloadType),
    )
    .output(rtp(opts.audioPort))
    .outputOptions('-map', '0:a:0?', '-c:a', 'libopus', '-ar', '48000', '-ac', '2', '-b:a', '96k', '-f', 'rtp', '-payload_type', String(opts.audioPayloadType));
  return { ...run(cmd, input, opts.onPid), input, backlog: () => input.writableLength + input.readableLength };
}

export interface SnapshotOptions {
  bin: string;
  /** A short FLV: header, video sequence header, one keyframe. */
  flv: Buffer;
  /** The JPEG to (re)place; written under a temporary name, then renamed. */
  out: string;
  maxWidth: number;
  timeoutMs?: number;
  onPid?: (pid: number | undefined) => void;
}

/** Decodes one keyframe into a JPEG no wider than `maxWidth`. */
export async function snapshot(opts: SnapshotOptions): Promise<void> {
  const tmp = `${opts.out}.${process.pid}.tmp.jpg`;
  const input = new PassThrough();
  const cmd = command(opts.bin)
    .input(input)
    .inputFormat('flv')
    .inputOptions('-nostdin', '-loglevel', 'error')
    .output(tmp)
    .outputOptions('-an', '-frames:v', '1', '-vf', `scale=w=min(${opts.maxWidth}\\,iw):h=-2`, '-q:v', '5', '-f', 'image2', '-y');
  const r = run(cmd, input, opts.onPid);
  Readable.from([opts.flv]).pipe(input);
  const timer = setTimeout(() => void r.stop(0), opts.timeoutMs ?? 10_000);
  const err = await r.exited;
  clearTimeout(timer);
  if (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await rename(tmp, opts.out);
}

export interface RemuxOptions {
  bin: string;
  /** FLV parts of one broadcast, in order. */
  inputs: string[];
  /** The MP4 to write (under a temporary name first). */
  out: string;
  onPid?: (pid: number | undefined) => void;
}

/** Copies the parts into one MP4 with the index up front (+faststart, so players start before the whole file is loaded). Returns its duration in seconds. */
export async function remux(opts: RemuxOptions): Promise<{ durationSec: number }> {
  if (opts.inputs.length === 0) throw new Error('nothing to remux');
  const tmp = `${opts.out}.tmp.mp4`;
  const list = `${opts.out}.parts.txt`;
  let cmd = command(opts.bin);
  if (opts.inputs.length === 1) cmd = cmd.input(opts.inputs[0]!).inputOptions('-nostdin');
  else {
    // the concat demuxer joins parts (a broadcast that resumed after a media restart) on one timeline
    await writeFile(list, opts.inputs.map((f) => `file '${f.replace(/'/g, "'\\''")}'\n`).join(''));
    cmd = cmd.input(list).inputOptions('-nostdin', '-f', 'concat', '-safe', '0');
  }
  cmd = cmd.output(tmp).outputOptions('-map', '0:v?', '-map', '0:a?', '-c', 'copy', '-movflags', '+faststart', '-f', 'mp4', '-y');
  let durationSec = 0;
  cmd.on('stderr', (line: string) => {
    // the progress lines end with the output's length so far: the last one is the duration
    const m = /time=(\d+):(\d\d):(\d\d(?:\.\d+)?)/.exec(line);
    if (m) durationSec = Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]);
  });
  try {
    const err = await run(cmd, undefined, opts.onPid).exited;
    if (err) throw err;
    await rename(tmp, opts.out);
  } finally {
    await rm(tmp, { force: true });
    await rm(list, { force: true });
  }
  return { durationSec };
}
