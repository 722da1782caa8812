// A kill storm: the server (its own process) is SIGKILLed at random moments
// while users send gifts with Idempotency-Keys and lotteries run; after each
// kill it restarts and clients retry what they never got an answer to. At the
// end: `npm run ledger:check` is clean, every acknowledged gift is in the
// ledger exactly once, every retried key paid once, and every lottery was
// drawn exactly once. Used by test/kill-storm.test.ts (a few kills) and
// loadtest/kill-storm.ts (50 and more).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import pg from 'pg';
import type { HttpClient, Reply } from './app.ts';
import { uniqueName } from './app.ts';
import { POSTGRES_URL, type DbKind } from './db.ts';
import { ROOT, startServerProcess, type ServerProcess } from './server-process.ts';
import { createRoomVia } from './wallet.ts';

const ADMIN = { username: 'storm_admin', password: 'a long admin passphrase' };
const PRICE = 10; // rose

export interface StormReport {
  kind: DbKind;
  kills: number;
  acked: number;
  retried: number;
  lotteries: number;
  /** Problems found; empty when everything held. */
  problems: string[];
  ledgerCheck: { ok: boolean; output: string };
  ms: number;
}

export interface StormOptions {
  kind: DbKind;
  kills: number;
  users?: number;
  funds?: number;
  seed?: number;
  /** PostgreSQL: afterwards, break one cached balance and expect `ledger:check` to name it (the check is no rubber stamp). */
  tamperCheck?: boolean;
  /** Delay from a (re)start to the kill, drawn from this range in ms. */
  killAfterMs?: [number, number];
  onProgress?: (line: string) => void;
}

export async function killStorm(o: StormOptions): Promise<StormReport> {
  const t0 = performance.now();
  const users = o.users ?? 8;
  const funds = o.funds ?? 100_000;
  const delays = fc.sample(fc.integer({ min: o.killAfterMs?.[0] ?? 300, max: o.killAfterMs?.[1] ?? 1500 }), { numRuns: o.kills, seed: o.seed ?? 1 });
  const dbName = `lr_t_storm_${randomBytes(4).toString('hex')}`;
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${dbName}`;
  if (o.kind === 'postgres') await adminQuery(`CREATE DATABASE ${dbName}`);
  const dataDir = await mkdtemp(path.join(tmpdir(), 'liveroom-storm-'));
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...(o.kind === 'postgres' ? { DATABASE_URL: url.toString() } : {}),
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    JWT_SECRET: 'storm-test-secret-storm-test-secret-0123',
    ADMIN_USERNAME: ADMIN.username,
    ADMIN_PASSWORD: ADMIN.password,
    SIGNUP_BONUS: '0',
    ROLES: 'http,rooms,jobs',
    RATE_LIMIT_IP_PER_MIN: '100000000',
    RATE_LIMIT_USER_PER_MIN: '100000000',
    REGISTER_PER_IP_PER_HOUR: '100000',
    LOTTERY_SWEEP_SEC: '2',
    // a draw job held by a killed process is taken over quickly
    JOBS_LEASE_SEC: '5',
  };
  let server: ServerProcess | undefined;
  const start = async () => (server = await startServerProcess(env)).http;
  const problems: string[] = [];
  let kills = 0;
  let retried = 0;
  try {
    let http = await start();
    const adminToken = (await http.request('POST', '/api/auth/login', { json: ADMIN })).body.token as string;
    const streamer = await http.register(uniqueName('storm_streamer'));
    const room = await createRoomVia(http, streamer);
    const accounts: { id: string; token: string }[] = [];
    for (let i = 0; i < users; i++) {
      const u = await http.register(uniqueName(`storm${i}`));
      const g = await http.request('POST', '/api/admin/wallet/grant', { token: adminToken, json: { userId: u.id, amount: funds } });
      if (g.status !== 201) throw new Error(`grant: ${g.status} ${JSON.stringify(g.body)}`);
      accounts.push(u);
    }
    const acked = new Map<string, string>(); // key -> giftEventId
    const keysOf = new Map<number, Set<string>>(accounts.map((_, i) => [i, new Set()]));
    const lotteries: string[] = [];
    let unanswered: { user: number; key: string }[] = [];
    let n = 0;
    const gift = (h: HttpClient, user: number, key: string) =>
      h.request('POST', `/api/rooms/${room}/gifts`, { token: accounts[user]!.token, json: { giftId: 'rose', count: 1 }, headers: { 'Idempotency-Key': key } });

    for (const delay of delays) {
      // Retry what the last kill left without an answer: a replay if it committed, a payment if not.
      for (const { user, key } of unanswered) {
        const r: Reply = await gift(http, user, key);
        if (r.status !== 201) problems.push(`retry of ${key}: ${r.status} ${JSON.stringify(r.body)}`);
        else {
          if (acked.has(key) && acked.get(key) !== r.body.giftEventId) problems.push(`retry of ${key} answered another gift`);
          acked.set(key, r.body.giftEventId);
          retried++;
        }
      }
      unanswered = [];
      const lottery = await http.request('POST', `/api/rooms/${room}/lotteries`, { token: streamer.token, json: { prize: 'storm mug', winners: 1, method: 'click', durationSec: 5 } });
      if (lottery.status === 201) lotteries.push(lottery.body.lottery.id);
      let stop = false;
      const killAt = Date.now() + delay;
      const killed = (async () => {
        while (Date.now() < killAt) await new Promise((r) => setTimeout(r, 20));
        stop = true;
        await server!.stop('SIGKILL');
        kills++;
      })();
      await Promise.all(
        accounts.map(async (u, i) => {
          if (lottery.status === 201) await http.request('POST', `/api/lotteries/${lottery.body.lottery.id}/entries`, { token: u.token }).catch(() => {});
          while (!stop) {
            const key = `storm-${i}-${n++}`;
            keysOf.get(i)!.add(key);
            try {
              const r = await gift(http, i, key);
              if (r.status === 201) acked.set(key, r.body.giftEventId);
              else problems.push(`gift ${key}: ${r.status} ${JSON.stringify(r.body)}`);
            } catch {
              unanswered.push({ user: i, key }); // the connection died: the outcome is unknown to the client
              return;
            }
          }
        }),
      );
      await killed;
      o.onProgress?.(`kill ${kills}/${o.kills}: ${acked.size} acknowledged, ${unanswered.length} unanswered`);
      http = await start();
    }
    for (const { user, key } of unanswered) {
      const r: Reply = await gift(http, user, key);
      if (r.status === 201) {
        acked.set(key, r.body.giftEventId);
        retried++;
      } else problems.push(`final retry of ${key}: ${r.status}`);
    }

    // Every lottery drawn, each exactly once.
    const adminAgain = (await http.request('POST', '/api/auth/login', { json: ADMIN })).body.token as string;
    const deadline = Date.now() + 60_000;
    for (const id of lotteries) {
      for (;;) {
        const l = await http.request('GET', `/api/lotteries/${id}`);
        if (l.body.lottery?.status === 'drawn') break;
        if (Date.now() > deadline) {
          problems.push(`lottery ${id} not drawn: ${JSON.stringify(l.body)}`);
          break;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    const draws = new Map<string, number>();
    let cursor: string | null = null;
    do {
      const page: Reply = await http.request('GET', `/api/admin/audit-log?action=lottery.draw&limit=100${cursor ? `&cursor=${cursor}` : ''}`, { token: adminAgain });
      for (const e of page.body.items) draws.set(e.target, (draws.get(e.target) ?? 0) + 1);
      cursor = page.body.nextCursor;
    } while (cursor);
    for (const id of lotteries) if (draws.get(id) !== 1) problems.push(`lottery ${id} drawn ${draws.get(id) ?? 0} times`);

    // Every acknowledged gift in the ledger exactly once; no other gift of these keys.
    const ackedIds = new Set(acked.values());
    for (const [i, u] of accounts.entries()) {
      const gifts: string[] = [];
      let c: string | null = null;
      do {
        const page: Reply = await http.request('GET', `/api/wallet/ledger?limit=100${c ? `&cursor=${c}` : ''}`, { token: u.token });
        for (const item of page.body.items) if (item.kind === 'gift') gifts.push(item.gift.giftEventId);
        c = page.body.nextCursor;
      } while (c);
      const mine = [...keysOf.get(i)!].filter((k) => acked.has(k));
      for (const k of mine) if (!gifts.includes(acked.get(k)!)) problems.push(`acknowledged gift ${k} is missing from the ledger`);
      if (new Set(gifts).size !== gifts.length) problems.push(`user ${i}: a gift appears twice in the ledger`);
      if (gifts.length !== mine.length) problems.push(`user ${i}: ${gifts.length} gifts in the ledger for ${mine.length} acknowledged keys`);
      if (gifts.filter((g) => ackedIds.has(g)).length !== mine.length) problems.push(`user ${i}: ledger gifts do not match the acknowledged ones`);
      const wallet = await http.request('GET', '/api/wallet', { token: u.token });
      if (wallet.body.balance !== funds - PRICE * gifts.length) problems.push(`user ${i}: balance ${wallet.body.balance}, expected ${funds - PRICE * gifts.length}`);
    }
    await server!.stop('SIGKILL');
    const check = spawnSync(process.execPath, [path.join(ROOT, 'scripts/ledger-check.ts')], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8' });
    const ledgerOk = check.status === 0 && JSON.parse(check.stdout || '{}').ok === true;
    if (!ledgerOk) problems.push(`ledger:check: exit ${check.status}: ${check.stdout}${check.stderr}`);
    if (o.tamperCheck && o.kind === 'postgres') {
      const wallet = `wallet:${accounts[0]!.id}`;
      await adminQuery(`update accounts set balance = balance + 1 where id = '${wallet}'`, url.toString());
      const broken = spawnSync(process.execPath, [path.join(ROOT, 'scripts/ledger-check.ts')], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8' });
      const found = broken.status === 1 ? (JSON.parse(broken.stdout).violations as { check: string; detail: { accountId?: string } }[]) : [];
      const names = found.map((v) => v.check).sort().join(',');
      if (names !== 'cached_balance_mismatch,total_not_zero' || found[0]?.detail.accountId !== wallet) problems.push(`a tampered balance was not reported: exit ${broken.status} ${broken.stdout}`);
    }
    return { kind: o.kind, kills, acked: acked.size, retried, lotteries: lotteries.length, problems, ledgerCheck: { ok: ledgerOk, output: check.stdout }, ms: performance.now() - t0 };
  } finally {
    await server?.stop('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
    if (o.kind === 'postgres') await adminQuery(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  }
}

async function adminQuery(q: string, connectionString = POSTGRES_URL) {
  const a = new pg.Client({ connectionString });
  await a.connect();
  try {
    await a.query(q);
  } finally {
    await a.end();
  }
}
