// The remux job: after a recorded broadcast ends, its FLV parts become one MP4
// (faststart) that plays over HTTP with range requests. It runs on the job
// runner (BullMQ or the in-process runner) wherever the jobs role runs; that
// process must see the same DATA_DIR as the media process.
import { rm, stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Services } from '../domain/services.ts';
import { UnrecoverableError, type JobRunner } from '../jobs/index.ts';
import { ffmpegPath, remux } from '../media/ffmpeg.ts';
import { recordingDir, recordingFile, recordingParts } from '../media/paths.ts';

export const REMUX_QUEUE = 'recording-remux';
/** The media process closes its recording files right after the broadcast ends; the remux starts a little later. */
const SETTLE_MS = 3000;

export function enqueueRemux(runner: JobRunner, recordingId: string): Promise<void> {
  return runner.enqueue(REMUX_QUEUE, { recordingId }, { jobId: `remux-${recordingId}`, runAt: new Date(Date.now() + SETTLE_MS) });
}

export interface RecordingJobSettings {
  dataDir: string;
  ffmpegPath: string | undefined;
  attempts: number;
}

export function defineRecordingJobs(runner: JobRunner, services: Services, settings: RecordingJobSettings, logger: Logger): void {
  const log = logger.child({ module: 'recordings' });
  const { attempts, dataDir } = settings;
  runner.define<{ recordingId?: unknown }>({
    queue: REMUX_QUEUE,
    attempts,
    // a remux is mostly disk I/O: one at a time per process leaves the disk to live streams
    concurrency: 1,
    process: async (data, ctx) => {
      if (typeof data.recordingId !== 'string') throw new UnrecoverableError('recording-remux: recordingId missing');
      const id = data.recordingId;
      const rec = await services.recordings.get(id);
      if (!rec) throw new UnrecoverableError(`recording-remux: no recording ${id}`);
      if (rec.status === 'ready' || rec.status === 'failed') return; // done by an earlier run
      const parts = await recordingParts(dataDir, rec.sessionId);
      if (parts.length === 0) {
        await services.recordings.markFailed(id, 'nothing was recorded');
        throw new UnrecoverableError(`recording-remux: no data for recording ${id}`);
      }
      const out = recordingFile(dataDir, id);
      try {
        const { durationSec } = await remux({ bin: ffmpegPath(settings.ffmpegPath), inputs: parts, out });
        const { size } = await stat(out);
        await services.recordings.markReady(id, { bytes: size, durationMs: durationSec * 1000 });
        await rm(recordingDir(dataDir, rec.sessionId), { recursive: true, force: true });
        log.info({ recordingId: id, bytes: size, durationSec }, 'recording ready');
      } catch (err) {
        // the FLV parts are kept after the last failure, for an operator to look at
        if (ctx.attempt >= attempts) await services.recordings.markFailed(id, (err as Error).message);
        throw err;
      }
    },
  });
}
