// `npm run lottery:verify -- <lotteryId> [--seed-hash <hex>] [--url http://host:port]`
//
// Re-derives a lottery's winners from its public data — the seed revealed at
// the draw, the seedHash committed at creation, the entriesHash, the entrant
// list and the number of winners — with the published algorithm
// (src/domain/lottery-draw.ts, docs/lotteries.md), and says whether they
// match the stored winners. With --url it reads the server's API
// (GET /api/lotteries/:id and /api/lotteries/:id/entries), without it the
// database of the server's configuration (DATABASE_URL, or PGlite under
// DATA_DIR: stop the server first). Exit 0 match, 1 mismatch, 2 cannot check.
//
// A seed, seedHash and winners replaced together agree with each other, so the
// seedHash is also checked against commitments kept apart from the lottery:
// --seed-hash (the one the checker saw when the lottery opened) and, from the
// database, the append-only audit entries `lottery.create` and `lottery.draw`.
import path from 'node:path';
import { and, asc, eq } from 'drizzle-orm';
import { ConfigError, loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db/connect.ts';
import { DataDirInUseError } from '../src/db/data-dir-lock.ts';
import { auditLog, lotteries, lotteryEntries } from '../src/db/schema.ts';
import { DRAW_ALGORITHM, verifyDraw, type VerifyInput } from '../src/domain/lottery-draw.ts';

class CannotCheck extends Error {}

async function fromApi(base: string, id: string): Promise<VerifyInput & { algorithm: string; status: string }> {
  const get = async (p: string) => {
    const res = await fetch(`${base.replace(/\/$/, '')}/api${p}`);
    const body = (await res.json().catch(() => undefined)) as any;
    if (!res.ok) throw new CannotCheck(`GET ${p}: ${res.status} ${body?.error?.code ?? ''} ${body?.error?.message ?? ''}`.trim());
    return body;
  };
  const { lottery: l } = await get(`/lotteries/${encodeURIComponent(id)}`);
  const entrants: string[] = [];
  let cursor: string | null = null;
  do {
    const page: any = await get(`/lotteries/${encodeURIComponent(id)}/entries?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    for (const e of page.items) entrants.push(e.userId);
    cursor = page.nextCursor;
  } while (cursor);
  return { status: l.status, algorithm: l.algorithm, seed: l.seed, seedHash: l.seedHash, entriesHash: l.entriesHash, winners: l.winners, winnerIds: l.winnerIds, entrants };
}

async function fromDatabase(argv: string[], id: string): Promise<VerifyInput & { algorithm: string; status: string; note?: string }> {
  const config = loadConfig(process.env, argv);
  const database = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: path.join(config.dataDir, 'pglite'), poolSize: 2, migrate: false });
  try {
    const [l] = await database.db.select().from(lotteries).where(eq(lotteries.id, id)).limit(1);
    if (!l) throw new CannotCheck(`no lottery ${id} in the database`);
    const entrants = (await database.db.select({ u: lotteryEntries.userId }).from(lotteryEntries).where(eq(lotteryEntries.lotteryId, id))).map((e) => e.u);
    const drawn = l.status === 'drawn';
    // The first entry of each (the log is append-only; a later one could only be an addition).
    const audit = async (action: string) => {
      const [row] = await database.db.select().from(auditLog).where(and(eq(auditLog.action, action), eq(auditLog.target, id))).orderBy(asc(auditLog.id)).limit(1);
      return (row?.details ?? null) as Record<string, unknown> | null;
    };
    const created = await audit('lottery.create');
    const drawnEntry = await audit('lottery.draw');
    return {
      status: l.status,
      algorithm: DRAW_ALGORITHM,
      // Only what the API publishes: the seed once drawn.
      seed: drawn ? l.seed : null,
      seedHash: l.seedHash,
      entriesHash: drawn ? l.entriesHash : null,
      winners: l.winners,
      winnerIds: l.winnerIds ?? [],
      entrants,
      // No entry at all: the lottery was not made by the server (a missing record is no proof). An entry without
      // seedHash: a lottery opened before the commitment was audited; only --seed-hash can speak for it.
      commitments:
        created && typeof created.seedHash !== 'string'
          ? []
          : [{ source: 'the audit entry lottery.create', seedHash: typeof created?.seedHash === 'string' ? created.seedHash : null }],
      note: created && typeof created.seedHash !== 'string' ? `lottery ${id} opened before its seedHash was written to the audit log: only --seed-hash can tell a rewritten seed` : undefined,
      drawRecord: drawnEntry && { source: 'the audit entry lottery.draw', winnerIds: drawnEntry.winnerIds, entriesHash: drawnEntry.entriesHash },
    };
  } finally {
    await database.close();
  }
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  let url: string | undefined;
  let seedHash: string | undefined;
  const rest: string[] = [];
  let id: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--url') url = args[++i];
    else if (a.startsWith('--url=')) url = a.slice(6);
    else if (a === '--seed-hash') seedHash = args[++i] ?? '';
    else if (a.startsWith('--seed-hash=')) seedHash = a.slice(12);
    else if (a.startsWith('--')) rest.push(a, ...(a.includes('=') ? [] : [args[++i] ?? '']));
    else id ??= a;
  }
  if (!id) {
    process.stderr.write('usage: npm run lottery:verify -- <lotteryId> [--seed-hash <hex>] [--url http://host:port]\n');
    return 2;
  }
  if (seedHash !== undefined && !/^[0-9a-f]{64}$/i.test(seedHash)) throw new CannotCheck(`--seed-hash must be 64 hex digits (the seedHash shown when the lottery opened), not "${seedHash}"`);
  const data: Awaited<ReturnType<typeof fromDatabase>> = url ? await fromApi(url, id) : await fromDatabase(rest, id);
  if (data.status !== 'drawn') throw new CannotCheck(`lottery ${id} is ${data.status}: it has not been drawn yet`);
  if (data.algorithm !== DRAW_ALGORITHM) throw new CannotCheck(`lottery ${id} uses ${data.algorithm}; this tool knows ${DRAW_ALGORITHM}`);
  if (seedHash) data.commitments = [{ source: '--seed-hash', seedHash: seedHash.toLowerCase() }, ...(data.commitments ?? [])];
  // Over the API the only commitment kept apart is the checker's own.
  else if (url) process.stderr.write('lottery:verify: no --seed-hash given: the seedHash is the one the server shows now; give the one you saw when the lottery opened\n');
  if (data.note) process.stderr.write(`lottery:verify: ${data.note}\n`);
  const report = verifyDraw(data);
  process.stdout.write(
    JSON.stringify({ lotteryId: id, match: report.match, checks: report.checks, entrants: data.entrants.length, winnerIds: data.winnerIds, derivedWinnerIds: report.derivedWinnerIds }, null, 2) + '\n',
  );
  for (const c of report.checks) process.stderr.write(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}${c.detail ? ` (${c.detail})` : ''}\n`);
  process.stderr.write(report.match ? `lottery:verify: match — the winners follow from the seed and the entrants\n` : `lottery:verify: MISMATCH\n`);
  return report.match ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`lottery:verify: ${e instanceof CannotCheck || e instanceof ConfigError || e instanceof DataDirInUseError ? e.message : ((e as Error).stack ?? String(e))}\n`);
    process.exit(2);
  },
);
