// Kill storms (test/helpers/kill-storm.ts), bounded: a few SIGKILLs of the
// server (PGlite: its data directory) during a gift storm with retries by
// Idempotency-Key and lotteries running, on PGlite and PostgreSQL; then
// `npm run ledger:check` passes, and on PostgreSQL a tampered balance fails it. The 50-kill form is
// `node loadtest/kill-storm.ts`. KILL_STORM_KILLS sets the count here.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dbKinds } from './helpers/db.ts';
import { killStorm } from './helpers/kill-storm.ts';

const KILLS = Number(process.env.KILL_STORM_KILLS ?? 3);
const SEED = Number(process.env.KILL_STORM_SEED ?? Date.now() % 1_000_000);

for (const kind of await dbKinds()) {
  describe(`kill storm (${kind})`, () => {
    test(`${KILLS} SIGKILLs mid-storm (seed ${SEED}): ledger clean, every acknowledged gift once, every lottery drawn once`, async () => {
      const report = await killStorm({ kind, kills: KILLS, seed: SEED, tamperCheck: true });
      process.stdout.write(`# kill storm ${kind}: ${report.kills} kills, ${report.acked} gifts acknowledged, ${report.retried} retried, ${report.lotteries} lotteries, ${(report.ms / 1000).toFixed(0)} s\n`);
      assert.deepEqual(report.problems, []);
      assert.equal(report.kills, KILLS);
      assert.ok(report.acked > 0 && report.lotteries > 0, JSON.stringify(report));
      assert.ok(report.ledgerCheck.ok, report.ledgerCheck.output);
    });
  });
}
