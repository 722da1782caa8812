// The audit log over HTTP, on PostgreSQL and on PGlite: security- and
// money-relevant actions are written with actor, target, IP and time, and
// admins (only) read them with filters and cursor pagination.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { sql } from 'drizzle-orm';
import sharp from 'sharp';
import type { AuditRecord } from '../src/domain/audit.ts';
import { startTestApp, uniqueName, type TestApp } from './helpers/app.ts';
import { dbKinds } from './helpers/db.ts';

const ADMIN = { username: uniqueName('root'), password: 'admin passphrase for tests' };
const ENV = {
  ROLES: 'http',
  ADMIN_USERNAME: ADMIN.username,
  ADMIN_PASSWORD: ADMIN.password,
};

type Entry = AuditRecord;

for (const kind of await dbKinds()) {
  describe(`audit log (${kind})`, () => {
    let app: TestApp;
    let adminToken: string;
    let adminId: string;
    before(async () => {
      app = await startTestApp(kind, ENV);
      const login = await app.http.request('POST', '/api/auth/login', { json: ADMIN });
      assert.equal(login.status, 200, JSON.stringify(login.body));
      assert.equal(login.body.user.role, 'admin', 'ADMIN_USERNAME bootstraps an admin');
      adminToken = login.body.token;
      adminId = login.body.user.id;
    });
    after(() => app.close());

    const log = async (query: string, token = adminToken) => {
      const r = await app.http.request('GET', `/api/admin/audit-log${query}`, { token });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body as { items: Entry[]; nextCursor: string | null };
    };
    const all = async (query: string) => {
      const items: Entry[] = [];
      let cursor: string | null = null;
      do {
        const page = await log(`${query}${query ? '&' : '?'}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        items.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor);
      return items;
    };

    test('account, profile, follow, file and money actions are recorded with actor, target, IP and time', async () => {
      const ip = '198.51.100.23';
      const headers = { 'x-forwarded-for': ip };
      const password = 'this is alice secret';
      const username = uniqueName('alice');
      const t0 = Date.now();
      const reg = await app.http.request('POST', '/api/auth/register', { json: { username, password }, headers });
      assert.equal(reg.status, 201);
      const id = reg.body.user.id as string;
      assert.equal((await app.http.request('POST', '/api/auth/login', { json: { username, password: 'wrong password!' }, headers })).status, 401);
      const login = await app.http.request('POST', '/api/auth/login', { json: { username, password }, headers });
      const token = login.body.token as string;
      const bob = await app.http.register(uniqueName('bob'));
      assert.equal((await app.http.request('PUT', `/api/users/${bob.id}/follow`, { token, headers })).status, 204);
      assert.equal((await app.http.request('PUT', `/api/users/${bob.id}/follow`, { token, headers })).status, 204); // no change: no row
      assert.equal((await app.http.request('DELETE', `/api/users/${bob.id}/follow`, { token, headers })).status, 204);
      assert.equal((await app.http.request('PATCH', '/api/users/me', { token, headers, json: { nickname: 'Alice' } })).status, 200);
      const f = new FormData();
      f.set('kind', 'avatar');
      const png = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#08f' } }).png().toBuffer();
      f.set('file', new Blob([new Uint8Array(png)], { type: 'image/png' }), 'a.png');
      const file = await app.http.request('POST', '/api/files', { token, headers, body: f });
      assert.equal(file.status, 201);
      const grant = await app.http.request('POST', '/api/admin/wallet/grant', {
        token: adminToken,
        json: { userId: id, amount: 77 },
        headers: { ...headers, 'idempotency-key': randomUUID() },
      });
      assert.equal(grant.status, 201, JSON.stringify(grant.body));
      assert.equal((await app.http.request('POST', '/api/auth/logout', { token, headers })).status, 204);

      const mine = await all(`?actor=${id}`);
      const actions = mine.map((e) => e.action).reverse(); // oldest first
      const expected = ['user.register', 'auth.login', 'user.follow', 'user.unfollow', 'user.profile_change', 'file.upload', 'user.avatar_change', 'auth.logout'];
      assert.deepEqual(actions.filter((a) => expected.includes(a)), expected, actions.join(', '));
      assert.equal(actions.filter((a) => a === 'user.follow').length, 1, 'a repeated follow changes nothing and writes nothing');
      for (const e of mine) {
        assert.equal(e.actorId, id);
        if (e.action !== 'wallet.signup_bonus') assert.equal(e.ip, ip, e.action);
        assert.ok(Date.parse(e.at) >= t0 - 5_000 && Date.parse(e.at) <= Date.now() + 5_000, e.at);
      }
      assert.equal(mine.find((e) => e.action === 'user.follow')!.target, bob.id);

      // a failed login has no actor (nobody proved who they are) but names the target account
      const failed = (await all('?action=auth.login_failed')).filter((e) => e.target === id);
      assert.equal(failed.length, 1);
      assert.equal(failed[0]!.actorId, null);
      assert.equal(failed[0]!.ip, ip);

      // the admin's grant is the admin's action on alice
      const grants = (await all(`?actor=${adminId}`)).filter((e) => e.target === id && e.action.startsWith('wallet.'));
      assert.equal(grants.length, 1, JSON.stringify(grants));
      assert.equal(grants[0]!.details?.amount, 77);

      // the bootstrap admin's role change is there too
      assert.ok((await all('?action=user.role_change')).some((e) => e.target === adminId));

      // no secret ever lands in the log
      const everything = JSON.stringify(await all(''));
      assert.ok(!everything.includes(password));
      assert.ok(!everything.includes(token));
      assert.ok(!everything.includes(ADMIN.password));
    });

    test('filters by actor and action; pages with a cursor without duplicates or gaps', async () => {
      const u = await app.http.register(uniqueName('pager'));
      for (let i = 0; i < 7; i++) await app.http.request('PATCH', '/api/users/me', { token: u.token, json: { nickname: `n${i}` } });
      const everything = await all(`?actor=${u.id}`);
      const changes = everything.filter((e) => e.action === 'user.profile_change');
      assert.equal(changes.length, 7);

      const paged: Entry[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page = await log(`?actor=${u.id}&action=user.profile_change&limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        assert.ok(page.items.length <= 3);
        paged.push(...page.items);
        cursor = page.nextCursor;
        pages++;
      } while (cursor);
      assert.equal(pages, 3);
      assert.deepEqual(paged.map((e) => e.id), changes.map((e) => e.id), 'same entries, same order');
      const ids = paged.map((e) => Number(e.id));
      assert.deepEqual([...ids].sort((a, b) => b - a), ids, 'newest first');
      assert.deepEqual((await log('?action=no.such.action')).items, []);
      assert.deepEqual((await log(`?actor=${u.id}&action=auth.logout`)).items, []);
    });

    test('only admins read the log; bad queries are 400', async () => {
      const u = await app.http.register(uniqueName('nosy'));
      const forbidden = await app.http.request('GET', '/api/admin/audit-log', { token: u.token });
      assert.equal(forbidden.status, 403);
      assert.equal(forbidden.body.error.code, 'forbidden');
      assert.equal((await app.http.request('GET', '/api/admin/audit-log')).status, 401);
      const forged = Buffer.from(JSON.stringify(['1 or 1=1'])).toString('base64url');
      for (const q of ['?limit=0', '?limit=1000', '?limit=x', '?sort=asc', '?cursor=garbage', `?cursor=${forged}`, `?actor=${'a'.repeat(100)}`]) {
        const r = await app.http.request('GET', `/api/admin/audit-log${q}`, { token: adminToken });
        assert.equal(r.status, 400, q);
        assert.equal(r.body.error.code, 'validation_failed', q);
      }
    });

    test('the log is append-only: updating, deleting or truncating it is refused by the database itself', async () => {
      const u = await app.http.register(uniqueName('trace'));
      const before = (await app.database.db.execute(sql`select count(*)::int as n from audit_log`)) as unknown as { rows: { n: number }[] };
      for (const statement of [
        sql`update audit_log set actor_id = null where actor_id = ${u.id}`,
        sql`delete from audit_log where actor_id = ${u.id}`,
        sql`truncate audit_log`,
      ]) {
        // Drizzle wraps the database's error: its cause carries the trigger's message
        await assert.rejects(app.database.db.execute(statement), (e: any) => /append-only/.test(`${e.message} ${e.cause?.message ?? ''}`));
      }
      const after = (await app.database.db.execute(sql`select count(*)::int as n from audit_log`)) as unknown as { rows: { n: number }[] };
      assert.equal(after.rows[0]!.n, before.rows[0]!.n);
      const mine = await app.http.request('GET', `/api/admin/audit-log?actor=${u.id}`, { token: adminToken });
      assert.ok(mine.body.items.some((e: Entry) => e.action === 'user.register'), 'the registration is still there');
    });
  });
}
