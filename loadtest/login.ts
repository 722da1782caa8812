// Login benchmark: what argon2id costs. C concurrent clients log in (POST
// /api/auth/login, each as its own user, keep-alive) for T seconds against a
// Liveroom server running as a child process on PostgreSQL; reports logins/s,
// p50/p99 latency and server CPU per login, for each C. Beside it, the bare
// cost of one argon2id verify with the server's parameters, in this process.
//
//   flock /tmp/liveroom-bench.lock node loadtest/login.ts --clients 1,4,16 --seconds 10
//   options: --clients C1,C2,... --seconds T --database-url postgres://postgres@127.0.0.1:5432/test
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { availableParallelism, loadavg } from 'node:os';
import pg from 'pg';
import { hashPassword, verifyPassword } from '../src/domain/passwords.ts';
import { arg, cpuSeconds, machineCpu } from './lib/proc.ts';
import { jsonRequester, startServer, stopServer } from './lib/server.ts';


const CLIENTS = arg('clients', '1,4,16').split(',').map(Number).filter((n) => n > 0);
const SECONDS = Number(arg('seconds', '10'));
const SERVER_URL = arg('database-url', process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
const PASSWORD = 'bench login passphrase';

const log = (msg: string) => process.stderr.write(`[login-bench] ${msg}\n`);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 });
const request = jsonRequester(agent);







const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

async function bareVerifyMs(): Promise<{ sequential: number; perSecondParallel: number }> {
  const hash = await hashPassword(PASSWORD);
  for (let i = 0; i < 3; i++) await verifyPassword(hash, PASSWORD); // warm up
  const n = 20;
  let t0 = performance.now();
  for (let i = 0; i < n; i++) await verifyPassword(hash, PASSWORD);
  const sequential = (performance.now() - t0) / n;
  t0 = performance.now();
  await Promise.all(Array.from({ length: 40 }, () => verifyPassword(hash, PASSWORD)));
  const perSecondParallel = 40 / ((performance.now() - t0) / 1000);
  return { sequential, perSecondParallel };
}

async function run(port: number, pid: number, users: string[], clients: number) {
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  const cpu0 = cpuSeconds(pid);
  const m0 = machineCpu();
  const load = loadavg()[0]!;
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const username = users[c]!;
      while (performance.now() < end) {
        const s = performance.now();
        const r = await request(port, 'POST', '/api/auth/login', { username, password: PASSWORD }).catch(() => ({ status: 0, body: null }));
        if (r.status === 200) latencies.push(performance.now() - s);
        else errors[r.status] = (errors[r.status] ?? 0) + 1;
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(pid) - cpu0;
  const m1 = machineCpu();
  latencies.sort((a, b) => a - b);
  return {
    clients,
    logins: latencies.length,
    perSec: latencies.length / wall,
    p50: pct(latencies, 50),
    p99: pct(latencies, 99),
    cpuPerLoginMs: (cpu / Math.max(1, latencies.length)) * 1000,
    serverCores: cpu / wall,
    machineBusy: ((m1.busy - m0.busy) / Math.max(1, m1.total - m0.total)) * 100,
    load1: load,
    errors,
  };
}

async function main() {
  const scratch = `lr_bench_login_${randomBytes(4).toString('hex')}`;
  const adminClient = new pg.Client({ connectionString: SERVER_URL });
  await adminClient.connect();
  await adminClient.query(`CREATE DATABASE ${scratch}`);
  await adminClient.end();
  const url = new URL(SERVER_URL);
  url.pathname = `/${scratch}`;
  let server: { child: ChildProcess; port: number } | undefined;
  try {
    log(`bare argon2id verify in this process`);
    const bare = await bareVerifyMs();
    log(`starting server on PostgreSQL (${scratch})`);
    server = await startServer({
      DATABASE_URL: url.toString(),
      ROLES: 'http',
      LOG_LEVEL: 'warn',
      SHED_TARGET_DELAY_MS: '600000',
      RATE_LIMIT_IP_PER_MIN: '10000000',
      RATE_LIMIT_USER_PER_MIN: '10000000',
      REGISTER_PER_IP_PER_HOUR: '100000',
      SIGNUP_BONUS: '0',
    }, request);
    const max = Math.max(...CLIENTS);
    const users: string[] = [];
    for (let i = 0; i < max; i++) {
      const username = `bench_login_${i}`;
      const r = await request(server.port, 'POST', '/api/auth/register', { username, password: PASSWORD });
      if (r.status !== 201) throw new Error(`register: ${r.status} ${JSON.stringify(r.body)}`);
      users.push(username);
    }
    const rows = [];
    for (const c of CLIENTS) {
      log(`${c} client(s), ${SECONDS} s`);
      rows.push(await run(server.port, server.child.pid!, users, c));
    }
    const out = process.stdout;
    out.write(`\nargon2id (m=19456 KiB, t=2, p=1), ${availableParallelism()} CPUs, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'}\n`);
    out.write(`bare verify in one process: ${bare.sequential.toFixed(1)} ms each one at a time, ${bare.perSecondParallel.toFixed(0)}/s with 40 at once\n\n`);
    out.write('| clients | logins/s | p50 | p99 | server CPU / login | server cores | machine busy | load1 | errors |\n');
    out.write('|---|---|---|---|---|---|---|---|---|\n');
    for (const r of rows) {
      out.write(
        `| ${r.clients} | ${r.perSec.toFixed(1)} | ${r.p50.toFixed(1)} ms | ${r.p99.toFixed(1)} ms | ${r.cpuPerLoginMs.toFixed(1)} ms | ${r.serverCores.toFixed(2)} | ${r.machineBusy.toFixed(0)}% | ${r.load1.toFixed(2)} | ${JSON.stringify(r.errors)} |\n`,
      );
    }
  } finally {
    if (server) await stopServer(server.child);
    agent.destroy();
    const a = new pg.Client({ connectionString: SERVER_URL });
    await a.connect();
    await a.query(`DROP DATABASE IF EXISTS ${scratch} WITH (FORCE)`);
    await a.end();
  }
}

await main();
