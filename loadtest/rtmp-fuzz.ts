// RTMP fuzzing at full size: mutations of a publish recorded from ffmpeg
// (test/helpers/rtmp-fuzz.ts) against the media process while another room
// is live and watched over HTTP-FLV.
//   node loadtest/rtmp-fuzz.ts [--cases 10000] [--seed N] [--concurrency 8]
// Prints cases per second, health-check failures, the longest gap in the
// watched stream, media restarts and the media process's memory.
import { parseArgs } from 'node:util';
import { runRtmpFuzz, startRtmpFuzzRig } from '../test/helpers/rtmp-fuzz.ts';

const { values } = parseArgs({
  options: { cases: { type: 'string', default: '10000' }, seed: { type: 'string', default: String(Date.now() % 1_000_000) }, concurrency: { type: 'string', default: '8' } },
});
const rigged = await startRtmpFuzzRig();
try {
  const r = await runRtmpFuzz(rigged.rig, rigged.session, { cases: Number(values.cases), seed: Number(values.seed), concurrency: Number(values.concurrency) });
  process.stdout.write(
    `seed ${r.seed}: ${r.cases} cases (session of ${rigged.session.length} bytes) in ${(r.ms / 1000).toFixed(1)} s (${Math.round(r.cases / (r.ms / 1000))}/s)\n` +
      `health-check failures ${r.healthFailures}, media restarts ${r.mediaRestarts}, watched stream: ${r.interruptions} interruptions, longest gap ${r.longestGapMs} ms\n` +
      `media process RSS ${r.rssMb.start.toFixed(0)} MB at start, ${r.rssMb.max.toFixed(0)} MB at most, ${r.rssMb.end.toFixed(0)} MB at the end\n`,
  );
  process.exitCode = r.healthFailures + r.mediaRestarts + r.interruptions > 0 ? 1 : 0;
} finally {
  await rigged.close();
}
