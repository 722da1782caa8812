// Where media files live under DATA_DIR (shared by the media process, the API
// app that serves previews and recordings, and the remux job).
// Shared: imported by the media child, src/http/ and src/media-control/ (API process).
import { readdir } from 'node:fs/promises';
import path from 'node:path';

/** HLS playlist and segments of a live room (removed when the broadcast ends). */
export const hlsDir = (dataDir: string, roomId: string) => path.join(dataDir, 'hls', roomId);
/** The latest live snapshot of a room. */
export const previewFile = (dataDir: string, roomId: string) => path.join(dataDir, 'previews', `${roomId}.jpg`);
/** FLV parts written while a recorded broadcast is live. */
export const recordingDir = (dataDir: string, sessionId: string) => path.join(dataDir, 'recordings', sessionId);
/** The finished MP4 of a recording. */
export const recordingFile = (dataDir: string, recordingId: string) => path.join(dataDir, 'recordings', `${recordingId}.mp4`);

/** The FLV parts of a session's recording, in time order. */
export async function recordingParts(dataDir: string, sessionId: string): Promise<string[]> {
  const dir = recordingDir(dataDir, sessionId);
  const names = await readdir(dir).catch(() => [] as string[]);
  return names
    .filter((n) => /^part-\d+\.flv$/.test(n))
    .sort()
    .map((n) => path.join(dir, n));
}
