// Gift benchmark: C concurrent clients send gifts for T seconds to a Liveroom
// server running as a child process, on PGlite and on PostgreSQL; reports
// gifts/s and p50/p99 latency, then runs `ledger:check` on the data. Beside
// it, pgbench runs the same ledger statement (debit with balance check, two
// credits, transfer + 3 entries, idempotency record, audit row) on a scratch
// database: the ceiling of the database for this transaction on this machine.
//
//   flock /tmp/liveroom-bench.lock node loadtest/gifts.ts --clients 64 --seconds 20
//   options: --clients C --seconds T --backends postgres,pglite --pgbench true|false --repeat R
//            --database-url postgres://postgres@127.0.0.1:5432/test (server used for scratch databases)
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { arg, cpuSeconds, machineCpu } from './lib/proc.ts';
import { jsonRequester, startServer, stopServer } from './lib/server.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nodeBin = process.execPath;

const CLIENTS = Number(arg('clients', '64'));
const SECONDS = Number(arg('seconds', '20'));
const BACKENDS = arg('backends', 'postgres,pglite').split(',').filter((b) => b === 'postgres' || b === 'pglite') as ('postgres' | 'pglite')[];
const RUN_PGBENCH = arg('pgbench', 'true') === 'true';
/** Rounds of (app on each backend, pgbench): the machine is shared, so medians say more than one run. */
const REPEAT = Math.max(1, Number(arg('repeat', '1')));
const SERVER_URL = arg('database-url', process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
const GIFT = { id: 'rose', price: 10 };
const ADMIN = { username: 'bench_admin', password: 'bench admin passphrase' };

interface Result {
  backend: string;
  clients: number;
  seconds: number;
  gifts: number;
  giftsPerSec: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  errors: Record<string, number>;
  /** CPU of the server process per successful gift, and in cores over the run. */
  serverCpuPerGiftUs: number;
  serverCpuCores: number;
  loadGeneratorCpuCores: number;
  /** Every process on the machine (PostgreSQL, the load generator, other work). */
  machineBusyPercent: number;
  ledgerCheck: string;
}

const log = (msg: string) => process.stderr.write(`[gifts-bench] ${msg}\n`);


async function scratchDatabase(prefix: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: SERVER_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const a = new pg.Client({ connectionString: SERVER_URL });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS + 8 });
const request = jsonRequester(agent);






function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function benchApp(backend: 'postgres' | 'pglite'): Promise<Result> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'liveroom-bench-'));
  const scratch = backend === 'postgres' ? await scratchDatabase('lr_bench_app') : undefined;
  const env: Record<string, string> = {
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    ADMIN_USERNAME: ADMIN.username,
    ADMIN_PASSWORD: ADMIN.password,
    SIGNUP_BONUS: '0',
    // One IP (the benchmark) and few users send thousands of requests: lift the abuse limits.
    RATE_LIMIT_IP_PER_MIN: '100000000',
    RATE_LIMIT_USER_PER_MIN: '100000000',
    REGISTER_PER_IP_PER_HOUR: '100000',
    ...(scratch ? { DATABASE_URL: scratch.url } : {}),
  };
  log(`${backend}: starting server`);
  const { child, port } = await startServer(env, request);
  try {
    const json = async (method: string, p: string, body?: unknown, token?: string) => {
      const r = await request(port, method, p, body, token ? { authorization: `Bearer ${token}` } : {});
      if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    };
    const register = async (username: string) => {
      await json('POST', '/api/auth/register', { username, password: 'bench user passphrase' });
      const l = await json('POST', '/api/auth/login', { username, password: 'bench user passphrase' });
      return { id: l.user.id as string, token: l.token as string };
    };
    const admin = (await json('POST', '/api/auth/login', ADMIN)).token as string;
    const streamer = await register(`bench_streamer_${randomBytes(3).toString('hex')}`);
    const created = await request(port, 'POST', '/api/rooms', { title: 'Gift benchmark' }, { authorization: `Bearer ${streamer.token}` });
    if (created.status !== 201) throw new Error(`room create failed: ${created.status} ${JSON.stringify(created.body)}`);
    const room = created.body.room.id as string;
    const users = [];
    for (let i = 0; i < CLIENTS; i++) users.push(await register(`bench_${randomBytes(4).toString('hex')}`));
    for (const u of users) await json('POST', '/api/admin/wallet/grant', { userId: u.id, amount: 100_000_000 }, admin);

    // warm-up: every client once (connections, prepared statements, JIT)
    await Promise.all(users.map((u, i) => json('POST', `/api/rooms/${room}/gifts`, { giftId: GIFT.id, count: 1 }, u.token).catch(() => i)));

    log(`${backend}: ${CLIENTS} clients for ${SECONDS} s`);
    const latencies: number[] = [];
    const errors: Record<string, number> = {};
    const endAt = performance.now() + SECONDS * 1000;
    const started = performance.now();
    const serverCpu0 = cpuSeconds(child.pid!);
    const selfCpu0 = process.cpuUsage();
    const machine0 = machineCpu();
    await Promise.all(
      users.map(async (u, i) => {
        let n = 0;
        while (performance.now() < endAt) {
          const t0 = performance.now();
          try {
            const r = await request(port, 'POST', `/api/rooms/${room}/gifts`, { giftId: GIFT.id, count: 1 }, {
              authorization: `Bearer ${u.token}`,
              'idempotency-key': `b-${i}-${n++}`,
            });
            if (r.status === 201) latencies.push(performance.now() - t0);
            else errors[String(r.status)] = (errors[String(r.status)] ?? 0) + 1;
          } catch (e) {
            const code = (e as { code?: string }).code ?? 'error';
            errors[code] = (errors[code] ?? 0) + 1;
          }
        }
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    const serverCpu = cpuSeconds(child.pid!) - serverCpu0;
    const self = process.cpuUsage(selfCpu0);
    const machine1 = machineCpu();
    const machineBusy = (machine1.busy - machine0.busy) / (machine1.total - machine0.total);
    const sorted = Float64Array.from(latencies).sort();

    // ledger:check with the server's configuration; PGlite's data is single-process, so stop the server first.
    await stopServer(child);
    const check = spawnSync(nodeBin, [path.join(root, 'scripts/ledger-check.ts')], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8' });
    const ledgerCheck = check.status === 0 ? `clean (${check.stderr.trim().replace(/^ledger:check: /, '')})` : `FAILED (exit ${check.status}): ${check.stderr.trim()}`;
    return {
      backend,
      clients: CLIENTS,
      seconds: Math.round(elapsed * 10) / 10,
      gifts: latencies.length,
      giftsPerSec: Math.round(latencies.length / elapsed),
      p50: round(percentile(sorted, 50)),
      p90: round(percentile(sorted, 90)),
      p99: round(percentile(sorted, 99)),
      max: round(sorted[sorted.length - 1] ?? NaN),
      errors,
      serverCpuPerGiftUs: Math.round((serverCpu / Math.max(1, latencies.length)) * 1e6),
      serverCpuCores: round(serverCpu / elapsed),
      loadGeneratorCpuCores: round((self.user + self.system) / 1e6 / elapsed),
      machineBusyPercent: Math.round(machineBusy * 100),
      ledgerCheck,
    };
  } finally {
    await stopServer(child);
    await scratch?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const round = (x: number) => Math.round(x * 10) / 10;

/**
 * pgbench with the app's own gift statement (from src/domain/ledger.ts) on a
 * migrated scratch database: `slots` balance rows per credit-only account, like
 * LEDGER_CREDIT_SLOTS (1 shows the single hot platform row).
 */
async function benchPgbench(slots: number): Promise<{ slots: number; tps: number; latencyAvgMs: number; ledgerCheck: string }> {
  const { GIFT_STATEMENT } = await import('../src/domain/ledger.ts');
  const { openDatabase } = await import('../src/db/connect.ts');
  const { checkLedger } = await import('../src/domain/ledger-check.ts');
  const scratch = await scratchDatabase('lr_bench_pgb');
  try {
    const database = await openDatabase({ databaseUrl: scratch.url, poolSize: 2 });
    const seed = new pg.Client({ connectionString: scratch.url });
    await seed.connect();
    const { GRANT_STATEMENT } = await import('../src/domain/ledger.ts');
    for (let u = 1; u <= CLIENTS; u++) {
      await seed.query(GRANT_STATEMENT.text, [`wallet:bu${u}`, `bu${u}`, 100_000_000, `seed-${u}`, 'grant', null, 'pgbench seed', null]);
    }
    await seed.end();
    // $n of the app's statement -> pgbench expressions (prepared: each becomes a bound parameter)
    const params: Record<number, string> = {
      // (pgbench mistakes a colon inside a literal for a variable: chr(58) is ':')
      1: `('wallet' || chr(58) || 'bu' || (:u)::text)`, 2: `('bu' || (:u)::text)`, 3: `${GIFT.price}`,
      4: `('earnings' || chr(58) || 'bs')`, 5: `:s1`, 6: `'bs'`, 7: `${GIFT.price / 2}`,
      8: `:s2`, 9: `${GIFT.price / 2}`,
      10: `('t' || (:client_id)::text || '-' || (:r)::text)`, 11: `'bench-room'`, 12: `'${GIFT.id}'`, 13: `1`,
      14: `('k' || (:client_id)::text || '-' || (:r)::text)`, 15: `'h'`, 16: `'127.0.0.1'`,
    };
    const body = GIFT_STATEMENT.text.replace(/\$(\d+)/g, (_m: string, n: string) => params[Number(n)]!).replace(/\s+/g, ' ').trim();
    const script = [
      // each client is its own sender, as in the HTTP benchmark (no wallet contention)
      `\\set u :client_id + 1`,
      `\\set s1 random(0, ${slots - 1})`,
      `\\set s2 random(0, ${slots - 1})`,
      `\\set r random(1, 9000000000000000000)`,
      `${body};`,
    ].join('\n');
    const file = path.join(tmpdir(), `liveroom-gift-${process.pid}.pgbench.sql`);
    writeFileSync(file, script + '\n');
    const out = spawnSync('pgbench', ['-n', '-M', 'prepared', '-c', String(CLIENTS), '-j', '2', '-T', String(SECONDS), '-f', file, scratch.url], { encoding: 'utf8' });
    rmSync(file, { force: true });
    if (out.status !== 0) throw new Error(`pgbench failed: ${out.stderr}`);
    const tps = Number(/tps = ([\d.]+)/.exec(out.stdout)?.[1]);
    const latencyAvgMs = Number(/latency average = ([\d.]+) ms/.exec(out.stdout)?.[1]);
    const report = await checkLedger(database.db);
    await database.close();
    return { slots, tps: Math.round(tps), latencyAvgMs, ledgerCheck: report.ok ? `clean (${report.transfers} transfers)` : `FAILED: ${JSON.stringify(report.violations.slice(0, 3))}` };
  } finally {
    await scratch.drop();
  }
}

const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
log(`load before: ${load()}`);
const results: (Result & { round: number; load1: number })[] = [];
const pgbench: (Awaited<ReturnType<typeof benchPgbench>> & { round: number })[] = [];
for (let round = 1; round <= REPEAT; round++) {
  for (const backend of BACKENDS) {
    const load1 = loadavg()[0]!;
    results.push({ ...(await benchApp(backend)), round, load1: Math.round(load1 * 100) / 100 });
  }
  if (RUN_PGBENCH) pgbench.push({ ...(await benchPgbench(8)), round });
}
if (RUN_PGBENCH) pgbench.push({ ...(await benchPgbench(1)), round: 0 });
const medians = Object.fromEntries(
  BACKENDS.map((b) => {
    const runs = results.filter((r) => r.backend === b);
    return [b, { giftsPerSec: median(runs.map((r) => r.giftsPerSec)), p50: median(runs.map((r) => r.p50)), p99: median(runs.map((r) => r.p99)) }];
  }),
);
const ceiling = pgbench.filter((p) => p.slots === 8).map((p) => p.tps);
const summary = { machine: { cpus: (await import('node:os')).cpus().length, loadAfter: load() }, results, pgbench, medians, pgbenchMedianTps: ceiling.length ? median(ceiling) : null };
process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
for (const r of results)
  log(
    `round ${r.round} ${r.backend} (load1 ${r.load1}): ${r.giftsPerSec} gifts/s, p50 ${r.p50} ms, p99 ${r.p99} ms, max ${r.max} ms, errors ${JSON.stringify(r.errors)}, ` +
      `server ${r.serverCpuPerGiftUs} µs CPU/gift (${r.serverCpuCores} cores), load generator ${r.loadGeneratorCpuCores} cores, machine ${r.machineBusyPercent}% busy, ledger:check ${r.ledgerCheck}`,
  );
for (const p of pgbench) log(`pgbench${p.round ? ` round ${p.round}` : ''} (${p.slots} credit slots): ${p.tps} tx/s, avg ${p.latencyAvgMs} ms, ledger:check ${p.ledgerCheck}`);
for (const [b, m] of Object.entries(medians)) log(`median ${b}: ${m.giftsPerSec} gifts/s, p50 ${m.p50} ms, p99 ${m.p99} ms`);
if (medians.postgres && ceiling.length) log(`app on PostgreSQL reaches ${Math.round((100 * medians.postgres.giftsPerSec) / median(ceiling))}% of the pgbench ceiling (medians)`);
agent.destroy();
