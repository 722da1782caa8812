import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dbKinds } from './helpers/db.ts';
import { startTestApp, uniqueName, type TestApp } from './helpers/app.ts';

const ADMIN = { username: 'wallet_admin', password: 'a long admin passphrase' };

for (const kind of await dbKinds()) {
  describe(`wallet and ledger over HTTP (${kind})`, () => {
    let app: TestApp;
    let admin: string;
    before(async () => {
      app = await startTestApp(kind, { ADMIN_USERNAME: ADMIN.username, ADMIN_PASSWORD: ADMIN.password, SIGNUP_BONUS: '1000', GRANT_MAX_AMOUNT: '1000000' });
      const login = await app.http.request('POST', '/api/auth/login', { json: ADMIN });
      assert.equal(login.status, 200);
      admin = login.body.token;
    });
    after(() => app.close());

    const wallet = async (token: string) => {
      const r = await app.http.request('GET', '/api/wallet', { token });
      assert.equal(r.status, 200);
      return r.body as { balance: number; earnings: number };
    };
    const check = async () => {
      const r = await app.http.request('GET', '/api/admin/ledger/check', { token: admin });
      assert.equal(r.status, 200);
      assert.deepEqual(r.body.violations, []);
      assert.equal(r.body.ok, true);
      assert.equal(r.body.total, 0);
      return r.body as { issued: number; transfers: number; entries: number };
    };

    test('a new user gets the signup bonus, visible in wallet, ledger and audit log', async () => {
      const u = await app.http.register(uniqueName('bonus'));
      assert.deepEqual(await wallet(u.token), { balance: 1000, earnings: 0 });
      const ledger = await app.http.request('GET', '/api/wallet/ledger', { token: u.token });
      assert.equal(ledger.status, 200);
      assert.equal(ledger.body.items.length, 1);
      const [item] = ledger.body.items;
      assert.equal(item.kind, 'signup_bonus');
      assert.equal(item.amount, 1000);
      assert.equal(item.balanceAfter, 1000);
      assert.equal(item.counterparty.type, 'issuance');
      assert.equal(item.gift, null);
      assert.equal(ledger.body.nextCursor, null);
      const audit = await app.http.request('GET', `/api/admin/audit-log?action=wallet.signup_bonus&limit=100`, { token: admin });
      assert.ok(audit.body.items.some((a: any) => a.target === u.id && a.details.amount === 1000));
      await check();
    });

    test('an admin grant credits the wallet from issuance, is audited, and the ledger pages back in order', async () => {
      const u = await app.http.register(uniqueName('grantee'));
      const before = await check();
      const balances: number[] = [];
      for (let i = 1; i <= 5; i++) {
        const r = await app.http.request('POST', '/api/admin/wallet/grant', { token: admin, json: { userId: u.id, amount: i * 100, note: `round ${i}` } });
        assert.equal(r.status, 201, JSON.stringify(r.body));
        balances.push(r.body.balance);
      }
      assert.deepEqual(balances, [1100, 1300, 1600, 2000, 2500]);
      assert.equal((await wallet(u.token)).balance, 2500);
      const after = await check();
      assert.equal(after.issued - before.issued, 1500);
      assert.equal(after.transfers - before.transfers, 5);

      // two entries per page, newest first, balanceAfter consistent all the way down
      const seen: any[] = [];
      let cursor: string | null = null;
      do {
        const r: any = await app.http.request('GET', `/api/wallet/ledger?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token: u.token });
        assert.equal(r.status, 200);
        assert.ok(r.body.items.length <= 2);
        seen.push(...r.body.items);
        cursor = r.body.nextCursor;
      } while (cursor);
      assert.deepEqual(seen.map((i) => i.amount), [500, 400, 300, 200, 100, 1000]);
      assert.deepEqual(seen.map((i) => i.balanceAfter), [2500, 2000, 1600, 1300, 1100, 1000]);
      assert.deepEqual(seen.map((i) => i.kind), ['grant', 'grant', 'grant', 'grant', 'grant', 'signup_bonus']);
      assert.equal(seen[0].note, 'round 5');
      assert.equal(new Set(seen.map((i) => i.id)).size, 6);

      const audit = await app.http.request('GET', `/api/admin/audit-log?action=wallet.grant&limit=100`, { token: admin });
      assert.equal(audit.body.items.filter((a: any) => a.target === u.id).length, 5);
    });

    test('grants with an Idempotency-Key: a replay moves nothing, other parameters are 409', async () => {
      const u = await app.http.register(uniqueName('idem'));
      const key = `grant-${uniqueName()}`;
      const first = await app.http.request('POST', '/api/admin/wallet/grant', { token: admin, headers: { 'Idempotency-Key': key }, json: { userId: u.id, amount: 250 } });
      assert.equal(first.status, 201);
      assert.equal(first.body.balance, 1250);
      const again = await app.http.request('POST', '/api/admin/wallet/grant', { token: admin, headers: { 'Idempotency-Key': key }, json: { userId: u.id, amount: 250 } });
      assert.equal(again.status, 201);
      assert.deepEqual(again.body, first.body);
      assert.equal(again.headers.get('idempotent-replayed'), 'true');
      const other = await app.http.request('POST', '/api/admin/wallet/grant', { token: admin, headers: { 'Idempotency-Key': key }, json: { userId: u.id, amount: 251 } });
      assert.equal(other.status, 409);
      assert.equal(other.body.error.code, 'idempotency_conflict');
      // concurrent twins with one key move money once
      const twinKey = `twin-${uniqueName()}`;
      const twins = await Promise.all(
        Array.from({ length: 8 }, () =>
          app.http.request('POST', '/api/admin/wallet/grant', { token: admin, headers: { 'Idempotency-Key': twinKey }, json: { userId: u.id, amount: 10 } }),
        ),
      );
      assert.deepEqual(twins.map((t) => t.status), Array(8).fill(201));
      assert.equal(new Set(twins.map((t) => t.body.balance)).size, 1);
      assert.equal((await wallet(u.token)).balance, 1260);
      await check();
    });

    test('Idempotency-Keys are kept for the TTL (24 h) and forgotten after it', async () => {
      const u = await app.http.register(uniqueName('ttl'));
      const key = `ttl-${uniqueName()}`;
      const grant = (amount: number) =>
        app.http.request('POST', '/api/admin/wallet/grant', { token: admin, headers: { 'Idempotency-Key': key }, json: { userId: u.id, amount } });
      assert.equal((await grant(5)).status, 201);
      assert.equal(await app.services.wallet.purgeIdempotencyKeys(new Date(Date.now() + 23 * 3600 * 1000)), 0);
      assert.equal((await grant(6)).status, 409);
      assert.ok((await app.services.wallet.purgeIdempotencyKeys(new Date(Date.now() + 25 * 3600 * 1000))) >= 1);
      const fresh = await grant(6);
      assert.equal(fresh.status, 201);
      assert.equal(fresh.body.balance, 1011);
      await check();
    });

    test('bad grants get 400/401/403/404 and move nothing', async () => {
      const u = await app.http.register(uniqueName('badgrant'));
      const before = await check();
      const bodies: unknown[] = [
        {},
        { userId: u.id },
        { userId: u.id, amount: 0 },
        { userId: u.id, amount: -5 },
        { userId: u.id, amount: 1.5 },
        { userId: u.id, amount: '100' },
        { userId: u.id, amount: 1e300 },
        { userId: u.id, amount: 1_000_001 },
        { userId: u.id, amount: Number.MAX_SAFE_INTEGER + 2 },
        { userId: u.id, amount: null },
        { userId: u.id, amount: 10, extra: true },
        { userId: 'nope', amount: 10 },
        { userId: u.id, amount: 10, note: '' },
        // a NUL byte cannot be stored in a PostgreSQL text or jsonb: a 400, never a 500
        { userId: u.id, amount: 10, note: 'a\u0000b' },
        { userId: u.id, amount: 10, note: 'bell\u0007' },
        [u.id, 10],
      ];
      for (const json of bodies) {
        const r = await app.http.request('POST', '/api/admin/wallet/grant', { token: admin, json });
        assert.equal(r.status, 400, JSON.stringify(json));
        assert.equal(r.body.error.code, 'validation_failed');
      }
      const malformed = await app.http.request('POST', '/api/admin/wallet/grant', { token: admin, json: '{"userId": ' });
      assert.equal(malformed.status, 400);
      const badKey = await app.http.request('POST', '/api/admin/wallet/grant', { token: admin, headers: { 'Idempotency-Key': 'é'.repeat(3) }, json: { userId: u.id, amount: 10 } });
      assert.equal(badKey.status, 400);
      const longKey = await app.http.request('POST', '/api/admin/wallet/grant', { token: admin, headers: { 'Idempotency-Key': 'k'.repeat(256) }, json: { userId: u.id, amount: 10 } });
      assert.equal(longKey.status, 400);
      const missing = await app.http.request('POST', '/api/admin/wallet/grant', { token: admin, json: { userId: '0190c0de-0000-7000-8000-000000000000', amount: 10 } });
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error.code, 'user_not_found');
      const notAdmin = await app.http.request('POST', '/api/admin/wallet/grant', { token: u.token, json: { userId: u.id, amount: 10 } });
      assert.equal(notAdmin.status, 403);
      const anon = await app.http.request('POST', '/api/admin/wallet/grant', { json: { userId: u.id, amount: 10 } });
      assert.equal(anon.status, 401);
      assert.equal((await app.http.request('GET', '/api/admin/ledger/check', { token: u.token })).status, 403);
      assert.equal((await app.http.request('GET', '/api/wallet')).status, 401);
      for (const q of ['limit=0', 'limit=1000', 'limit=abc', 'cursor=%%%', 'cursor=WyJhYmMiXQ', 'account=platform', 'x=1']) {
        const r = await app.http.request('GET', `/api/wallet/ledger?${q}`, { token: u.token });
        assert.equal(r.status, 400, q);
      }
      assert.equal((await wallet(u.token)).balance, 1000);
      const afterCheck = await check();
      assert.equal(afterCheck.issued, before.issued);
      assert.equal(afterCheck.transfers, before.transfers);
    });

    test('the database refuses to change or delete ledger rows', async () => {
      const { sql } = await import('drizzle-orm');
      const db = app.database.db;
      const failsWith = (re: RegExp) => (e: any) => re.test(e?.cause?.message ?? e?.message);
      await assert.rejects(db.execute(sql`update entries set amount = amount + 1`), failsWith(/immutable/));
      await assert.rejects(db.execute(sql`delete from transfers`), failsWith(/immutable/));
      await assert.rejects(db.execute(sql`delete from accounts`), failsWith(/immutable/));
      await assert.rejects(db.execute(sql`update accounts set balance = -1 where kind = 'wallet'`), failsWith(/accounts_balance_nonnegative/));
      await assert.rejects(db.execute(sql`insert into transfers (id, kind, amount) values ('lonely', 'correction', 1)`), failsWith(/does not balance/));
      await check();
    });

    test('the check reports a cached balance that disagrees with its entries', async () => {
      const u = await app.http.register(uniqueName('tampered'));
      const { sql } = await import('drizzle-orm');
      const db = app.database.db;
      await db.execute(sql`update accounts set balance = balance - 7 where id = ${'wallet:' + u.id}`);
      const r = await app.http.request('GET', '/api/admin/ledger/check', { token: admin });
      assert.equal(r.status, 200);
      assert.equal(r.body.ok, false);
      const mismatch = r.body.violations.find((v: any) => v.check === 'cached_balance_mismatch');
      assert.equal(mismatch.detail.accountId, `wallet:${u.id}`);
      assert.equal(mismatch.detail.cached, '993');
      assert.equal(mismatch.detail.entries, '1000');
      assert.ok(r.body.violations.some((v: any) => v.check === 'total_not_zero'));
      await db.execute(sql`update accounts set balance = balance + 7 where id = ${'wallet:' + u.id}`);
      await check();
    });
  });

  describe(`coins issued never pass the largest safe integer (${kind})`, () => {
    let app: TestApp;
    let admin: string;
    before(async () => {
      // An installation that lets admins grant any amount a client can send exactly.
      app = await startTestApp(kind, { ADMIN_USERNAME: ADMIN.username, ADMIN_PASSWORD: ADMIN.password, SIGNUP_BONUS: '1000', GRANT_MAX_AMOUNT: String(Number.MAX_SAFE_INTEGER) });
      const login = await app.http.request('POST', '/api/auth/login', { json: ADMIN });
      assert.equal(login.status, 200);
      admin = login.body.token;
    });
    after(() => app.close());

    test('a grant past it is 409 and moves nothing; balances and the check stay exact integers', async () => {
      const grant = (userId: string, amount: number) => app.http.request('POST', '/api/admin/wallet/grant', { token: admin, json: { userId, amount } });
      const checkReport = async () => {
        const r = await app.http.request('GET', '/api/admin/ledger/check', { token: admin });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.deepEqual(r.body.violations, []);
        return r.body as { issued: number; transfers: number };
      };
      const [a, b] = [await app.http.register(uniqueName('rich')), await app.http.register(uniqueName('rich'))];
      const before = await checkReport();
      const room = Number.MAX_SAFE_INTEGER - before.issued;

      // one wallet past the largest safe integer
      const over = await grant(a.id, Number.MAX_SAFE_INTEGER);
      assert.equal(over.status, 409, JSON.stringify(over.body));
      assert.equal(over.body.error.code, 'conflict');
      // two wallets that are safe apiece but not together
      const half = Math.floor(room / 2) + 1;
      assert.equal((await grant(a.id, half)).status, 201);
      const second = await grant(b.id, half);
      assert.equal(second.status, 409, JSON.stringify(second.body));

      const wallet = async (token: string) => {
        const r = await app.http.request('GET', '/api/wallet', { token });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        return r.body.balance as number;
      };
      assert.equal(await wallet(a.token), 1000 + half);
      assert.equal(await wallet(b.token), 1000);
      const mid = await checkReport();
      assert.equal(mid.issued, before.issued + half);
      assert.equal(mid.transfers, before.transfers + 1);

      // exactly up to it is fine; one coin more is not
      const rest = Number.MAX_SAFE_INTEGER - mid.issued;
      const full = await grant(b.id, rest);
      assert.equal(full.status, 201, JSON.stringify(full.body));
      assert.equal(full.body.balance, 1000 + rest);
      assert.equal((await grant(b.id, 1)).status, 409);
      assert.equal((await checkReport()).issued, Number.MAX_SAFE_INTEGER);
      // a new user's signup bonus cannot be issued either: nothing is created
      const late = await app.http.request('POST', '/api/auth/register', { json: { username: uniqueName('late'), password: 'a long enough password' } });
      assert.equal(late.status, 409, JSON.stringify(late.body));
      assert.equal((await checkReport()).issued, Number.MAX_SAFE_INTEGER);
    });
  });
}
