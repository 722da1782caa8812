// The full HTTP fuzzing run: every operation of /api/openapi.json, requests
// built from its schemas and mutated (test/helpers/http-fuzz.ts), one at a
// time against a PGlite server, with a write check after each request.
//   node loadtest/http-fuzz.ts [--per-operation 640] [--seed N]
// Prints the statuses seen and every contract violation (exit 1 if any).
import { parseArgs } from 'node:util';
import { describeRequest, runFuzz, startFuzzTarget } from '../test/helpers/http-fuzz.ts';

const { values } = parseArgs({ options: { 'per-operation': { type: 'string', default: '640' }, seed: { type: 'string', default: String(Date.now() % 1_000_000) } } });
const target = await startFuzzTarget();
try {
  const report = await runFuzz({ ...target, perOperation: Number(values['per-operation']), seed: Number(values.seed) });
  const fivexx = Object.entries(report.byStatus).filter(([s]) => Number(s) >= 500).reduce((n, [, c]) => n + c, 0);
  process.stdout.write(
    `seed ${report.seed}: ${report.requests} requests over ${report.operations} operations in ${(report.ms / 1000).toFixed(1)} s (${Math.round(report.requests / (report.ms / 1000))}/s)\n` +
      `statuses ${JSON.stringify(report.byStatus)}\n` +
      `5xx: ${fivexx}; 4xx without the error body: ${report.violations.length - fivexx}; refused requests that wrote: ${report.written.length}; requests that wrote: ${report.changed}\n`,
  );
  for (const v of report.violations) process.stdout.write(`VIOLATION ${v.why}: ${describeRequest(v.request)} -> ${v.text}\n`);
  for (const w of report.written) process.stdout.write(`WROTE ${w.status}: ${describeRequest(w.request)}\n`);
  process.exitCode = report.violations.length + report.written.length > 0 ? 1 : 0;
} finally {
  await target.app.close();
}
