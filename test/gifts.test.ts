import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { EventMap } from '../src/domain/events.ts';
import { dbKinds } from './helpers/db.ts';
import { startTestApp, uniqueName, type TestApp } from './helpers/app.ts';
import { adminToken, balanceOf, createRoom, ledgerOk, platformBalance } from './helpers/wallet.ts';

const ADMIN = { username: 'gifts_admin', password: 'a long admin passphrase' };

for (const kind of await dbKinds()) {
  describe(`gifts over HTTP (${kind})`, () => {
    let app: TestApp;
    let admin: string;
    let streamer: { id: string; token: string; username: string };
    let roomId: string;
    before(async () => {
      app = await startTestApp(kind, { ADMIN_USERNAME: ADMIN.username, ADMIN_PASSWORD: ADMIN.password, SIGNUP_BONUS: '1000', GIFT_MAX_COUNT: '500' });
      admin = await adminToken(app, ADMIN);
      streamer = await app.http.register(uniqueName('streamer'), undefined, 'Streamer');
      roomId = await createRoom(app, streamer);
    });
    after(() => app.close());

    const gift = (token: string, body: unknown, opts: { room?: string; key?: string } = {}) =>
      app.http.request('POST', `/api/rooms/${opts.room ?? roomId}/gifts`, {
        token,
        json: body,
        headers: opts.key ? { 'Idempotency-Key': opts.key } : {},
      });

    test('the catalog lists gifts with integer prices', async () => {
      const r = await app.http.request('GET', '/api/gifts');
      assert.equal(r.status, 200);
      assert.ok(r.body.items.length >= 5);
      for (const g of r.body.items) {
        assert.match(g.id, /^[a-z0-9_-]+$/);
        assert.ok(Number.isInteger(g.price) && g.price > 0);
        assert.ok(g.name && g.icon);
      }
      assert.deepEqual(r.body.items.find((g: any) => g.id === 'rose'), { id: 'rose', name: 'Rose', price: 10, icon: '🌹' });
    });

    test('a gift debits the sender, splits between streamer and platform, shows in ledgers, audit, bus and top fans', async () => {
      const viewer = await app.http.register(uniqueName('viewer'), undefined, 'Viewer One');
      const events: EventMap['room.gift'][] = [];
      const unsubscribe = app.services.events.subscribe('room.gift', (e) => events.push(e));
      const platformBefore = await platformBalance(app);
      const streamerBefore = await balanceOf(app, streamer.token);

      const r = await gift(viewer.token, { giftId: 'rose', count: 3 });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.equal(r.body.balance, 970);
      assert.match(r.body.giftEventId, /^[0-9a-f-]{36}$/);
      assert.deepEqual(await balanceOf(app, viewer.token), { balance: 970, earnings: 0 });
      assert.equal((await balanceOf(app, streamer.token)).earnings, streamerBefore.earnings + 15);
      assert.equal(await platformBalance(app), platformBefore + 15);

      // odd amounts: the streamer gets floor(50%), the platform the remainder
      const odd = await gift(viewer.token, { giftId: 'heart', count: 3 });
      assert.equal(odd.status, 201);
      assert.equal(odd.body.balance, 967);
      assert.equal((await balanceOf(app, streamer.token)).earnings, streamerBefore.earnings + 16);
      assert.equal(await platformBalance(app), platformBefore + 17);
      // count defaults to 1; a 1-coin gift gives the streamer floor(0.5) = 0 and the platform 1
      const one = await gift(viewer.token, { giftId: 'heart' });
      assert.equal(one.status, 201);
      assert.equal(one.body.balance, 966);
      assert.equal((await balanceOf(app, streamer.token)).earnings, streamerBefore.earnings + 16);
      assert.equal(await platformBalance(app), platformBefore + 18);

      const ledger = await app.http.request('GET', '/api/wallet/ledger?limit=10', { token: viewer.token });
      assert.deepEqual(ledger.body.items.map((i: any) => [i.kind, i.amount, i.balanceAfter]), [
        ['gift', -1, 966],
        ['gift', -3, 967],
        ['gift', -30, 970],
        ['signup_bonus', 1000, 1000],
      ]);
      const g = ledger.body.items[2];
      assert.deepEqual(g.gift, { giftEventId: r.body.giftEventId, roomId, giftId: 'rose', count: 3, senderId: viewer.id, streamerId: streamer.id });
      assert.deepEqual(g.counterparty, { type: 'user', userId: streamer.id });

      const earnings = await app.http.request('GET', '/api/wallet/ledger?account=earnings', { token: streamer.token });
      assert.equal(earnings.status, 200);
      const mine = earnings.body.items.filter((i: any) => i.gift.senderId === viewer.id);
      assert.deepEqual(mine.map((i: any) => i.amount), [1, 15]);
      assert.equal(mine[0].counterparty.userId, viewer.id);

      await waitFor(() => events.filter((e) => e.userId === viewer.id).length === 3);
      unsubscribe();
      const ev = events.find((e) => e.giftEventId === r.body.giftEventId)!;
      assert.equal(ev.roomId, roomId);
      assert.equal(ev.nickname, 'Viewer One');
      assert.equal(ev.streamerId, streamer.id);
      assert.equal(ev.giftId, 'rose');
      assert.equal(ev.giftName, 'Rose');
      assert.equal(ev.count, 3);
      assert.equal(ev.amount, 30);
      assert.ok(!Number.isNaN(Date.parse(ev.at)));

      const audit = await app.http.request('GET', `/api/admin/audit-log?actor=${viewer.id}&action=gift.send`, { token: admin });
      assert.equal(audit.body.items.length, 3);
      assert.equal(audit.body.items[2].details.giftEventId, r.body.giftEventId);
      assert.equal(audit.body.items[2].target, roomId);

      const fans = await app.http.request('GET', `/api/rooms/${roomId}/top-fans?window=all`);
      assert.equal(fans.status, 200);
      assert.deepEqual(fans.body.items.find((f: any) => f.userId === viewer.id), { userId: viewer.id, nickname: 'Viewer One', amount: 34 });
      await ledgerOk(app, admin);
    });

    test('402 when the balance does not cover the gift, and nothing moves', async () => {
      const viewer = await app.http.register(uniqueName('poor'));
      const before = await ledgerOk(app, admin);
      const platform = await platformBalance(app);
      const r = await gift(viewer.token, { giftId: 'castle', count: 1 });
      assert.equal(r.status, 402);
      assert.equal(r.body.error.code, 'insufficient_funds');
      // exactly the balance is fine, one more coin is not
      assert.equal((await gift(viewer.token, { giftId: 'cake', count: 10 })).status, 201); // 990
      const over = await gift(viewer.token, { giftId: 'rose', count: 2 });
      assert.equal(over.status, 402);
      assert.equal((await gift(viewer.token, { giftId: 'rose', count: 1 })).status, 201); // 1000 exactly
      assert.equal((await gift(viewer.token, { giftId: 'heart', count: 1 })).status, 402);
      assert.equal((await balanceOf(app, viewer.token)).balance, 0);
      const after = await ledgerOk(app, admin);
      assert.equal(after.transfers - before.transfers, 2);
      assert.equal(await platformBalance(app), platform + 500);
    });

    test('Idempotency-Key: a replay returns the first reply and moves nothing; other parameters are 409; twins pay once', async () => {
      const viewer = await app.http.register(uniqueName('retry'));
      const key = `gift-${uniqueName()}`;
      const first = await gift(viewer.token, { giftId: 'coffee', count: 2 }, { key });
      assert.equal(first.status, 201);
      assert.equal(first.body.balance, 940);
      const replay = await gift(viewer.token, { giftId: 'coffee', count: 2 }, { key });
      assert.equal(replay.status, 201);
      assert.deepEqual(replay.body, first.body);
      assert.equal(replay.headers.get('idempotent-replayed'), 'true');
      assert.equal((await balanceOf(app, viewer.token)).balance, 940);
      for (const other of [{ giftId: 'coffee', count: 3 }, { giftId: 'rose', count: 2 }]) {
        const r = await gift(viewer.token, other, { key });
        assert.equal(r.status, 409);
        assert.equal(r.body.error.code, 'idempotency_conflict');
      }
      const otherRoom = await createRoom(app, await app.http.register(uniqueName('streamer2')));
      assert.equal((await gift(viewer.token, { giftId: 'coffee', count: 2 }, { key, room: otherRoom })).status, 409);
      // another user may use the same key for their own gift
      const someoneElse = await app.http.register(uniqueName('other'));
      assert.equal((await gift(someoneElse.token, { giftId: 'coffee', count: 2 }, { key })).status, 201);

      // concurrent twins: money moves once, every twin gets the same reply
      const twinKey = `twin-${uniqueName()}`;
      const twins = await Promise.all(Array.from({ length: 12 }, () => gift(viewer.token, { giftId: 'rose', count: 1 }, { key: twinKey })));
      assert.deepEqual(twins.map((t) => t.status), Array(12).fill(201));
      assert.equal(new Set(twins.map((t) => t.body.giftEventId)).size, 1);
      assert.equal((await balanceOf(app, viewer.token)).balance, 930);

      // a replay still answers the first reply after the money is gone
      const spendKey = `spend-${uniqueName()}`;
      const spend = await gift(viewer.token, { giftId: 'cake', count: 9 }, { key: spendKey }); // 891
      assert.equal(spend.status, 201);
      assert.equal(spend.body.balance, 39);
      const late = await gift(viewer.token, { giftId: 'cake', count: 9 }, { key: spendKey });
      assert.equal(late.status, 201);
      assert.deepEqual(late.body, spend.body);
      // a refused request stores nothing: the same key works once the balance covers it
      const poorKey = `poor-${uniqueName()}`;
      assert.equal((await gift(viewer.token, { giftId: 'cake', count: 1 }, { key: poorKey })).status, 402);
      assert.equal((await app.http.request('POST', '/api/admin/wallet/grant', { token: admin, json: { userId: viewer.id, amount: 100 } })).status, 201);
      const ok = await gift(viewer.token, { giftId: 'cake', count: 1 }, { key: poorKey });
      assert.equal(ok.status, 201);
      assert.equal(ok.body.balance, 40);
      await ledgerOk(app, admin);
    });

    test('gifting your own room is refused with 403 and moves nothing', async () => {
      const before = await balanceOf(app, streamer.token);
      const r = await gift(streamer.token, { giftId: 'rose', count: 1 });
      assert.equal(r.status, 403);
      assert.equal(r.body.error.code, 'cannot_gift_own_room');
      assert.deepEqual(await balanceOf(app, streamer.token), before);
    });

    test('bad gift requests get 4xx with a code and move nothing', async () => {
      const viewer = await app.http.register(uniqueName('bad'));
      const before = await ledgerOk(app, admin);
      const bad: unknown[] = [
        {},
        { count: 1 },
        { giftId: 'rose', count: 0 },
        { giftId: 'rose', count: -1 },
        { giftId: 'rose', count: 1.5 },
        { giftId: 'rose', count: '2' },
        { giftId: 'rose', count: 501 },
        { giftId: 'rose', count: 1e12 },
        { giftId: 'rose', count: Number.MAX_SAFE_INTEGER + 2 },
        { giftId: 'rose', count: null },
        { giftId: 'rose', count: [1] },
        { giftId: 'rose', count: 1, amount: 1 },
        { giftId: 42, count: 1 },
        { giftId: 'ROSE', count: 1 },
        { giftId: 'rose'.repeat(20), count: 1 },
        { giftId: "rose'; --", count: 1 },
        ['rose', 1],
      ];
      for (const json of bad) {
        const r = await gift(viewer.token, json);
        assert.equal(r.status, 400, JSON.stringify(json));
        assert.equal(r.body.error.code, 'validation_failed', JSON.stringify(json));
      }
      assert.equal((await gift(viewer.token, '{"giftId": "rose",')).status, 400);
      const unknown = await gift(viewer.token, { giftId: 'unicorn', count: 1 });
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.error.code, 'gift_not_found');
      assert.equal((await gift(viewer.token, { giftId: 'rose', count: 1 }, { room: 'not-an-id' })).status, 400);
      const missingRoom = await gift(viewer.token, { giftId: 'rose', count: 1 }, { room: '0190c0de-0000-7000-8000-000000000000' });
      assert.equal(missingRoom.status, 404);
      assert.equal((await gift(viewer.token, { giftId: 'rose', count: 1 }, { key: 'has space' })).status, 400);
      assert.equal((await gift(viewer.token, { giftId: 'rose', count: 1 }, { key: 'k'.repeat(256) })).status, 400);
      assert.equal((await app.http.request('POST', `/api/rooms/${roomId}/gifts`, { json: { giftId: 'rose', count: 1 } })).status, 401);
      assert.equal((await balanceOf(app, viewer.token)).balance, 1000);
      const after = await ledgerOk(app, admin);
      assert.equal(after.transfers, before.transfers);
      assert.equal(after.entries, before.entries);
    });

    test('top fans rank by coins spent, per window, with limits', async () => {
      const room = await createRoom(app, await app.http.register(uniqueName('ranked')));
      const fans = await Promise.all([1, 2, 3].map((i) => app.http.register(uniqueName(`fan${i}`), undefined, `Fan ${i}`)));
      assert.equal((await gift(fans[0]!.token, { giftId: 'rose', count: 1 }, { room })).status, 201); // 10
      assert.equal((await gift(fans[1]!.token, { giftId: 'cake', count: 1 }, { room })).status, 201); // 99
      assert.equal((await gift(fans[2]!.token, { giftId: 'coffee', count: 1 }, { room })).status, 201); // 30
      assert.equal((await gift(fans[0]!.token, { giftId: 'coffee', count: 2 }, { room })).status, 201); // +60 = 70
      for (const window of ['day', 'all']) {
        const r = await app.http.request('GET', `/api/rooms/${room}/top-fans?window=${window}`);
        assert.equal(r.status, 200);
        assert.deepEqual(r.body.items, [
          { userId: fans[1]!.id, nickname: 'Fan 2', amount: 99 },
          { userId: fans[0]!.id, nickname: 'Fan 1', amount: 70 },
          { userId: fans[2]!.id, nickname: 'Fan 3', amount: 30 },
        ]);
      }
      const top1 = await app.http.request('GET', `/api/rooms/${room}/top-fans?limit=1`);
      assert.deepEqual(top1.body.items.map((f: any) => f.amount), [99]);
      // the day window is computed from the ledger's timestamps
      const tomorrow = await app.services.gifts.topFans(room, 'day', 10, new Date(Date.now() + 25 * 3600 * 1000));
      assert.deepEqual(tomorrow, []);
      for (const q of ['window=week', 'limit=0', 'limit=101', 'limit=x', 'extra=1']) {
        assert.equal((await app.http.request('GET', `/api/rooms/${room}/top-fans?${q}`)).status, 400, q);
      }
      assert.equal((await app.http.request('GET', `/api/rooms/0190c0de-0000-7000-8000-000000000000/top-fans`)).status, 404);
    });
  });
}

async function waitFor(cond: () => boolean, timeoutMs = 10_000) {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error('timed out waiting');
    await new Promise((r) => setImmediate(r));
  }
}
