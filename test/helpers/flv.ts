// A streaming FLV tag reader that copies nothing: it counts bytes and reports
// each tag's type, timestamp and first two body bytes (enough to tell sequence
// headers and keyframes apart). Used by the media and playback tests (through
// readFlv for HTTP-FLV, readWsFlv for WS-FLV) and by the fan-out benchmark, whose readers must stay
// light at thousands of sockets.
import WebSocket from 'ws';

export const FLV_AUDIO = 8;
export const FLV_VIDEO = 9;
export const FLV_SCRIPT = 18;

export interface FlvTag {
  type: number;
  timestamp: number;
  /** First body byte: for video, frame type (high nibble) and codec id. */
  b0: number;
  /** Second body byte: for AVC/AAC, the packet type (0 = sequence header). */
  b1: number;
  size: number;
}

/** Is this video tag a coded keyframe (not a sequence header)? */
export function isKeyframe(t: FlvTag): boolean {
  if (t.type !== FLV_VIDEO) return false;
  if (t.b0 & 0x80) return ((t.b0 >> 4) & 7) === 1 && (t.b0 & 0x0f) !== 0;
  return t.b0 >> 4 === 1 && t.b1 !== 0;
}

/** Is this a video or audio sequence header? */
export function isSequenceHeader(t: FlvTag): boolean {
  if (t.type === FLV_VIDEO) return t.b0 & 0x80 ? (t.b0 & 0x0f) === 0 : t.b1 === 0;
  if (t.type === FLV_AUDIO) return t.b0 >> 4 === 10 && t.b1 === 0;
  return false;
}

/** An FLV tag of `size` body bytes (zeros after the first two): a scripted broadcast's input. */
export function flvTag(type: number, timestamp: number, b0: number, b1: number, size = 20): Buffer {
  const buf = Buffer.alloc(11 + size + 4);
  buf[0] = type;
  buf.writeUIntBE(size, 1, 3);
  buf.writeUIntBE(timestamp & 0xffffff, 4, 3);
  buf[7] = timestamp >>> 24;
  buf[11] = b0;
  buf[12] = b1;
  buf.writeUInt32BE(11 + size, 11 + size);
  return buf;
}

export class FlvTagReader {
  bytes = 0;
  tags = 0;
  /** Set once the 13-byte file header has been seen; false if it was not "FLV". */
  headerOk: boolean | null = null;
  error: string | null = null;
  private readonly onTag: ((tag: FlvTag) => void) | null;
  // state: reading the file header, a tag header (11 + 2 body bytes), or skipping a body
  private headerLeft = 13;
  private readonly scratch = Buffer.alloc(13);
  private scratchLen = 0;
  private skip = 0;
  private readonly tag: FlvTag = { type: 0, timestamp: 0, b0: 0, b1: 0, size: 0 };

  constructor(onTag: ((tag: FlvTag) => void) | null = null) {
    this.onTag = onTag;
  }

  push(chunk: Uint8Array): void {
    this.bytes += chunk.length;
    let i = 0;
    const n = chunk.length;
    while (i < n && this.error === null) {
      if (this.headerLeft > 0) {
        const take = Math.min(this.headerLeft, n - i);
        if (this.headerOk === null && this.headerLeft === 13) {
          this.headerOk = chunk[i] === 0x46 && (n - i < 3 || (chunk[i + 1] === 0x4c && chunk[i + 2] === 0x56));
          if (!this.headerOk) this.error = 'not an FLV stream';
        }
        this.headerLeft -= take;
        i += take;
        continue;
      }
      if (this.skip > 0) {
        const take = Math.min(this.skip, n - i);
        this.skip -= take;
        i += take;
        continue;
      }
      // collect 13 bytes: 11-byte tag header + 2 body bytes
      const take = Math.min(13 - this.scratchLen, n - i);
      for (let k = 0; k < take; k++) this.scratch[this.scratchLen + k] = chunk[i + k]!;
      this.scratchLen += take;
      i += take;
      if (this.scratchLen < 13) continue;
      this.scratchLen = 0;
      const s = this.scratch;
      const t = this.tag;
      t.type = s[0]! & 0x1f;
      t.size = (s[1]! << 16) | (s[2]! << 8) | s[3]!;
      t.timestamp = ((s[7]! << 24) | (s[4]! << 16) | (s[5]! << 8) | s[6]!) >>> 0;
      t.b0 = s[11]!;
      t.b1 = s[12]!;
      if (t.size < 2) {
        this.error = `FLV tag of ${t.size} bytes`;
        return;
      }
      this.skip = t.size - 2 + 4;
      this.tags++;
      this.onTag?.(t);
    }
  }
}

/** The first video tag that is a frame (not the AVC sequence header). */
export function firstCodedVideo(tags: FlvTag[]): FlvTag | undefined {
  return tags.find((t) => t.type === FLV_VIDEO && !isSequenceHeader(t));
}

export interface FlvViewer {
  /** Every tag so far, in order. */
  tags: FlvTag[];
  reader: FlvTagReader;
  /** The response status, 0 when the request failed. */
  status: Promise<number>;
  headers: Promise<Headers>;
  /** Stops reading (aborts the request). */
  close(): void;
  /** Resolves when the body ends or close() stopped it; rejects on any other failure. */
  done: Promise<void>;
}

/** An HTTP-FLV viewer that parses tags as they come. */
export function readFlv(url: string): FlvViewer {
  const ac = new AbortController();
  const tags: FlvTag[] = [];
  const reader = new FlvTagReader((t) => tags.push({ ...t }));
  let onHead!: (r: Response | null) => void;
  const head = new Promise<Response | null>((r) => (onHead = r));
  const done = (async () => {
    try {
      const res = await fetch(url, { signal: ac.signal });
      onHead(res);
      if (!res.body) return;
      const body = res.body.getReader();
      for (;;) {
        const { done, value } = await body.read();
        if (done) break;
        reader.push(value);
      }
    } catch (err) {
      onHead(null);
      if ((err as Error).name !== 'AbortError') throw err;
    }
  })();
  // a viewer nobody awaits must not fail the run as an unhandled rejection; awaiting `done` still sees the error
  done.catch(() => {});
  return {
    tags,
    reader,
    status: head.then((r) => r?.status ?? 0),
    headers: head.then((r) => r?.headers ?? new Headers()),
    close: () => ac.abort(),
    done,
  };
}

/** A WS-FLV viewer: the same stream in WebSocket messages; `status` is 101 once it is open. */
export function readWsFlv(url: string): FlvViewer {
  const tags: FlvTag[] = [];
  const reader = new FlvTagReader((t) => tags.push({ ...t }));
  const ws = new WebSocket(url);
  ws.on('message', (d: Buffer) => reader.push(d));
  let onHead!: (status: number) => void;
  const status = new Promise<number>((r) => (onHead = r));
  ws.once('upgrade', (res) => onHead(res.statusCode ?? 0));
  ws.once('unexpected-response', (_req, res) => {
    onHead(res.statusCode ?? 0);
    ws.terminate();
  });
  const done = new Promise<void>((resolve, reject) => {
    ws.once('close', () => resolve());
    ws.once('error', (err) => {
      onHead(0);
      reject(err);
    });
  });
  done.catch(() => {});
  return { tags, reader, status, headers: Promise.resolve(new Headers()), close: () => ws.terminate(), done };
}
