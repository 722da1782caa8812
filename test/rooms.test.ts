// Rooms over REST, as a streamer's console and a viewer's room list use them.
// The media side (ffmpeg pushing RTMP) has its own tests; here publishes are
// driven through the same domain calls the media supervisor makes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { dbKinds } from './helpers/db.ts';
import { startTestApp, uniqueName, type TestApp } from './helpers/app.ts';
import { adminToken } from './helpers/wallet.ts';
import { eventually } from './helpers/wait.ts';

const ADMIN = { username: 'rooms_admin', password: 'rooms admin passphrase' };

for (const kind of await dbKinds()) {
  describe(`rooms over HTTP (${kind})`, () => {
    let app: TestApp;
    let admin: string;
    before(async () => {
      app = await startTestApp(kind, { ADMIN_USERNAME: ADMIN.username, ADMIN_PASSWORD: ADMIN.password });
      admin = await adminToken(app, ADMIN);
    });
    after(() => app.close());

    const register = (prefix = 'streamer') => app.http.register(uniqueName(prefix));
    const createRoom = async (token: string, json: Record<string, unknown> = { title: 'My room' }) => {
      const r = await app.http.request('POST', '/api/rooms', { token, json });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body as { room: any; ingest: { rtmpUrl: string; server: string; streamKey: string; whipUrl: string | null } };
    };

    test('create: the reply carries the stream key once; the room names itself, never the key', async () => {
      const s = await register();
      const { room, ingest } = await createRoom(s.token, { title: '  晚上好 Evening stream ', description: 'chatting' });
      assert.equal(room.title, '晚上好 Evening stream');
      assert.equal(room.description, 'chatting');
      assert.equal(room.status, 'idle');
      assert.equal(room.online, 0);
      assert.equal(room.streamer.id, s.id);
      assert.match(ingest.streamKey, /^lr_[A-Za-z0-9_-]{32}$/); // 192 random bits
      assert.equal(ingest.rtmpUrl, `${ingest.server}/${ingest.streamKey}`);
      assert.match(ingest.server, /^rtmp:\/\/.+\/live$/);
      assert.ok(room.playback.flv.endsWith(`/live/${room.id}.flv`));
      assert.ok(room.playback.wsFlv.startsWith('ws'));
      assert.ok(room.playback.hls.endsWith(`/hls/${room.id}/index.m3u8`));

      const got = await app.http.request('GET', `/api/rooms/${room.id}`);
      assert.equal(got.status, 200);
      assert.deepEqual(got.body.room, room);
      assert.ok(!JSON.stringify(got.body).includes(ingest.streamKey), 'the key is never shown again');
      const profile = await app.http.request('GET', `/api/users/${s.id}`);
      assert.equal(profile.body.roomId, room.id);
    });

    test('one room per user: a second create is 409 with the existing room id', async () => {
      const s = await register();
      const { room } = await createRoom(s.token);
      const again = await app.http.request('POST', '/api/rooms', { token: s.token, json: { title: 'another' } });
      assert.equal(again.status, 409);
      assert.equal(again.body.error.code, 'room_exists');
      assert.equal(again.body.error.details.roomId, room.id);
      // concurrent creates by one user still make exactly one room
      const t = await register();
      const replies = await Promise.all(Array.from({ length: 5 }, () => app.http.request('POST', '/api/rooms', { token: t.token, json: { title: 'race' } })));
      assert.deepEqual(replies.map((r) => r.status).sort(), [201, 409, 409, 409, 409]);
    });

    test('bad input is a 400 naming the problem and creates nothing', async () => {
      const s = await register();
      const cases: [unknown, string][] = [
        [{}, 'title'],
        [{ title: '   ' }, 'title'],
        [{ title: 'x'.repeat(81) }, 'title'],
        [{ title: 'bell\u0007' }, 'title'],
        [{ title: 'ok', extra: 1 }, 'extra'],
        [{ title: 'ok', record: 'yes' }, 'record'],
      ];
      for (const [json, field] of cases) {
        const r = await app.http.request('POST', '/api/rooms', { token: s.token, json });
        assert.equal(r.status, 400, JSON.stringify(json));
        assert.equal(r.body.error.code, 'validation_failed');
        assert.match(r.body.error.message, new RegExp(field));
      }
      const foreign = await app.http.request('POST', '/api/rooms', { token: s.token, json: { title: 'ok', coverUrl: 'https://evil.example/x.webp' } });
      assert.equal(foreign.status, 400);
      assert.equal(foreign.body.error.code, 'invalid_cover_url');
      assert.equal((await app.http.request('GET', `/api/users/${s.id}`)).body.roomId, null);
      assert.equal((await app.http.request('POST', '/api/rooms', { json: { title: 'no token' } })).status, 401);
      assert.equal((await app.http.request('GET', '/api/rooms/not-an-id')).status, 400);
      const missing = await app.http.request('GET', '/api/rooms/01900000-0000-7000-8000-000000000000');
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error.code, 'room_not_found');
    });

    test('a cover uploaded through /api/files becomes the room cover and preview; someone else\'s cover is refused', async () => {
      const s = await register();
      const other = await register('other');
      const png = await sharp({ create: { width: 640, height: 360, channels: 3, background: '#3366cc' } }).png().toBuffer();
      const upload = async (token: string) => {
        const form = new FormData();
        form.set('kind', 'cover');
        form.set('file', new Blob([new Uint8Array(png)], { type: 'image/png' }), 'cover.png');
        const r = await app.http.request('POST', '/api/files', { token, body: form });
        assert.equal(r.status, 201, JSON.stringify(r.body));
        return r.body.url as string;
      };
      const mine = await upload(s.token);
      const theirs = await upload(other.token);
      const { room } = await createRoom(s.token, { title: 'covered', coverUrl: mine });
      assert.equal(room.coverUrl, mine);
      assert.equal(room.previewUrl, mine);
      const refused = await app.http.request('PATCH', `/api/rooms/${room.id}`, { token: s.token, json: { coverUrl: theirs } });
      assert.equal(refused.status, 400);
      assert.equal(refused.body.error.code, 'invalid_cover_url');
      const cleared = await app.http.request('PATCH', `/api/rooms/${room.id}`, { token: s.token, json: { coverUrl: null } });
      assert.equal(cleared.body.room.coverUrl, null);
      assert.equal(cleared.body.room.previewUrl, null);
    });

    test('only the owner or an admin changes a room; changes are audited', async () => {
      const s = await register();
      const other = await register('other');
      const { room } = await createRoom(s.token);
      const denied = await app.http.request('PATCH', `/api/rooms/${room.id}`, { token: other.token, json: { title: 'mine now' } });
      assert.equal(denied.status, 403);
      assert.equal(denied.body.error.code, 'forbidden');
      const empty = await app.http.request('PATCH', `/api/rooms/${room.id}`, { token: s.token, json: {} });
      assert.equal(empty.status, 400);
      const own = await app.http.request('PATCH', `/api/rooms/${room.id}`, { token: s.token, json: { title: 'Renamed', record: true } });
      assert.equal(own.status, 200);
      assert.equal(own.body.room.title, 'Renamed');
      assert.equal(own.body.room.record, true);
      const byAdmin = await app.http.request('PATCH', `/api/rooms/${room.id}`, { token: admin, json: { description: 'moderated' } });
      assert.equal(byAdmin.status, 200);
      assert.equal(byAdmin.body.room.title, 'Renamed');
      assert.equal(byAdmin.body.room.description, 'moderated');
      const log = await app.http.request('GET', `/api/admin/audit-log?action=room.update&limit=100`, { token: admin });
      assert.equal(log.body.items.filter((e: { target: string }) => e.target === room.id).length, 2);
    });

    test('rotating the key: the old key stops working, the new one works, a live broadcast on the old key ends', async () => {
      const s = await register();
      const { room, ingest } = await createRoom(s.token);
      const broadcasts = app.services.broadcasts;
      assert.deepEqual(await broadcasts.authorizePublish(ingest.streamKey), { ok: true, roomId: room.id, record: false });
      await broadcasts.publishStarted(room.id);
      assert.equal((await app.http.request('GET', `/api/rooms/${room.id}`)).body.room.status, 'live');

      const kicks: string[] = [];
      const off = app.services.events.subscribe('room.kick', (e) => e.roomId === room.id && kicks.push(e.reason));
      const rotated = await app.http.request('POST', `/api/rooms/${room.id}/stream-key`, { token: s.token });
      assert.equal(rotated.status, 201);
      const fresh = rotated.body.ingest.streamKey as string;
      assert.notEqual(fresh, ingest.streamKey);
      assert.deepEqual(await broadcasts.authorizePublish(ingest.streamKey), { ok: false, reason: 'unknown_key' });
      assert.deepEqual(await broadcasts.authorizePublish(fresh), { ok: true, roomId: room.id, record: false });
      await eventually(() => kicks.includes('key_rotated'), 'kick event');
      off();
      const after = (await app.http.request('GET', `/api/rooms/${room.id}`)).body.room;
      assert.equal(after.status, 'ended');
      const sessions = await app.http.request('GET', `/api/rooms/${room.id}/sessions`);
      assert.equal(sessions.body.items[0].endReason, 'key_rotated');
      assert.ok(sessions.body.items[0].endedAt);

      const other = await register('other');
      assert.equal((await app.http.request('POST', `/api/rooms/${room.id}/stream-key`, { token: other.token })).status, 403);
    });

    test('rotating the key while an encoder is being let in on the old one (authorized, not live yet) disconnects it', async () => {
      const s = await register();
      const { room, ingest } = await createRoom(s.token);
      // the media side asked and got a yes; its publishStarted has not landed yet
      assert.equal((await app.services.broadcasts.authorizePublish(ingest.streamKey)).ok, true);
      const kicks: string[] = [];
      const off = app.services.events.subscribe('room.kick', (e) => e.roomId === room.id && kicks.push(e.reason));
      try {
        assert.equal((await app.http.request('POST', `/api/rooms/${room.id}/stream-key`, { token: s.token })).status, 201);
        await eventually(() => kicks.includes('key_rotated'), 'a kick for the publisher on the old key');
      } finally {
        off();
      }
    });

    test('the owner reads the ingest server again without the key; others cannot', async () => {
      const s = await register();
      const { room, ingest } = await createRoom(s.token);
      const r = await app.http.request('GET', `/api/rooms/${room.id}/ingest`, { token: s.token });
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, { ingest: { server: ingest.server, whipUrl: ingest.whipUrl } });
      assert.ok(!JSON.stringify(r.body).includes(ingest.streamKey), 'the key is never shown again');
      const other = await register('other');
      assert.equal((await app.http.request('GET', `/api/rooms/${room.id}/ingest`, { token: other.token })).body.error.code, 'forbidden');
      assert.equal((await app.http.request('GET', `/api/rooms/${room.id}/ingest`)).status, 401);
      assert.equal((await app.http.request('GET', `/api/rooms/00000000-0000-7000-8000-000000000000/ingest`, { token: s.token })).status, 404);
    });

    test('keys that cannot be right are refused without a lookup; a second publisher is refused while one is live', async () => {
      const s = await register();
      const { room, ingest } = await createRoom(s.token);
      for (const key of ['', 'lr_short', `${ingest.streamKey}x`, '../../etc/passwd', ingest.streamKey.toUpperCase()])
        assert.equal((await app.services.broadcasts.authorizePublish(key)).ok, false, key);
      await app.services.broadcasts.publishStarted(room.id);
      assert.deepEqual(await app.services.broadcasts.authorizePublish(ingest.streamKey), { ok: false, reason: 'already_live' });
      // a media restart interrupts the broadcast: the publisher may come back on the same key
      await app.services.broadcasts.interrupt([room.id]);
      const interrupted = (await app.http.request('GET', `/api/rooms/${room.id}`)).body.room;
      assert.equal(interrupted.status, 'live');
      assert.equal(interrupted.interrupted, true);
      assert.equal((await app.services.broadcasts.authorizePublish(ingest.streamKey)).ok, true);
      await app.services.broadcasts.publishStarted(room.id);
      const resumed = await app.http.request('GET', `/api/rooms/${room.id}/sessions`);
      assert.equal(resumed.body.items.length, 1, 'a resumed broadcast is the same session');
      assert.equal(resumed.body.items[0].endedAt, null);
      await app.services.broadcasts.publishStopped(room.id, 'streamer_stopped');
      assert.equal((await app.http.request('GET', `/api/rooms/${room.id}/sessions`)).body.items[0].endReason, 'streamer_stopped');
    });

    test('end: the owner or an admin ends a live broadcast (publisher kicked); others are refused', async () => {
      const s = await register();
      const other = await register('other');
      const { room } = await createRoom(s.token);
      await app.services.broadcasts.publishStarted(room.id);
      const statuses: string[] = [];
      const off = app.services.events.subscribe('room.status', (e) => e.roomId === room.id && statuses.push(e.status));
      assert.equal((await app.http.request('POST', `/api/rooms/${room.id}/end`, { token: other.token })).status, 403);
      assert.equal((await app.http.request('GET', `/api/rooms/${room.id}`)).body.room.status, 'live');
      assert.equal((await app.http.request('POST', `/api/rooms/${room.id}/end`, { token: s.token })).status, 204);
      await eventually(() => statuses.includes('ended'), 'room.status ended');
      assert.equal((await app.http.request('GET', `/api/rooms/${room.id}/sessions`)).body.items[0].endReason, 'ended_by_owner');
      // ending again changes nothing
      assert.equal((await app.http.request('POST', `/api/rooms/${room.id}/end`, { token: s.token })).status, 204);
      await app.services.broadcasts.publishStarted(room.id);
      assert.equal((await app.http.request('POST', `/api/rooms/${room.id}/end`, { token: admin })).status, 204);
      const sessions = (await app.http.request('GET', `/api/rooms/${room.id}/sessions`)).body.items;
      assert.deepEqual(sessions.map((x: { endReason: string }) => x.endReason), ['ended_by_admin', 'ended_by_owner']);
      off();
    });

    test('an ended broadcast keeps its key out (an auto-reconnecting encoder cannot restart it) until the key is rotated', async () => {
      const s = await register();
      const { room, ingest } = await createRoom(s.token);
      const broadcasts = app.services.broadcasts;
      await broadcasts.publishStarted(room.id);
      assert.equal((await app.http.request('POST', `/api/rooms/${room.id}/end`, { token: s.token })).status, 204);
      assert.deepEqual(await broadcasts.authorizePublish(ingest.streamKey), { ok: false, reason: 'ended' });
      // a streamer who merely stopped pushing is not blocked: only an explicit end is
      const other = await register('stopper');
      const second = await createRoom(other.token);
      await broadcasts.publishStarted(second.room.id);
      await broadcasts.publishStopped(second.room.id, 'streamer_stopped');
      assert.equal((await broadcasts.authorizePublish(second.ingest.streamKey)).ok, true);
      // rotating gives a key that works at once
      const rotated = await app.http.request('POST', `/api/rooms/${room.id}/stream-key`, { token: s.token });
      assert.deepEqual(await broadcasts.authorizePublish(rotated.body.ingest.streamKey), { ok: true, roomId: room.id, record: false });
    });

    test('the list: live rooms first by online count, then the rest; cursor pages have no gaps or repeats', async () => {
      const made: { id: string; online: number; live: boolean }[] = [];
      for (let i = 0; i < 7; i++) {
        const s = await register('lister');
        const { room } = await createRoom(s.token, { title: `list ${i}` });
        const live = i % 2 === 0;
        const online = live ? 1000 + i * 10 : 0;
        if (live) {
          await app.services.broadcasts.publishStarted(room.id);
          await app.services.broadcasts.reportOnline(room.id, online);
        }
        made.push({ id: room.id, online, live });
      }
      const seen: any[] = [];
      let cursor: string | null = null;
      do {
        const q: string = `/api/rooms?status=live&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
        const page = await app.http.request('GET', q);
        assert.equal(page.status, 200);
        assert.ok(page.body.items.length <= 2);
        seen.push(...page.body.items);
        cursor = page.body.nextCursor;
      } while (cursor);
      assert.equal(new Set(seen.map((r) => r.id)).size, seen.length, 'no repeats');
      assert.ok(seen.every((r) => r.status === 'live'));
      for (let i = 1; i < seen.length; i++) assert.ok(seen[i - 1].online >= seen[i].online, 'busiest first');
      const mineLive = made.filter((m) => m.live).sort((a, b) => b.online - a.online).map((m) => m.id);
      assert.deepEqual(seen.filter((r) => mineLive.includes(r.id)).map((r) => r.id), mineLive);

      const all = await app.http.request('GET', '/api/rooms?limit=100');
      const firstIdle = all.body.items.findIndex((r: { status: string }) => r.status !== 'live');
      assert.ok(firstIdle > 0 && all.body.items.slice(firstIdle).every((r: { status: string }) => r.status !== 'live'), 'live rooms come first');
      assert.equal((await app.http.request('GET', '/api/rooms?status=bogus')).status, 400);
      assert.equal((await app.http.request('GET', '/api/rooms?cursor=garbage')).status, 400);

      const peak = (await app.http.request('GET', `/api/rooms/${made[6]!.id}/sessions`)).body.items[0];
      assert.equal(peak.peakOnline, 1060);
    });

    test('a tampered cursor is a 400 on every room list, never a 500', async () => {
      const s = await register();
      const { room } = await createRoom(s.token);
      const cursor = (key: unknown[]) => Buffer.from(JSON.stringify(key)).toString('base64url');
      const id = room.id as string;
      const cases: [string, unknown[]][] = [
        ['/api/rooms', [1, 1.5, id]], // not an integer count
        ['/api/rooms', [1, 2 ** 31, id]], // past int4
        ['/api/rooms', [1e300, 0, id]],
        ['/api/rooms', [1, 0, 'a\u0000b']], // PostgreSQL text cannot hold NUL
        [`/api/rooms/${id}/sessions`, ['a\u0000b']],
        [`/api/rooms/${id}/recordings`, ['a\u0000b']],
      ];
      for (const [path, key] of cases) {
        const r = await app.http.request('GET', `${path}?cursor=${cursor(key)}`);
        assert.equal(r.status, 400, `${path} ${JSON.stringify(key)}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error.code, 'validation_failed');
      }
      // the cursors the server hands out still work
      const first = await app.http.request('GET', '/api/rooms?limit=1');
      assert.equal((await app.http.request('GET', `/api/rooms?limit=1&cursor=${first.body.nextCursor}`)).status, 200);
    });
  });
}
