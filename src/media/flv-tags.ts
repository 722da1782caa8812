// FLV bytes, without I/O: the file header a reader starts with, and what kind
// of tag a buffer from node-media-server holds (an 11-byte tag header, the
// body, the 4-byte PreviousTagSize), read from a few of its bytes.

/** The 13 bytes an FLV stream starts with: "FLV", version 1, the track flags, header size 9, PreviousTagSize0. */
export function flvFileHeader(tracks: { audio: boolean; video: boolean }): Buffer {
  const flags = (tracks.audio ? 0x04 : 0) | (tracks.video ? 0x01 : 0);
  return Buffer.from([0x46, 0x4c, 0x56, 0x01, flags, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00]);
}

// The tag kinds a fan-out tells apart (see classifyTag()).
export const TAG_OTHER = 0;
export const TAG_META = 1;
export const TAG_AUDIO_HEADER = 2;
export const TAG_VIDEO_HEADER = 3;
export const TAG_KEYFRAME = 4;
export const TAG_VIDEO = 5;
/** Not a tag: the FLV file header, which node-media-server sends a reader first. */
export const TAG_FLV_FILE_HEADER = 6;

/** What an FLV tag is: metadata, a sequence header, a keyframe, another video frame, or other (audio frames among them). */
export function classifyTag(tag: Buffer): number {
  if (tag.length >= 13 && tag[0] === 0x46 && tag[1] === 0x4c && tag[2] === 0x56) return TAG_FLV_FILE_HEADER;
  if (tag.length < 12) return TAG_OTHER;
  const type = tag[0]! & 0x1f;
  const b = tag[11]!;
  if (type === 18) return TAG_META;
  if (type === 8) {
    const format = b >> 4;
    if (format === 10) return tag[12] === 0 ? TAG_AUDIO_HEADER : TAG_OTHER; // AAC
    if (format === 9) return (b & 0x0f) === 0 ? TAG_AUDIO_HEADER : TAG_OTHER; // enhanced audio
    return TAG_OTHER;
  }
  if (type === 9) {
    // A video info/command frame (frame type 5) carries a command byte where a
    // frame carries its packet type: "start of seeking" (0) is no sequence header.
    const frameType = (b >> 4) & 0x07;
    if (frameType === 5) return TAG_OTHER;
    if (b & 0x80) {
      // enhanced RTMP video (HEVC, AV1, VP9): frame type in bits 4-6, packet type in 0-3
      if ((b & 0x0f) === 0) return TAG_VIDEO_HEADER;
      return frameType === 1 ? TAG_KEYFRAME : TAG_VIDEO;
    }
    const codec = b & 0x0f;
    if ((codec === 7 || codec === 12) && tag[12] === 0) return TAG_VIDEO_HEADER;
    return frameType === 1 ? TAG_KEYFRAME : TAG_VIDEO;
  }
  return TAG_OTHER;
}
