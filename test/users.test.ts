// Users and follows over HTTP, on PostgreSQL and on PGlite: public profiles,
// profile changes, idempotent follow/unfollow, exact counts under concurrency,
// cursor pagination of follower lists.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, uniqueName, type TestApp } from './helpers/app.ts';
import { dbKinds } from './helpers/db.ts';

const ENV = {
  ROLES: 'http,rooms',
  REGISTER_PER_IP_PER_HOUR: '10000',
  RATE_LIMIT_IP_PER_MIN: '100000',
  RATE_LIMIT_USER_PER_MIN: '100000',
};

type U = { id: string; token: string; username: string };

for (const kind of await dbKinds()) {
  describe(`users and follows (${kind})`, () => {
    let app: TestApp;
    before(async () => {
      app = await startTestApp(kind, ENV);
    });
    after(() => app.close());

    const profile = async (id: string) => {
      const r = await app.http.request('GET', `/api/users/${id}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body;
    };
    const follow = (who: U, id: string) => app.http.request('PUT', `/api/users/${id}/follow`, { token: who.token });
    const unfollow = (who: U, id: string) => app.http.request('DELETE', `/api/users/${id}/follow`, { token: who.token });

    test('a public profile shows counts and the room id, and nothing private', async () => {
      const streamer = await app.http.register(uniqueName('star'), undefined, 'Star ★');
      const p = await profile(streamer.id);
      assert.deepEqual(Object.keys(p).sort(), ['avatarUrl', 'createdAt', 'followers', 'following', 'id', 'nickname', 'role', 'roomId', 'username']);
      assert.equal(p.username, streamer.username);
      assert.equal(p.nickname, 'Star ★');
      assert.equal(p.followers, 0);
      assert.equal(p.following, 0);
      assert.equal(p.roomId, null);
      assert.equal(p.avatarUrl, null);
      assert.equal(p.role, 'user');
      assert.ok(!Number.isNaN(Date.parse(p.createdAt)));

      const room = await app.http.request('POST', '/api/rooms', { token: streamer.token, json: { title: 'My room' } });
      assert.equal(room.status, 201, JSON.stringify(room.body));
      assert.equal((await profile(streamer.id)).roomId, room.body.room.id);

      const missing = await app.http.request('GET', '/api/users/00000000-0000-4000-8000-000000000000');
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error.code, 'user_not_found');
    });

    test('PATCH /users/me changes the nickname; bad bodies are 400 and change nothing', async () => {
      const me = await app.http.register(uniqueName('nick'), undefined, 'Before');
      const ok = await app.http.request('PATCH', '/api/users/me', { token: me.token, json: { nickname: '  Cafe\u0301 猫  ' } });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.user.nickname, 'Café 猫', 'trimmed and NFC-normalised');
      const sql = "Robert'); DROP TABLE users;--";
      assert.equal((await app.http.request('PATCH', '/api/users/me', { token: me.token, json: { nickname: sql } })).body.user.nickname, sql);

      const bad: unknown[] = [
        {},
        { nickname: '' },
        { nickname: '   ' },
        { nickname: 'x'.repeat(33) },
        { nickname: '😀'.repeat(33) },
        { nickname: 'tab\there' },
        { nickname: 42 },
        { nickname: null },
        { nickname: 'ok', role: 'admin' },
        { username: 'renamed' },
        [],
      ];
      for (const json of bad) {
        const r = await app.http.request('PATCH', '/api/users/me', { token: me.token, json });
        assert.equal(r.status, 400, JSON.stringify(json));
        assert.equal(r.body.error.code, 'validation_failed', JSON.stringify(json));
      }
      for (const avatarUrl of ['https://evil.example/a.webp', `${app.url}/files/../secrets.json`, `${app.url}/files/00000000-0000-4000-8000-000000000000.webp`]) {
        const r = await app.http.request('PATCH', '/api/users/me', { token: me.token, json: { avatarUrl } });
        assert.equal(r.status, 400, avatarUrl);
        assert.equal(r.body.error.code, 'invalid_avatar_url');
      }
      assert.equal((await app.http.request('PATCH', '/api/users/me', { json: { nickname: 'anon' } })).status, 401);
      const after = await profile(me.id);
      assert.equal(after.nickname, sql);
      assert.equal(after.role, 'user');
      assert.equal(after.username, me.username);
      assert.equal(after.avatarUrl, null);
      // still 32 code points is fine, even when each takes two UTF-16 units
      assert.equal((await app.http.request('PATCH', '/api/users/me', { token: me.token, json: { nickname: '😀'.repeat(32) } })).status, 200);
    });

    test('follow and unfollow are idempotent; self-follow and unknown users are refused', async () => {
      const a = await app.http.register(uniqueName('fa'));
      const b = await app.http.register(uniqueName('fb'));
      assert.equal((await follow(a, b.id)).status, 204);
      assert.equal((await follow(a, b.id)).status, 204, 'following twice is not an error');
      assert.equal((await profile(b.id)).followers, 1, '...and counts once');
      assert.equal((await profile(a.id)).following, 1);

      const self = await follow(a, a.id);
      assert.equal(self.status, 400);
      assert.equal(self.body.error.code, 'cannot_follow_self');
      const ghost = await follow(a, '00000000-0000-4000-8000-000000000000');
      assert.equal(ghost.status, 404);
      assert.equal(ghost.body.error.code, 'user_not_found');
      assert.equal((await follow(a, 'not-an-id')).status, 400);
      assert.equal((await app.http.request('PUT', `/api/users/${b.id}/follow`)).status, 401);

      assert.equal((await unfollow(a, b.id)).status, 204);
      assert.equal((await unfollow(a, b.id)).status, 204, 'unfollowing twice is not an error');
      assert.equal((await profile(b.id)).followers, 0);
      assert.equal((await profile(a.id)).following, 0);
      assert.equal((await unfollow(a, a.id)).body.error.code, 'cannot_follow_self');
    });

    test('50 users following at once give exactly 50; 50 unfollowing at once give 0; duplicates count once', async () => {
      const star = await app.http.register(uniqueName('hot'));
      const fans: U[] = [];
      for (let i = 0; i < 50; i++) fans.push(await app.http.register(uniqueName('fan')));

      const follows = await Promise.all(fans.map((f) => follow(f, star.id)));
      assert.deepEqual(new Set(follows.map((r) => r.status)), new Set([204]));
      assert.equal((await profile(star.id)).followers, 50);

      // the same user following many times at once still counts once; following back at the same time does not deadlock
      const dupes = await Promise.all([
        ...Array.from({ length: 10 }, () => follow(fans[0]!, star.id)),
        ...fans.slice(0, 10).map((f) => follow(star, f.id)),
      ]);
      assert.deepEqual(new Set(dupes.map((r) => r.status)), new Set([204]));
      assert.equal((await profile(star.id)).followers, 50);
      assert.equal((await profile(star.id)).following, 10);
      assert.equal((await profile(fans[0]!.id)).followers, 1);

      const unfollows = await Promise.all([...fans.map((f) => unfollow(f, star.id)), ...fans.slice(0, 25).map((f) => unfollow(f, star.id))]);
      assert.deepEqual(new Set(unfollows.map((r) => r.status)), new Set([204]));
      assert.equal((await profile(star.id)).followers, 0);
      for (const f of fans.slice(0, 3)) assert.equal((await profile(f.id)).following, 0);
    });

    test('follower and following lists page with a cursor: newest first, no duplicates, no gaps', async () => {
      const star = await app.http.register(uniqueName('paged'));
      const fans: U[] = [];
      for (let i = 0; i < 23; i++) fans.push(await app.http.register(uniqueName('pf')));
      // some at once (equal timestamps are possible), some one after another
      await Promise.all(fans.slice(0, 12).map((f) => follow(f, star.id)));
      for (const f of fans.slice(12)) assert.equal((await follow(f, star.id)).status, 204);

      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const q: string = cursor ? `?limit=5&cursor=${encodeURIComponent(cursor)}` : '?limit=5';
        const r = await app.http.request('GET', `/api/users/${star.id}/followers${q}`);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.ok(r.body.items.length <= 5);
        for (const item of r.body.items) {
          assert.deepEqual(Object.keys(item).sort(), ['avatarUrl', 'followedAt', 'id', 'nickname', 'role', 'username']);
          seen.push(item.id);
        }
        cursor = r.body.nextCursor;
        pages++;
      } while (cursor && pages < 20);
      assert.equal(pages, 5);
      assert.equal(new Set(seen).size, seen.length, 'no duplicates');
      assert.deepEqual(new Set(seen), new Set(fans.map((f) => f.id)), 'no gaps');
      assert.deepEqual(seen.slice(0, 11), fans.slice(12).reverse().map((f) => f.id), 'newest first');

      // a follow that arrives while paging does not shift what is left
      const first = await app.http.request('GET', `/api/users/${star.id}/followers?limit=10`);
      const late = await app.http.register(uniqueName('late'));
      await follow(late, star.id);
      const rest = await app.http.request('GET', `/api/users/${star.id}/followers?limit=100&cursor=${encodeURIComponent(first.body.nextCursor)}`);
      assert.deepEqual([...first.body.items, ...rest.body.items].map((i: { id: string }) => i.id), seen);

      const following = await app.http.request('GET', `/api/users/${fans[0]!.id}/following`);
      assert.deepEqual(following.body.items.map((i: { id: string }) => i.id), [star.id]);
      assert.equal(following.body.nextCursor, null);
      const none = await app.http.request('GET', `/api/users/${star.id}/following`);
      assert.deepEqual(none.body, { items: [], nextCursor: null });
      const ghost = await app.http.request('GET', '/api/users/00000000-0000-4000-8000-000000000000/followers');
      assert.equal(ghost.status, 404);
      const forged = Buffer.from(JSON.stringify(["2020-01-01'; drop table follows;--", 'x'])).toString('base64url');
      const bad = await app.http.request('GET', `/api/users/${star.id}/followers?cursor=${forged}`);
      assert.equal(bad.status, 400, JSON.stringify(bad.body));
      assert.equal(bad.body.error.code, 'validation_failed');
    });
  });
}
