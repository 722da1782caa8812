// 200 simultaneous gift requests from 10 users whose balances cover only some
// of them: exactly the affordable ones succeed, nothing is created or lost,
// no balance goes negative, and the ledger check stays clean.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dbKinds } from './helpers/db.ts';
import { startTestApp, uniqueName, type TestApp } from './helpers/app.ts';
import { adminToken, balanceOf, createRoom, ledgerOk, platformBalance } from './helpers/wallet.ts';

const ADMIN = { username: 'storm_admin', password: 'a long admin passphrase' };
const USERS = 10;
const PER_USER = 20;
const PRICE = 30; // rose (10) x 3

for (const kind of await dbKinds()) {
  describe(`gift storm (${kind})`, () => {
    let app: TestApp;
    let admin: string;
    before(async () => {
      app = await startTestApp(kind, { ADMIN_USERNAME: ADMIN.username, ADMIN_PASSWORD: ADMIN.password, SIGNUP_BONUS: '0' });
      admin = await adminToken(app, ADMIN);
    });
    after(() => app.close());

    test(`${USERS * PER_USER} simultaneous gifts: successes equal what the balances allow, totals unchanged`, async () => {
      const streamer = await app.http.register(uniqueName('storm_streamer'));
      const room = await createRoom(app, streamer);
      const users = await Promise.all(Array.from({ length: USERS }, (_, i) => app.http.register(uniqueName(`storm${i}`))));
      const funds = users.map((_, i) => 100 + 37 * i);
      for (const [i, u] of users.entries()) {
        const r = await app.http.request('POST', '/api/admin/wallet/grant', { token: admin, json: { userId: u.id, amount: funds[i] } });
        assert.equal(r.status, 201);
      }
      const allowed = funds.map((f) => Math.min(PER_USER, Math.floor(f / PRICE)));
      const expected = allowed.reduce((a, b) => a + b, 0);
      assert.ok(expected > 0 && expected < USERS * PER_USER, 'the balances cover only some of the requests');
      const before = await ledgerOk(app, admin);
      const platformBefore = await platformBalance(app);

      // Interleave users so that every wallet is contended at once.
      const requests = [];
      for (let k = 0; k < PER_USER; k++) {
        for (const [i, u] of users.entries()) {
          requests.push(
            app.http
              .request('POST', `/api/rooms/${room}/gifts`, { token: u.token, json: { giftId: 'rose', count: 3 }, headers: { 'Idempotency-Key': `storm-${i}-${k}` } })
              .then((r) => ({ user: i, status: r.status, body: r.body })),
          );
        }
      }
      const replies = await Promise.all(requests);
      const unexpected = replies.filter((r) => r.status !== 201 && r.status !== 402);
      assert.deepEqual(unexpected, [], 'every reply is 201 or 402');
      const ok = replies.filter((r) => r.status === 201);
      assert.equal(ok.length, expected);
      for (const r of replies.filter((x) => x.status === 402)) assert.equal(r.body.error.code, 'insufficient_funds');

      for (const [i, u] of users.entries()) {
        const mine = ok.filter((r) => r.user === i).length;
        assert.equal(mine, allowed[i], `user ${i} successes`);
        const { balance } = await balanceOf(app, u.token);
        assert.equal(balance, funds[i]! - mine * PRICE, `user ${i} balance`);
        assert.ok(balance >= 0);
        // the lowest balance a success reported is what is left
        const reported = ok.filter((r) => r.user === i).map((r) => r.body.balance as number);
        if (reported.length > 0) assert.equal(Math.min(...reported), balance);
        assert.equal(new Set(reported).size, reported.length, 'each success saw its own balance');
      }
      const spent = expected * PRICE;
      assert.equal((await balanceOf(app, streamer.token)).earnings, spent / 2);
      assert.equal(await platformBalance(app), platformBefore + spent / 2);

      const after = await ledgerOk(app, admin);
      assert.equal(after.issued, before.issued, 'no coin created or lost');
      assert.equal(after.transfers - before.transfers, expected);
    });
  });
}
