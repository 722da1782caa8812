// RTMP fuzzing (test/helpers/rtmp-fuzz.ts), bounded: mutations of a publish
// recorded from ffmpeg hit the media process while another room is live and
// watched. The API never fails a health check, the watched stream never
// stops, the media process never restarts, and its memory stays bounded.
// RTMP_FUZZ_CASES and RTMP_FUZZ_SEED size and replay a run; the 10,000-case
// form is `node loadtest/rtmp-fuzz.ts`.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runRtmpFuzz, startRtmpFuzzRig } from './helpers/rtmp-fuzz.ts';

const CASES = Number(process.env.RTMP_FUZZ_CASES ?? 600);
const SEED = Number(process.env.RTMP_FUZZ_SEED ?? Date.now() % 1_000_000);

describe('RTMP fuzzing', () => {
  let rigged: Awaited<ReturnType<typeof startRtmpFuzzRig>>;
  before(async () => {
    rigged = await startRtmpFuzzRig();
  });
  after(() => rigged?.close());

  test(`${CASES} mutated sessions (seed ${SEED}) beside a watched live room`, async () => {
    const r = await runRtmpFuzz(rigged.rig, rigged.session, { cases: CASES, seed: SEED });
    process.stdout.write(
      `# rtmp fuzz: ${r.cases} cases in ${(r.ms / 1000).toFixed(1)} s, longest gap in the watched stream ${r.longestGapMs} ms, ${r.interruptions} interruptions, ${r.mediaRestarts} media restarts, media RSS ${r.rssMb.start.toFixed(0)} -> ${r.rssMb.end.toFixed(0)} MB (max ${r.rssMb.max.toFixed(0)})\n`,
    );
    assert.equal(r.healthFailures, 0, 'the API answered every health check');
    assert.equal(r.mediaRestarts, 0, `the media process never crashed (replay with RTMP_FUZZ_SEED=${SEED})`);
    assert.equal(r.interruptions, 0, 'the watched stream never ended');
    assert.ok(r.longestGapMs < 2000, `the watched stream stalled ${r.longestGapMs} ms`);
    assert.ok(r.rssMb.end < r.rssMb.start + 200, `media memory grew from ${r.rssMb.start} to ${r.rssMb.end} MB`);
  });
});
