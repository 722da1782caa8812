// Every REST operation of /api/openapi.json, fuzzed from its own schemas
// (test/helpers/http-fuzz.ts): no reply is 5xx, every 4xx carries the
// documented error body, and a refused request leaves the database as it was.
// Bounded here (FUZZ_PER_OPERATION, default 60 per operation); the full run
// is `node loadtest/http-fuzz.ts`. FUZZ_SEED replays a run.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { describeRequest, runFuzz, startFuzzTarget, type FuzzTarget } from './helpers/http-fuzz.ts';

const PER_OPERATION = Number(process.env.FUZZ_PER_OPERATION ?? 60);
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
describe('HTTP fuzzing from the OpenAPI document', () => {
  let target: FuzzTarget;
  before(async () => {
    target = await startFuzzTarget();
  });
  after(() => target.app.close());

  test(`${PER_OPERATION} requests per operation (seed ${SEED}): no 5xx, documented 4xx bodies, refusals write nothing`, async () => {
    const report = await runFuzz({ ...target, perOperation: PER_OPERATION, seed: SEED });
    process.stdout.write(`# http fuzz: ${report.requests} requests over ${report.operations} operations in ${(report.ms / 1000).toFixed(1)} s, statuses ${JSON.stringify(report.byStatus)}\n`);
    assert.ok(report.operations >= 30, `operations: ${report.operations}`);
    assert.deepEqual(
      report.violations.map((v) => `${v.why}: ${describeRequest(v.request)} -> ${v.text}`),
      [],
      `replay with FUZZ_SEED=${SEED}`,
    );
    assert.deepEqual(
      report.written.map((w) => `${w.status} after ${describeRequest(w.request)}`),
      [],
      `refused requests changed the database; replay with FUZZ_SEED=${SEED}`,
    );
    assert.ok(report.changed > 0, 'accepted requests were seen writing (the write counter works)');
    // The run reached past validation: some requests were accepted, many refused.
    assert.ok(Object.keys(report.byStatus).some((s) => Number(s) < 300), JSON.stringify(report.byStatus));
    assert.ok((report.byStatus[400] ?? 0) > 0, JSON.stringify(report.byStatus));
  });
});
