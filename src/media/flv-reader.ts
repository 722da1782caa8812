// Splits an FLV byte stream (an edge's pull from its origin) back into the
// pieces node-media-server hands a subscriber: the 13-byte file header first,
// then each tag whole (11-byte header, body, 4-byte PreviousTagSize). The
// fan-out then treats a pulled stream exactly as a local broadcast.

/** Larger than any tag node-media-server forwards (its RTMP message limit is far below). */
export const MAX_TAG_BYTES = 16 * 1024 * 1024;

export class FlvReadError extends Error {}

export class FlvReader {
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private headerDone = false;
  private readonly onTag: (tag: Buffer) => void;

  constructor(onTag: (tag: Buffer) => void) {
    this.onTag = onTag;
  }

  /** Feeds bytes as they arrive; throws FlvReadError on a stream that is not FLV. */
  push(chunk: Buffer): void {
    this.buffered.push(chunk);
    this.bufferedBytes += chunk.length;
    for (;;) {
      const need = this.nextSize();
      if (need === 0 || this.bufferedBytes < need) return;
      this.onTag(this.take(need));
    }
  }

  /** Bytes of the next whole piece, or 0 while its header has not arrived. */
  private nextSize(): number {
    if (!this.headerDone) {
      if (this.bufferedBytes < 13) return 0;
      const head = this.peek(13);
      if (head[0] !== 0x46 || head[1] !== 0x4c || head[2] !== 0x56) throw new FlvReadError('not an FLV stream');
      const headerSize = head.readUInt32BE(5);
      if (headerSize !== 9) throw new FlvReadError(`unexpected FLV header size ${headerSize}`);
      this.headerDone = true;
      return 13;
    }
    if (this.bufferedBytes < 11) return 0;
    const head = this.peek(11);
    const dataSize = head.readUIntBE(1, 3);
    const size = 11 + dataSize + 4;
    if (size > MAX_TAG_BYTES) throw new FlvReadError(`an FLV tag of ${size} bytes`);
    return size;
  }

  private peek(n: number): Buffer {
    if (this.buffered[0]!.length < n) this.buffered = [Buffer.concat(this.buffered)];
    return this.buffered[0]!.subarray(0, n);
  }

  private take(n: number): Buffer {
    const first = this.buffered[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.buffered.shift();
      else this.buffered[0] = first.subarray(n);
    } else {
      const all = Buffer.concat(this.buffered);
      out = all.subarray(0, n);
      this.buffered = all.length > n ? [all.subarray(n)] : [];
    }
    this.bufferedBytes -= n;
    return out;
  }
}
