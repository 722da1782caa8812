// `npm run ledger:check`: verifies the wallet ledger with the server's own
// configuration (DATABASE_URL, or the PGlite data under DATA_DIR). Prints the
// report as JSON and exits 1 on any violation, 2 when it cannot run.
// PGlite keeps its data in one process: stop the server first, or use
// GET /api/admin/ledger/check while it runs.
import path from 'node:path';
import { ConfigError, loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db/connect.ts';
import { DataDirInUseError } from '../src/db/data-dir-lock.ts';
import { checkLedger } from '../src/domain/ledger-check.ts';

async function main(): Promise<number> {
  let config;
  try {
    config = loadConfig(process.env, process.argv.slice(2));
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`ledger:check: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const database = await openDatabase({
    databaseUrl: config.DATABASE_URL,
    dataDir: path.join(config.dataDir, 'pglite'),
    poolSize: 2,
    migrate: false,
  });
  try {
    const report = await checkLedger(database.db);
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    process.stderr.write(
      report.ok
        ? `ledger:check: OK (${report.transfers} transfers, ${report.entries} entries, ${report.accounts} balance rows, ${report.issued} coins issued)\n`
        : `ledger:check: ${report.violations.length} violation(s)\n`,
    );
    return report.ok ? 0 : 1;
  } finally {
    await database.close();
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`ledger:check: ${e instanceof DataDirInUseError ? e.message : ((e as Error).stack ?? e)}\n`);
    process.exit(2);
  },
);
