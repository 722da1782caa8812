// The FLV bytes the fan-out reads and writes (src/media/flv-tags.ts): no
// network, no server, no ffmpeg.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  classifyTag, flvFileHeader, TAG_AUDIO_HEADER, TAG_FLV_FILE_HEADER, TAG_KEYFRAME, TAG_META, TAG_OTHER, TAG_VIDEO, TAG_VIDEO_HEADER,
} from '../src/media/flv-tags.ts';
import { FlvTagReader, flvTag } from './helpers/flv.ts';

describe('the FLV file header', () => {
  test('is "FLV", version 1, the track flags, a 9-byte header size and PreviousTagSize0', () => {
    assert.deepEqual([...flvFileHeader({ audio: true, video: true })], [0x46, 0x4c, 0x56, 0x01, 0x05, 0, 0, 0, 0x09, 0, 0, 0, 0]);
    assert.equal(flvFileHeader({ audio: false, video: true })[4], 0x01);
    assert.equal(flvFileHeader({ audio: true, video: false })[4], 0x04);
  });

  test('a reader of FLV accepts it and waits for the first tag', () => {
    const reader = new FlvTagReader();
    reader.push(flvFileHeader({ audio: true, video: true }));
    assert.equal(reader.headerOk, true);
    assert.equal(reader.error, null);
    assert.equal(reader.tags, 0);
  });

  test('is told apart from a tag', () => {
    assert.equal(classifyTag(flvFileHeader({ audio: true, video: true })), TAG_FLV_FILE_HEADER);
    assert.equal(classifyTag(flvFileHeader({ audio: false, video: true })), TAG_FLV_FILE_HEADER);
  });
});

describe('classifying FLV tags', () => {
  const cases: [string, Buffer, number][] = [
    ['script data (onMetaData)', flvTag(18, 0, 0x02, 0x00), TAG_META],
    ['an AAC sequence header', flvTag(8, 0, 0xaf, 0), TAG_AUDIO_HEADER],
    ['an AAC frame', flvTag(8, 40, 0xaf, 1), TAG_OTHER],
    ['an MP3 frame (no sequence header exists)', flvTag(8, 40, 0x2f, 0), TAG_OTHER],
    ['an enhanced-audio sequence start', flvTag(8, 0, 0x90, 0), TAG_AUDIO_HEADER],
    ['an enhanced-audio coded frame', flvTag(8, 40, 0x91, 0), TAG_OTHER],
    ['an AVC sequence header', flvTag(9, 0, 0x17, 0), TAG_VIDEO_HEADER],
    ['an AVC keyframe', flvTag(9, 0, 0x17, 1), TAG_KEYFRAME],
    ['an AVC inter frame', flvTag(9, 40, 0x27, 1), TAG_VIDEO],
    ['an HEVC (codec id 12) sequence header', flvTag(9, 0, 0x1c, 0), TAG_VIDEO_HEADER],
    ['an HEVC (codec id 12) keyframe', flvTag(9, 0, 0x1c, 1), TAG_KEYFRAME],
    ['a video info/command frame (end of seeking)', flvTag(9, 40, 0x57, 1), TAG_OTHER],
    ['a video info/command frame (start of seeking) is no sequence header', flvTag(9, 40, 0x57, 0), TAG_OTHER],
    ['an enhanced-RTMP command frame is no sequence header', flvTag(9, 40, 0x80 | 0x50, 0), TAG_OTHER],
    ['an enhanced-video sequence start', flvTag(9, 0, 0x90, 0x68), TAG_VIDEO_HEADER],
    ['an enhanced-video keyframe', flvTag(9, 0, 0x91, 0x68), TAG_KEYFRAME],
    ['an enhanced-video inter frame', flvTag(9, 40, 0xa1, 0x68), TAG_VIDEO],
    ['an unknown tag type', flvTag(15, 0, 0x17, 1), TAG_OTHER],
    ['a tag too short to hold a body byte', flvTag(9, 0, 0x17, 1).subarray(0, 11), TAG_OTHER],
  ];
  for (const [what, tag, kind] of cases) {
    test(what, () => assert.equal(classifyTag(tag), kind));
  }

  test('the filter and reserved bits of the type byte are ignored', () => {
    const keyframe = flvTag(9, 0, 0x17, 1);
    keyframe[0] = 0x20 | 9;
    assert.equal(classifyTag(keyframe), TAG_KEYFRAME);
  });

  test('the timestamp does not change what a tag is', () => {
    assert.equal(classifyTag(flvTag(9, 0x7fffffff, 0x17, 1)), TAG_KEYFRAME);
    assert.equal(classifyTag(flvTag(9, 0x12345678, 0x27, 1)), TAG_VIDEO);
  });
});
