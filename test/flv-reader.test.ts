// An edge reads its origin's HTTP-FLV back into the pieces a local broadcast
// hands the fan-out (src/media/flv-reader.ts): whatever the TCP chunking, the
// same file header and whole tags come out, and a stream that is not FLV stops.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { FlvReader, FlvReadError } from '../src/media/flv-reader.ts';
import { classifyTag, flvFileHeader, TAG_FLV_FILE_HEADER, TAG_KEYFRAME, TAG_META } from '../src/media/flv-tags.ts';
import { flvTag } from './helpers/flv.ts';

const FLV_VIDEO = 9;
const FLV_SCRIPT = 18;

function read(chunks: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  const reader = new FlvReader((t) => out.push(Buffer.from(t)));
  for (const c of chunks) reader.push(c);
  return out;
}

describe('FlvReader', () => {
  const pieces = [
    flvFileHeader({ audio: true, video: true }),
    flvTag(FLV_SCRIPT, 0, 0x02, 0x00, 40),
    flvTag(FLV_VIDEO, 0, 0x17, 0x01, 500),
    flvTag(FLV_VIDEO, 40, 0x27, 0x01, 120),
  ];
  const stream = Buffer.concat(pieces);

  test('gives back the file header, then each tag whole, in order', () => {
    const out = read([stream]);
    assert.deepEqual(out, pieces);
    assert.equal(classifyTag(out[0]!), TAG_FLV_FILE_HEADER);
    assert.equal(classifyTag(out[1]!), TAG_META);
    assert.equal(classifyTag(out[2]!), TAG_KEYFRAME);
  });

  test('whatever the chunking (one byte at a time, or any split)', () => {
    assert.deepEqual(read([...stream].map((b) => Buffer.from([b]))), pieces);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 20 }), (cuts) => {
        const at = [...new Set(cuts)].sort((a, b) => a - b);
        const chunks = [0, ...at].map((from, i) => stream.subarray(from, at[i] ?? stream.length));
        assert.deepEqual(read(chunks), pieces);
      }),
    );
  });

  test('waits for a tag to be whole', () => {
    const out: Buffer[] = [];
    const reader = new FlvReader((t) => out.push(t));
    reader.push(stream.subarray(0, pieces[0]!.length + pieces[1]!.length + 5));
    assert.equal(out.length, 2);
  });

  test('a stream that is not FLV, or a tag larger than any stream sends, is refused', () => {
    assert.throws(() => read([Buffer.from('HTTP/1.1 200 OK\r\n\r\n')]), FlvReadError);
    const huge = Buffer.alloc(11);
    huge[0] = FLV_VIDEO;
    huge.writeUIntBE(0xffffff, 1, 3); // 11 + 16 MiB - 1 + 4 bytes: past MAX_TAG_BYTES
    assert.throws(() => read([flvFileHeader({ audio: true, video: true }), huge]), FlvReadError);
  });
});
