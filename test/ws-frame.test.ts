// The WebSocket frames the WS-FLV fan-out writes (src/media/ws-frame.ts):
// no network, no server.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { wsBinaryFrame } from '../src/media/ws-frame.ts';

/** Reads an unmasked frame back per RFC 6455 section 5.2. */
function parse(frame: Buffer): { fin: boolean; opcode: number; masked: boolean; payload: Buffer } {
  const len7 = frame[1]! & 0x7f;
  const [length, offset] = len7 < 126 ? [len7, 2] : len7 === 126 ? [frame.readUInt16BE(2), 4] : [Number(frame.readBigUInt64BE(2)), 10];
  return { fin: (frame[0]! & 0x80) !== 0, opcode: frame[0]! & 0x0f, masked: (frame[1]! & 0x80) !== 0, payload: frame.subarray(offset, offset + length) };
}

test('a batch becomes one final, unmasked binary frame, with the shortest length encoding', () => {
  for (const [n, headerBytes] of [
    [0, 2],
    [1, 2],
    [125, 2],
    [126, 4],
    [65_535, 4],
    [65_536, 10],
    [300_000, 10],
  ] as const) {
    const data = Buffer.alloc(n, n % 251);
    const frame = wsBinaryFrame(data);
    assert.equal(frame.length, headerBytes + n, `${n} bytes`);
    const { fin, opcode, masked, payload } = parse(frame);
    assert.equal(fin, true);
    assert.equal(opcode, 2, 'binary');
    assert.equal(masked, false, 'a server never masks');
    assert.ok(payload.equals(data), `${n} bytes: the payload is the batch`);
  }
});

test('the frame holds its own copy of the batch', () => {
  const data = Buffer.from('FLV tags');
  const frame = wsBinaryFrame(data);
  data.fill(0);
  assert.equal(parse(frame).payload.toString(), 'FLV tags');
});
