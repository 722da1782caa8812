// Kills the server (SIGKILL) in the middle of a gift storm, on PostgreSQL and
// on PGlite (its data directory), restarts it, and checks that nothing was
// half-written: `npm run ledger:check` passes, every acknowledged gift is in
// the ledger, and retrying the unanswered requests with their Idempotency-Keys
// pays each exactly once.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { uniqueName, type HttpClient, type Reply } from './helpers/app.ts';
import { POSTGRES_URL, dbKinds, type DbKind } from './helpers/db.ts';
import { startServerProcess, type ServerProcess } from './helpers/server-process.ts';
import { createRoomVia } from './helpers/wallet.ts';

const root = path.resolve(import.meta.dirname, '..');
const ADMIN = { username: 'crash_admin', password: 'a long admin passphrase' };
const USERS = 10;
const FUNDS = 2000;
const PRICE = 10; // rose

for (const kind of await dbKinds()) describe(`a server killed during a gift storm (${kind})`, () => crashSuite(kind));

function crashSuite(kind: DbKind) {
  const dbName = `lr_t_crash_${randomBytes(4).toString('hex')}`;
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${dbName}`;
  let dataDir: string;
  let env: Record<string, string>;
  let server: ServerProcess | undefined;

  async function start(): Promise<HttpClient> {
    server = await startServerProcess({ ...process.env, ...env });
    return server.http;
  }

  const kill = () => server?.stop() ?? Promise.resolve();

  before(async () => {
    if (kind === 'postgres') {
      const admin = new pg.Client({ connectionString: POSTGRES_URL });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${dbName}`);
      await admin.end();
    }
    dataDir = await mkdtemp(path.join(tmpdir(), 'liveroom-crash-'));
    env = {
      ...(kind === 'postgres' ? { DATABASE_URL: url.toString() } : {}),
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      JWT_SECRET: 'crash-test-secret-crash-test-secret-0123',
      ADMIN_USERNAME: ADMIN.username,
      ADMIN_PASSWORD: ADMIN.password,
      SIGNUP_BONUS: '0',
      // media on ports of its own (never a fixed port another process may hold)
      RTMP_PORT: '0',
      MEDIA_HTTP_PORT: '0',
      RATE_LIMIT_IP_PER_MIN: '1000000',
      RATE_LIMIT_USER_PER_MIN: '1000000',
    };
  });

  after(async () => {
    if (server) await kill();
    await rm(dataDir, { recursive: true, force: true });
    if (kind === 'postgres') {
      const a = new pg.Client({ connectionString: POSTGRES_URL });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      await a.end();
    }
  });

  test('SIGKILL mid-storm, restart: ledger:check passes and no gift is lost or paid twice', async () => {
    let http = await start();
    const login = await http.request('POST', '/api/auth/login', { json: ADMIN });
    assert.equal(login.status, 200);
    const adminToken = login.body.token as string;
    const streamer = await http.register(uniqueName('crash_streamer'));
    const room = await createRoomVia(http, streamer);
    const users = [];
    for (let i = 0; i < USERS; i++) {
      const u = await http.register(uniqueName(`crash${i}`));
      assert.equal((await http.request('POST', '/api/admin/wallet/grant', { token: adminToken, json: { userId: u.id, amount: FUNDS } })).status, 201);
      users.push(u);
    }

    // The storm: every user sends gifts back to back; the server dies after enough were acknowledged.
    const acked = new Map<string, string>(); // key -> giftEventId
    const unanswered: { user: number; key: string }[] = [];
    let stop = false;
    let killing: Promise<void> | undefined;
    await Promise.all(
      users.map(async (u, i) => {
        for (let n = 0; !stop; n++) {
          const key = `crash-${i}-${n}`;
          try {
            const r = await http.request('POST', `/api/rooms/${room}/gifts`, { token: u.token, json: { giftId: 'rose', count: 1 }, headers: { 'Idempotency-Key': key } });
            if (r.status === 201) acked.set(key, r.body.giftEventId);
            else if (r.status !== 402) throw new Error(`unexpected ${r.status} ${JSON.stringify(r.body)}`);
            if (acked.size >= 60 && !killing) killing = kill();
          } catch (e) {
            if ((e as Error).message.startsWith('unexpected')) throw e;
            unanswered.push({ user: i, key }); // the connection died: the outcome is unknown to the client
            stop = true;
          }
        }
      }),
    );
    await killing;
    assert.ok(acked.size >= 60);
    assert.ok(unanswered.length > 0, 'requests were in flight when the server died');

    // The ledger as the database kept it agrees with itself (PGlite: read from its data directory).
    const check = spawnSync(process.execPath, [path.join(root, 'scripts/ledger-check.ts')], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    assert.equal(JSON.parse(check.stdout).ok, true);

    http = await start();
    const adminAgain = (await http.request('POST', '/api/auth/login', { json: ADMIN })).body.token as string;
    // Retrying the unanswered requests with their keys: a replay if the gift committed before the crash, a payment if not.
    for (const { user, key } of unanswered) {
      const first: Reply = await http.request('POST', `/api/rooms/${room}/gifts`, { token: users[user]!.token, json: { giftId: 'rose', count: 1 }, headers: { 'Idempotency-Key': key } });
      assert.equal(first.status, 201, JSON.stringify(first.body));
      const again: Reply = await http.request('POST', `/api/rooms/${room}/gifts`, { token: users[user]!.token, json: { giftId: 'rose', count: 1 }, headers: { 'Idempotency-Key': key } });
      assert.deepEqual(again.body, first.body);
    }
    const ackedIds = new Set(acked.values());
    for (const [i, u] of users.entries()) {
      // The user's gifts as the ledger has them, every page.
      const gifts: string[] = [];
      let cursor: string | null = null;
      do {
        const page: Reply = await http.request('GET', `/api/wallet/ledger?limit=100${cursor ? `&cursor=${cursor}` : ''}`, { token: u.token });
        assert.equal(page.status, 200);
        for (const item of page.body.items) if (item.kind === 'gift') gifts.push(item.gift.giftEventId);
        cursor = page.body.nextCursor;
      } while (cursor);
      const mine = [...acked.keys()].filter((k) => k.startsWith(`crash-${i}-`));
      // every acknowledged gift survived the crash ...
      for (const k of mine) assert.ok(gifts.includes(acked.get(k)!), `acknowledged gift ${k} is in the ledger`);
      // ... and each key paid exactly once: one gift per acknowledged or retried key, no more
      const retried = unanswered.filter((x) => x.user === i).length;
      assert.equal(gifts.length, mine.length + retried, `user ${i}: one gift per key`);
      assert.equal(gifts.filter((g) => ackedIds.has(g)).length, mine.length);
      const wallet = await http.request('GET', '/api/wallet', { token: u.token });
      assert.equal(wallet.body.balance, FUNDS - PRICE * gifts.length, `user ${i} balance`);
    }
    const report = await http.request('GET', '/api/admin/ledger/check', { token: adminAgain });
    assert.equal(report.status, 200);
    assert.deepEqual(report.body.violations, []);
    await kill();
    const final = spawnSync(process.execPath, [path.join(root, 'scripts/ledger-check.ts')], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8' });
    assert.equal(final.status, 0, final.stdout + final.stderr);

    if (kind !== 'postgres') return;
    // The check is not a rubber stamp: a cached balance that disagrees with its entries fails it.
    const tamper = new pg.Client({ connectionString: url.toString() });
    await tamper.connect();
    try {
      await tamper.query(`update accounts set balance = balance + 1 where id = $1`, [`wallet:${users[0]!.id}`]);
      const broken = spawnSync(process.execPath, [path.join(root, 'scripts/ledger-check.ts')], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8' });
      assert.equal(broken.status, 1, broken.stderr);
      const report = JSON.parse(broken.stdout);
      assert.equal(report.ok, false);
      assert.deepEqual(report.violations.map((v: { check: string }) => v.check).sort(), ['cached_balance_mismatch', 'total_not_zero']);
      assert.equal(report.violations[0].detail.accountId, `wallet:${users[0]!.id}`);
    } finally {
      await tamper.end();
    }
  });
}
