// The load side of loadtest/flv-fanout.ts, run as a child process with an IPC
// channel: it publishes the pre-encoded clip over RTMP at real-time pace
// (remembering when each tag left), then opens N light readers (HTTP-FLV or
// RTMP play) that parse tag headers only, and reports per-run figures.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { FlvTagReader, type FlvTag } from '../test/helpers/flv.ts';
import { RtmpClient, type RtmpMedia } from './lib/rtmp.ts';

export interface ReaderJob {
  protocol: 'http-flv' | 'ws-flv' | 'rtmp';
  host: string;
  readPort: number;
  publishPort: number;
  stream: string;
  viewers: number;
  seconds: number;
  clip: string;
  rampPerSec: number;
}

export interface ReaderResult {
  viewers: number;
  connected: number;
  complete: number; // readers with >= 99% of the expected payload bytes
  ttffMs: number[]; // time to first video keyframe per reader that got one
  latencyP50: number;
  latencyP99: number;
  latencySamples: number;
  unmatched: number;
  errors: Record<string, number>;
  publishedKbps: number;
}

interface Tag {
  type: number;
  ts: number;
  body: Buffer;
}

const now = () => performance.timeOrigin + performance.now();

function readClip(file: string): Tag[] {
  const buf = readFileSync(file);
  const tags: Tag[] = [];
  let p = 13;
  while (p + 11 <= buf.length) {
    const type = buf[p]! & 0x1f;
    const size = buf.readUIntBE(p + 1, 3);
    const ts = ((buf[p + 7]! << 24) | buf.readUIntBE(p + 4, 3)) >>> 0;
    if (p + 11 + size > buf.length) break;
    tags.push({ type, ts, body: buf.subarray(p + 11, p + 11 + size) });
    p += 11 + size + 4;
  }
  return tags;
}

const isKey = (type: number, b0: number, b1: number) => type === 9 && b0 >> 4 === 1 && b1 !== 0;

async function run(job: ReaderJob, send: (m: unknown) => void): Promise<ReaderResult> {
  // ---- publisher: the clip, looped, at real-time pace --------------------------------
  const clip = readClip(job.clip);
  const clipEnd = clip[clip.length - 1]!.ts + 40;
  const headers = clip.filter((t) => t.type === 18 || ((t.type === 8 || t.type === 9) && t.body[1] === 0 && t.ts === 0));
  const media = clip.filter((t) => !headers.includes(t));
  const sentVideo = new Map<number, number>(); // video ts -> send time
  const sentAudio = new Map<number, number>(); // audio ts -> send time
  const sentTs: number[] = [];
  const sentSize: number[] = [];
  let sentBytes = 0;
  let t0 = 0;
  let idx = 0;
  let loop = 0;
  let pacer: NodeJS.Timeout | null = null;
  const publisher = new RtmpClient({
    host: job.host,
    port: job.publishPort,
    app: 'live',
    stream: job.stream,
    mode: 'publish',
    onReady: () => {
      const setDataFrame = Buffer.from([0x02, 0x00, 0x0d, ...Buffer.from('@setDataFrame')]);
      for (const h of headers) publisher.sendTag(h.type, 0, h.type === 18 ? Buffer.concat([setDataFrame, h.body]) : h.body);
      t0 = now();
      const tick = () => {
        const elapsed = now() - t0;
        for (;;) {
          const tag = media[idx]!;
          const ts = tag.ts + loop * clipEnd;
          if (ts > elapsed) break;
          publisher.sendTag(tag.type, ts, tag.body);
          const at = now();
          if (tag.type === 9) sentVideo.set(ts, at);
          else if (tag.type === 8) sentAudio.set(ts, at);
          sentTs.push(ts);
          sentSize.push(tag.body.length);
          sentBytes += tag.body.length;
          if (++idx === media.length) {
            idx = 0;
            loop++;
          }
        }
        pacer = setTimeout(tick, 2);
      };
      tick();
    },
    onClose: (err) => {
      if (pacer) send({ event: 'publisher-closed', error: err?.message });
    },
  });
  await until(() => t0 > 0, 15_000, 'the publish to start');
  await sleep(1500); // a GOP is cached, the stream is up everywhere
  send({ event: 'publishing' });
  await sleep(3000); // the server's CPU with the publish alone, to tell the per-viewer cost apart
  send({ event: 'connecting' });

  // ---- readers -------------------------------------------------------------------------
  const histogram = new Uint32Array(10_001); // 1 ms bins, last bin = 10 s and more
  let latencySamples = 0;
  let unmatched = 0;
  const errors: Record<string, number> = {};
  interface R {
    start: number;
    firstKeyAt: number;
    firstKeyTs: number;
    bytes: number; // A/V payload bytes with ts in [firstKeyTs, lastTs]
    closed: boolean;
    close: () => void;
  }
  const readers: R[] = [];
  let lastTs = Infinity; // fixed below, before the end of the run
  let latencyFrom = Infinity; // the start of the steady window
  const onMedia = (r: R, type: number, ts: number, size: number, b0: number, b1: number) => {
    if (type !== 8 && type !== 9) return;
    const at = now();
    if (r.firstKeyAt === 0) {
      if (!isKey(type, b0, b1)) return;
      r.firstKeyAt = at;
      r.firstKeyTs = ts;
    }
    if (ts >= r.firstKeyTs && ts <= lastTs) r.bytes += size;
    const sentAt = (type === 9 ? sentVideo : sentAudio).get(ts);
    if (sentAt === undefined) unmatched++;
    else if (sentAt >= latencyFrom) {
      // only tags published in the steady window: the join storm and the GOP burst are start-up (TTFF), not latency
      const ms = Math.min(10_000, Math.max(0, Math.round(at - sentAt)));
      histogram[ms]!++;
      latencySamples++;
    }
  };
  const fail = (r: R, why: string) => {
    if (r.closed) return;
    r.closed = true;
    errors[why] = (errors[why] ?? 0) + 1;
  };

  const openHttp = (r: R) => {
    const s = net.connect(job.readPort, job.host);
    s.setNoDelay(true);
    let head = '';
    let inBody = false;
    const tagReader = new FlvTagReader((t: FlvTag) => onMedia(r, t.type, t.timestamp, t.size, t.b0, t.b1));
    let feed = (b: Buffer) => tagReader.push(b);
    const ws = job.protocol === 'ws-flv';
    const upgrade = ws ? `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` : 'Connection: close\r\n';
    s.on('connect', () => s.write(`GET /live/${job.stream}.flv HTTP/1.1\r\nHost: ${job.host}:${job.readPort}\r\n${upgrade}\r\n`));
    s.on('data', (d: Buffer) => {
      if (inBody) return feed(d);
      head += d.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      if (!(ws ? /^HTTP\/1\.1 101/ : /^HTTP\/1\.[01] 200/).test(head)) {
        fail(r, head.split('\r\n')[0]!);
        s.destroy();
        return;
      }
      inBody = true;
      // a chunked response (bare node-media-server via Express) carries chunk-size lines in the body
      if (ws) {
        const deframer = new WsDeframer((b) => tagReader.push(b));
        feed = (b) => deframer.push(b);
      } else if (/transfer-encoding:\s*chunked/i.test(head.slice(0, end))) {
        const dechunker = new Dechunker((b) => tagReader.push(b));
        feed = (b) => dechunker.push(b);
      }
      const rest = Buffer.from(head.slice(end + 4), 'latin1');
      if (rest.length) feed(rest);
    });
    s.on('error', (e) => fail(r, e.message));
    s.on('close', () => fail(r, 'closed by the server'));
    r.close = () => {
      r.closed = true;
      s.destroy();
    };
  };
  const openRtmp = (r: R) => {
    const c = new RtmpClient({
      host: job.host,
      port: job.readPort,
      app: 'live',
      stream: job.stream,
      mode: 'play',
      onMedia: (m: RtmpMedia) => onMedia(r, m.type, m.timestamp, m.size, m.b0, m.b1),
      onClose: (err) => fail(r, err ? err.message : 'closed by the server'),
    });
    r.close = () => {
      r.closed = true;
      c.close();
    };
  };

  // open in batches so connecting does not starve the publisher's pacing
  for (let i = 0; i < job.viewers; i++) {
    const r: R = { start: now(), firstKeyAt: 0, firstKeyTs: 0, bytes: 0, closed: false, close: () => {} };
    readers.push(r);
    if (job.protocol !== 'rtmp') openHttp(r);
    else openRtmp(r);
    // joins arrive at job.rampPerSec (a join storm, not all in one instant)
    if (i % 20 === 19) await sleep(20_000 / job.rampPerSec);
  }
  await until(() => readers.every((r) => r.firstKeyAt > 0 || r.closed), 15_000, 'every reader to get video').catch(() => {});
  send({ event: 'steady' });
  const steadyAt = now();
  latencyFrom = steadyAt;
  // count bytes of everything published up to 1 s before the end (1 s to arrive)
  lastTs = Math.floor(steadyAt + job.seconds * 1000 - 1000 - t0);
  await sleep(job.seconds * 1000);
  send({ event: 'end' });

  // ---- figures -------------------------------------------------------------------------
  const expected = (fromTs: number) => {
    let sum = 0;
    for (let i = 0; i < sentTs.length; i++) if (sentTs[i]! >= fromTs && sentTs[i]! <= lastTs) sum += sentSize[i]!;
    return sum;
  };
  let complete = 0;
  for (const r of readers) if (r.firstKeyAt > 0 && r.bytes >= 0.99 * expected(r.firstKeyTs)) complete++;
  const pct = (p: number) => {
    let target = Math.ceil(latencySamples * p);
    for (let i = 0; i < histogram.length; i++) {
      target -= histogram[i]!;
      if (target <= 0) return i;
    }
    return NaN;
  };
  const result: ReaderResult = {
    viewers: job.viewers,
    connected: readers.filter((r) => r.firstKeyAt > 0).length,
    complete,
    ttffMs: readers.filter((r) => r.firstKeyAt > 0).map((r) => r.firstKeyAt - r.start),
    latencyP50: pct(0.5),
    latencyP99: pct(0.99),
    latencySamples,
    unmatched,
    errors,
    publishedKbps: Math.round((sentBytes * 8) / (now() - t0)),
  };
  for (const r of readers) r.close();
  if (pacer) clearTimeout(pacer);
  pacer = null;
  publisher.close();
  return result;
}

/** The payload bytes of a server's (unmasked) WebSocket frames; control frames are skipped. */
class WsDeframer {
  private readonly out: (b: Buffer) => void;
  private readonly head = Buffer.alloc(14);
  private headLen = 0;
  private left = 0;
  private data = false; // the current frame carries media (binary/continuation)
  constructor(out: (b: Buffer) => void) {
    this.out = out;
  }
  push(d: Buffer): void {
    let i = 0;
    while (i < d.length) {
      if (this.left > 0) {
        const take = Math.min(this.left, d.length - i);
        if (this.data) this.out(d.subarray(i, i + take));
        this.left -= take;
        i += take;
        continue;
      }
      this.head[this.headLen++] = d[i++]!;
      if (this.headLen < 2) continue;
      const len7 = this.head[1]! & 0x7f;
      const need = len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
      if (this.headLen < need) continue;
      this.left = len7 < 126 ? len7 : len7 === 126 ? this.head.readUInt16BE(2) : this.head.readUInt32BE(6) + this.head.readUInt32BE(2) * 2 ** 32;
      const opcode = this.head[0]! & 0x0f;
      this.data = opcode === 2 || opcode === 0;
      this.headLen = 0;
    }
  }
}

/** Removes HTTP/1.1 chunked framing from a byte stream. */
class Dechunker {
  out: (b: Buffer) => void;
  private left = 0; // payload bytes left in the current chunk
  private line = ''; // size line being read
  private skipCrlf = 0;
  constructor(out: (b: Buffer) => void) {
    this.out = out;
  }
  push(d: Buffer): void {
    let i = 0;
    while (i < d.length) {
      if (this.left > 0) {
        const take = Math.min(this.left, d.length - i);
        this.out(d.subarray(i, i + take));
        this.left -= take;
        i += take;
        if (this.left === 0) this.skipCrlf = 2;
        continue;
      }
      if (this.skipCrlf > 0) {
        this.skipCrlf--;
        i++;
        continue;
      }
      const c = d[i++]!;
      if (c === 0x0a) {
        this.left = parseInt(this.line, 16) || 0;
        this.line = '';
      } else if (c !== 0x0d) this.line += String.fromCharCode(c);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

if (process.send) {
  const send = (m: unknown) => process.send!(m);
  process.once('message', (job: ReaderJob) => {
    run(job, send).then(
      (result) => {
        send({ event: 'result', result });
        process.disconnect();
        setTimeout(() => process.exit(0), 200).unref();
      },
      (err: Error) => {
        send({ event: 'error', error: err.message });
        process.disconnect();
        process.exit(1);
      },
    );
  });
}
