// 50 SIGKILLs of the server at random moments of a gift storm, with clients
// retrying by Idempotency-Key and lotteries running (test/helpers/kill-storm.ts).
//   node loadtest/kill-storm.ts [--kills 50] [--backends pglite,postgres] [--seed N]
// Prints, per backend, the kills, gifts acknowledged and retried, lotteries,
// and every problem found (exit 1 if any).
import { parseArgs } from 'node:util';
import { killStorm } from '../test/helpers/kill-storm.ts';
import type { DbKind } from '../test/helpers/db.ts';

const { values } = parseArgs({
  options: { kills: { type: 'string', default: '50' }, backends: { type: 'string', default: 'pglite,postgres' }, seed: { type: 'string', default: String(Date.now() % 1_000_000) } },
});
let failed = false;
for (const kind of values.backends!.split(',') as DbKind[]) {
  const r = await killStorm({ kind, kills: Number(values.kills), seed: Number(values.seed), tamperCheck: true, onProgress: (l) => process.stderr.write(`${kind}: ${l}\n`) });
  process.stdout.write(
    `${kind}: ${r.kills} kills in ${(r.ms / 1000).toFixed(0)} s, ${r.acked} gifts acknowledged (${r.retried} after a retry), ${r.lotteries} lotteries, ledger:check ${r.ledgerCheck.ok ? 'clean' : 'FAILED'}, ${r.problems.length} problems\n`,
  );
  for (const p of r.problems) process.stdout.write(`  PROBLEM ${p}\n`);
  failed ||= r.problems.length > 0;
}
process.exitCode = failed ? 1 : 0;
