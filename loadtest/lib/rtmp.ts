// A minimal RTMP client for the FLV fan-out benchmark: simple handshake,
// connect/createStream, then play (a light reader: media payloads are counted,
// never copied) or publish (sends FLV tags given to it). Enough for
// nginx-rtmp and node-media-server; not a general RTMP library.
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const amf = require('node-media-server/src/protocol/amf.js') as {
  amf0Encode(values: unknown[]): Buffer;
  amf0Decode(buf: Buffer): unknown[];
};

export interface RtmpMedia {
  /** 8 audio, 9 video, 18 data */
  type: number;
  timestamp: number;
  size: number;
  b0: number;
  b1: number;
}

interface ChunkStream {
  timestamp: number;
  delta: number;
  length: number;
  type: number;
  streamId: number;
  got: number;
  b0: number;
  b1: number;
  parts: Buffer[] | null;
}

const HANDSHAKE = 1536;
const OUT_CHUNK = 60000;

export interface RtmpOptions {
  host: string;
  port: number;
  app: string;
  stream: string;
  mode: 'play' | 'publish';
  onMedia?: (m: RtmpMedia) => void;
  onReady?: () => void;
  onClose?: (err?: Error) => void;
}

export class RtmpClient {
  readonly socket: net.Socket;
  bytes = 0;
  private readonly o: RtmpOptions;
  private stage: 'handshake' | 'chunks' = 'handshake';
  private hs: Buffer[] = [];
  private hsLen = 0;
  private inChunk = 128;
  private ackWindow = 0;
  private lastAck = 0;
  private rest: Buffer | null = null;
  private readonly streams = new Map<number, ChunkStream>();
  private cur: ChunkStream | null = null;
  private curLeft = 0; // payload bytes left in the current chunk
  private streamId = 0;
  private ready = false;
  private readonly media: RtmpMedia = { type: 0, timestamp: 0, size: 0, b0: 0, b1: 0 };

  constructor(o: RtmpOptions) {
    this.o = o;
    this.socket = net.connect(o.port, o.host);
    this.socket.setNoDelay(true);
    this.socket.on('connect', () => {
      const c1 = randomBytes(1 + HANDSHAKE);
      c1[0] = 3;
      c1.fill(0, 1, 9); // time 0, zero version: the simple handshake
      this.socket.write(c1);
    });
    this.socket.on('data', (d: Buffer) => this.onData(d));
    this.socket.on('error', (err) => this.o.onClose?.(err));
    this.socket.on('close', () => this.o.onClose?.());
  }

  close(): void {
    this.socket.destroy();
  }

  /** Publish mode: send one FLV tag body as an RTMP message. */
  sendTag(type: number, timestamp: number, body: Buffer): boolean {
    return this.writeMessage(type === 9 ? 6 : type === 8 ? 4 : 5, type, this.streamId, timestamp, body);
  }

  private onData(d: Buffer): void {
    this.bytes += d.length;
    if (this.ackWindow > 0 && this.bytes - this.lastAck >= this.ackWindow) {
      this.lastAck = this.bytes;
      const b = Buffer.alloc(4);
      b.writeUInt32BE(this.bytes >>> 0);
      this.writeMessage(2, 3, 0, 0, b);
    }
    if (this.stage === 'handshake') {
      this.hs.push(d);
      this.hsLen += d.length;
      if (this.hsLen < 1 + 2 * HANDSHAKE) return;
      const all = Buffer.concat(this.hs);
      this.hs = [];
      this.stage = 'chunks';
      this.socket.write(all.subarray(1, 1 + HANDSHAKE)); // C2 echoes S1
      const size = Buffer.alloc(4);
      size.writeUInt32BE(OUT_CHUNK);
      this.writeMessage(2, 1, 0, 0, size);
      this.command(['connect', 1, { app: this.o.app, flashVer: 'FMLE/3.0 (compatible; bench)', tcUrl: `rtmp://${this.o.host}:${this.o.port}/${this.o.app}`, fpad: false, capabilities: 15, audioCodecs: 3575, videoCodecs: 252, videoFunction: 1, objectEncoding: 0 }]);
      const left = all.subarray(1 + 2 * HANDSHAKE);
      if (left.length > 0) this.parse(left);
      return;
    }
    this.parse(d);
  }

  private parse(d: Buffer): void {
    if (this.rest) {
      d = Buffer.concat([this.rest, d]);
      this.rest = null;
    }
    let i = 0;
    const n = d.length;
    while (i < n) {
      if (this.curLeft > 0) {
        const cs = this.cur!;
        const take = Math.min(this.curLeft, n - i);
        if (cs.parts) cs.parts.push(d.subarray(i, i + take));
        else if (cs.got === 0) {
          cs.b0 = d[i]!;
          cs.b1 = take > 1 ? d[i + 1]! : -1;
        } else if (cs.b1 === -1) cs.b1 = d[i]!;
        cs.got += take;
        this.curLeft -= take;
        i += take;
        if (cs.got >= cs.length) this.complete(cs);
        continue;
      }
      // chunk header
      const start = i;
      const b = d[i]!;
      const fmt = b >> 6;
      let csid = b & 0x3f;
      let p = i + 1;
      if (csid === 0) {
        if (n - p < 1) break;
        csid = 64 + d[p]!;
        p += 1;
      } else if (csid === 1) {
        if (n - p < 2) break;
        csid = 64 + d[p]! + d[p + 1]! * 256;
        p += 2;
      }
      const hlen = fmt === 0 ? 11 : fmt === 1 ? 7 : fmt === 2 ? 3 : 0;
      if (n - p < hlen) {
        i = start;
        break;
      }
      let cs = this.streams.get(csid);
      if (!cs) {
        cs = { timestamp: 0, delta: 0, length: 0, type: 0, streamId: 0, got: 0, b0: 0, b1: 0, parts: null };
        this.streams.set(csid, cs);
      }
      // decided before the header updates the length
      const newMessage = cs.got === 0 || cs.got >= cs.length;
      let ts = 0;
      if (fmt <= 2) ts = (d[p]! << 16) | (d[p + 1]! << 8) | d[p + 2]!;
      if (fmt <= 1) {
        cs.length = (d[p + 3]! << 16) | (d[p + 4]! << 8) | d[p + 5]!;
        cs.type = d[p + 6]!;
      }
      if (fmt === 0) cs.streamId = d.readUInt32LE(p + 7);
      p += hlen;
      const extended = fmt <= 2 ? ts === 0xffffff : cs.delta >= 0xffffff;
      if (extended) {
        if (n - p < 4) {
          i = start;
          break;
        }
        ts = d.readUInt32BE(p);
        p += 4;
      }
      if (newMessage) {
        cs.got = 0;
        if (fmt === 0) {
          cs.timestamp = ts;
          cs.delta = 0;
        } else if (fmt <= 2) {
          cs.delta = ts;
          cs.timestamp += ts;
        } else cs.timestamp += cs.delta;
        cs.parts = cs.type === 8 || cs.type === 9 ? null : [];
        cs.b1 = 0;
      }
      i = p;
      this.cur = cs;
      this.curLeft = Math.min(this.inChunk, cs.length - cs.got);
      if (cs.length === 0) this.complete(cs);
    }
    if (i < n) this.rest = Buffer.from(d.subarray(i));
  }

  private complete(cs: ChunkStream): void {
    this.curLeft = 0;
    if (cs.parts === null) {
      const m = this.media;
      m.type = cs.type;
      m.timestamp = cs.timestamp >>> 0;
      m.size = cs.length;
      m.b0 = cs.b0;
      m.b1 = cs.b1;
      this.o.onMedia?.(m);
      return;
    }
    const body = cs.parts.length === 1 ? cs.parts[0]! : Buffer.concat(cs.parts);
    cs.parts = null;
    this.control(cs.type, body);
  }

  private control(type: number, body: Buffer): void {
    switch (type) {
      case 1:
        this.inChunk = body.readUInt32BE(0) & 0x7fffffff;
        return;
      case 5:
        this.ackWindow = body.readUInt32BE(0);
        return;
      case 4:
        if (body.readUInt16BE(0) === 6) {
          // ping request: answer so the server keeps us
          const r = Buffer.alloc(6);
          r.writeUInt16BE(7);
          body.copy(r, 2, 2, 6);
          this.writeMessage(2, 4, 0, 0, r);
        }
        return;
      case 18:
        this.o.onMedia?.({ type: 18, timestamp: 0, size: body.length, b0: body[0] ?? 0, b1: body[1] ?? 0 });
        return;
      case 20: {
        const v = amf.amf0Decode(body) as [string, number, unknown, ...unknown[]];
        this.onCommand(v);
        return;
      }
    }
  }

  private onCommand(v: unknown[]): void {
    const [name, trans] = v as [string, number];
    if (name === '_result' && trans === 1) {
      this.command(['createStream', 2, null]);
    } else if (name === '_result' && trans === 2) {
      this.streamId = Number(v[3]);
      if (this.o.mode === 'play') {
        const buf = Buffer.alloc(10);
        buf.writeUInt16BE(3); // set buffer length
        buf.writeUInt32BE(this.streamId, 2);
        buf.writeUInt32BE(1000, 6);
        this.command(['play', 0, null, this.o.stream, -2000], this.streamId);
        this.writeMessage(2, 4, 0, 0, buf);
      } else {
        this.command(['publish', 0, null, this.o.stream, 'live'], this.streamId);
      }
    } else if (name === 'onStatus') {
      const info = v[3] as { code?: string } | undefined;
      const code = info?.code ?? '';
      if (!this.ready && (code === 'NetStream.Publish.Start' || code === 'NetStream.Play.Start')) {
        this.ready = true;
        this.o.onReady?.();
      } else if (/Failed|BadName|Rejected|StreamNotFound/.test(code)) {
        this.socket.destroy(new Error(`RTMP ${code}`));
      }
    } else if (name === '_error') {
      this.socket.destroy(new Error(`RTMP command failed: ${JSON.stringify(v[3])}`));
    }
  }

  private command(values: unknown[], streamId = 0): void {
    this.writeMessage(streamId === 0 ? 3 : 8, 20, streamId, 0, amf.amf0Encode(values));
  }

  private writeMessage(csid: number, type: number, streamId: number, timestamp: number, body: Buffer): boolean {
    const ext = timestamp >= 0xffffff;
    const h = Buffer.allocUnsafe(12 + (ext ? 4 : 0));
    h[0] = csid; // fmt 0
    h.writeUIntBE(ext ? 0xffffff : timestamp, 1, 3);
    h.writeUIntBE(body.length, 4, 3);
    h[7] = type;
    h.writeUInt32LE(streamId, 8);
    if (ext) h.writeUInt32BE(timestamp, 12);
    // the Set Chunk Size message goes first and is tiny, so OUT_CHUNK holds for everything
    const chunk = OUT_CHUNK;
    if (body.length <= chunk) return this.socket.write(Buffer.concat([h, body]));
    const parts: Buffer[] = [h];
    for (let off = 0; off < body.length; off += chunk) {
      if (off > 0) {
        const c = Buffer.allocUnsafe(ext ? 5 : 1);
        c[0] = 0xc0 | csid;
        if (ext) c.writeUInt32BE(timestamp, 1);
        parts.push(c);
      }
      parts.push(body.subarray(off, off + chunk));
    }
    return this.socket.write(Buffer.concat(parts));
  }
}
