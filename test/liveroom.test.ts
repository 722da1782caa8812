// The live room over real WebSockets with the client SDK: joining, chat,
// moderation, status events, reconnection, restart and disposal.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { matchMaker } from '@colyseus/core';
import { Client } from '@colyseus/sdk';
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { LiveroomClient, LiveroomError, type LiveRoomConnection } from '../src/client/index.ts';
import { loadConfig } from '../src/config.ts';
import { createChat } from '../src/domain/chat.ts';
import { DomainError } from '../src/domain/errors.ts';
import { createLogger } from '../src/logger.ts';
import { startLiveroom, type Liveroom } from '../src/server.ts';
import { httpClient, startTestApp, uniqueName, type TestApp } from './helpers/app.ts';
import { dbKinds, openTestDatabase } from './helpers/db.ts';
import { anonymous, newUser, next, texts, until, type TestUser } from './helpers/live.ts';
import { eventually } from './helpers/wait.ts';
import { createRoom } from './helpers/wallet.ts';

const ENV = { SIGNUP_BONUS: '1000', REGISTER_PER_IP_PER_HOUR: '1000', CHAT_MAX_LENGTH: '50', CHAT_RATE_POINTS: '100', ROOM_RECONNECT_SEC: '30' };

for (const kind of await dbKinds()) {
  describe(`live room (${kind})`, () => {
    let app: TestApp;
    const open: LiveRoomConnection[] = [];
    const join = async (client: TestUser['client'], roomId: string) => {
      const conn = await client.joinRoom(roomId);
      open.push(conn);
      return conn;
    };
    before(async () => {
      app = await startTestApp(kind, ENV);
    });
    after(async () => {
      await Promise.allSettled(open.filter((c) => c.room.connection.isOpen).map((c) => c.leave()));
      await app.close();
    });

    test('two users and an anonymous viewer join and see the chat in order; anonymous chat is refused', async () => {
      const streamer = await newUser(app, 'streamer');
      const bob = await newUser(app, 'bob');
      const roomId = await createRoom(app, streamer);
      const s = await join(streamer.client, roomId);
      const b = await join(bob.client, roomId);
      const anon = await join(anonymous(app), roomId);
      const all = [s, b, anon];
      for (const c of all) await until(c, () => c.state.online === 3, 'online = 3');
      assert.equal(anon.state.roomId, roomId);
      assert.equal(anon.state.streamer.id, streamer.id);
      assert.equal(anon.state.status, 'idle');

      for (const text of ['one', '  two  ', 'three']) b.chat(text);
      for (const c of all) await until(c, () => c.state.chat.length === 3, 'three lines');
      s.chat('four');
      for (const c of all) await until(c, () => c.state.chat.length === 4, 'four lines');
      for (const c of all) assert.deepEqual(texts(c), ['one', 'two', 'three', 'four']);
      const line = anon.state.chat[0]!;
      assert.equal(line.userId, bob.id);
      assert.equal(line.nickname, bob.username);
      assert.ok(line.id && !Number.isNaN(Date.parse(line.at)));

      const refused = next(anon, 'error');
      anon.chat('hi from nobody');
      assert.equal((await refused).code, 'unauthorized');
      b.chat('after');
      await until(anon, () => anon.state.chat.length === 5, 'five lines');
      assert.ok(!texts(anon).includes('hi from nobody'));
      assert.ok(!texts(s).includes('hi from nobody'));

      const stored = await app.services.chat.recent(roomId, 10);
      assert.deepEqual(stored.map((m) => m.text), ['one', 'two', 'three', 'four', 'after']);
    });

    test('bad chat text gets a validation error to the sender only and changes nothing', async () => {
      const streamer = await newUser(app, 'streamer');
      const bob = await newUser(app, 'bob');
      const roomId = await createRoom(app, streamer);
      const s = await join(streamer.client, roomId);
      const b = await join(bob.client, roomId);
      let streamerErrors = 0;
      s.on('error', () => streamerErrors++);
      for (const bad of ['   ', 'bell\u0007', 'x'.repeat(51), 'rtl\u202eoverride']) {
        const err = next(b, 'error');
        b.chat(bad);
        assert.equal((await err).code, 'validation_failed', JSON.stringify(bad));
      }
      const err = next(b, 'error');
      b.room.send('chat', { text: 42 });
      assert.equal((await err).code, 'validation_failed');
      const err2 = next(b, 'error');
      b.room.send('mod:mute', { userId: streamer.id });
      assert.equal((await err2).code, 'validation_failed');
      b.chat('x'.repeat(50));
      await until(s, () => s.state.chat.length === 1, 'the valid line');
      assert.equal(streamerErrors, 0);
      assert.equal((await app.services.chat.recent(roomId, 10)).length, 1);
    });

    test('odd ids (NUL bytes, lone surrogates) in a join or a message are refused as such, never as a database error', async () => {
      const streamer = await newUser(app, 'streamer');
      const roomId = await createRoom(app, streamer);
      for (const bad of ['a\u0000b', `${roomId}\u0000`, '\ud800']) {
        for (const client of [streamer.client, anonymous(app)])
          await assert.rejects(client.joinRoom(bad), (e: unknown) => e instanceof LiveroomError && e.status === 404 && !/select|from/i.test(e.message), JSON.stringify(bad));
      }
      const s = await join(streamer.client, roomId);
      let internal = 0;
      s.on('error', (e) => void (e.code === 'internal_error' && internal++));
      for (const [type, msg] of [
        ['mod:ban', { userId: 'x\u0000' }],
        ['mod:mute', { userId: 'x\u0000', seconds: 60 }],
        ['mod:delete', { messageId: 'x\u0000' }],
        ['lottery:enter', { lotteryId: 'x\u0000' }],
      ] as const) {
        const err = next(s, 'error');
        s.room.send(type, msg);
        assert.equal((await err).code, 'validation_failed', type);
      }
      assert.equal(internal, 0);
    });

    test('moderation: slow mode, followers-only, mute, delete and ban by the streamer; others are refused', async () => {
      const streamer = await newUser(app, 'streamer');
      const bob = await newUser(app, 'bob');
      const carol = await newUser(app, 'carol');
      const roomId = await createRoom(app, streamer);
      const s = await join(streamer.client, roomId);
      const b = await join(bob.client, roomId);
      const c = await join(carol.client, roomId);

      // only the streamer (or an admin) moderates
      const forbidden = next(b, 'error');
      b.setSlowMode(30);
      assert.equal((await forbidden).code, 'forbidden');

      // slow mode
      const ok = next(s, 'mod:ok');
      s.setSlowMode(60);
      assert.equal((await ok).action, 'slow');
      await until(b, () => b.state.chatMode.slowSec === 60, 'slow mode in state');
      b.chat('first');
      await until(b, () => texts(b).includes('first'), 'first');
      const slow = next(b, 'error');
      b.chat('second');
      const slowErr = await slow;
      assert.equal(slowErr.code, 'slow_mode');
      assert.ok(slowErr.retryAfterSec! > 0);
      s.chat('streamer 1');
      s.chat('streamer 2'); // the streamer is not slowed
      await until(b, () => texts(b).includes('streamer 2'), 'streamer lines');
      s.setSlowMode(0);
      await until(b, () => b.state.chatMode.slowSec === 0, 'slow mode off');

      // followers-only
      s.setFollowersOnly(true);
      await until(c, () => c.state.chatMode.followersOnly, 'followers-only in state');
      const notFollower = next(c, 'error');
      c.chat('let me in');
      assert.equal((await notFollower).code, 'followers_only');
      await carol.client.follow(streamer.id);
      c.chat('now following');
      await until(s, () => texts(s).includes('now following'), 'follower line');
      s.setFollowersOnly(false);
      await until(c, () => !c.state.chatMode.followersOnly, 'followers-only off');

      // mute
      const muteNotice = next(b, 'system');
      s.mute(bob.id, 120);
      await muteNotice;
      const muted = next(b, 'error');
      b.chat('am I muted');
      assert.equal((await muted).code, 'muted');

      // delete: gone from everyone's state and from history
      c.chat('delete me');
      await until(s, () => texts(s).includes('delete me'), 'line to delete');
      const victim = s.state.chat.find((l) => l.text === 'delete me')!;
      const notMine = next(b, 'error');
      b.deleteMessage(victim.id);
      assert.equal((await notMine).code, 'forbidden');
      s.deleteMessage(victim.id);
      for (const conn of [s, b, c]) await until(conn, () => !texts(conn).includes('delete me'), 'line deleted');
      assert.ok(!(await app.services.chat.recent(roomId, 50)).some((m) => m.id === victim.id));
      const missing = next(s, 'error');
      s.deleteMessage(victim.id);
      assert.equal((await missing).code, 'message_not_found');

      // ban: the user is removed and cannot come back
      const kicked = new Promise<number>((resolve) => c.onLeave((code) => resolve(code)));
      s.ban(carol.id);
      assert.equal(await kicked, 4403);
      assert.equal(await c.leave(), 4403, 'leaving a closed connection answers at once');
      await until(s, () => s.state.online === 2, 'online after ban');
      await assert.rejects(carol.client.joinRoom(roomId), (e: unknown) => e instanceof LiveroomError && e.code === 'banned' && e.status === 403);

      const audit = await app.services.audit.list({ limit: 50 });
      const actions = audit.items.filter((a) => a.actorId === streamer.id).map((a) => `${a.action}:${a.target}`);
      for (const want of [`chat.slow_mode:${roomId}`, `chat.followers_only:${roomId}`, `chat.mute:${bob.id}`, `chat.delete:${victim.id}`, `chat.ban:${carol.id}`])
        assert.ok(actions.includes(want), `audit has ${want}`);
    });

    test('slow mode holds against messages sent back to back, with and without followers-only', async () => {
      const streamer = await newUser(app, 'streamer');
      const roomId = await createRoom(app, streamer);
      const s = await join(streamer.client, roomId);
      s.setSlowMode(60);
      for (const followersOnly of [false, true]) {
        if (followersOnly) s.setFollowersOnly(true);
        // a fresh follower each round: slow mode counts from a user's last line
        const fan = await newUser(app, 'fan');
        await fan.client.follow(streamer.id);
        const f = await join(fan.client, roomId);
        await until(f, () => f.state.chatMode.slowSec === 60 && f.state.chatMode.followersOnly === followersOnly, 'chat mode in state');
        const refused: string[] = [];
        const allRefused = new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`timed out waiting for 4 refusals, got ${refused.join(',') || 'none'}`)), 10_000);
          const off = f.on('error', (e) => {
            refused.push(e.code);
            if (refused.length < 4) return;
            clearTimeout(timer);
            resolve(off());
          });
        });
        const tag = followersOnly ? 'fo' : 'plain';
        for (let i = 0; i < 5; i++) f.chat(`${tag} burst ${i}`);
        await allRefused;
        assert.deepEqual(refused, ['slow_mode', 'slow_mode', 'slow_mode', 'slow_mode']);
        await until(s, () => texts(s).includes(`${tag} burst 0`), 'the first line');
        // a marker from the streamer (not slowed) after the burst: every burst line would be in by then
        s.chat(`${tag} marker`);
        await until(s, () => texts(s).includes(`${tag} marker`), 'the marker');
        assert.deepEqual(texts(s).filter((t) => t.startsWith(`${tag} burst`)), [`${tag} burst 0`]);
        const stored = (await app.services.chat.recent(roomId, 20)).filter((m) => m.userId === fan.id);
        assert.deepEqual(stored.map((m) => m.text), [`${tag} burst 0`]);
      }
    });

    test('a banned viewer cannot come back with the reconnection token of the kicked session', async () => {
      const streamer = await newUser(app, 'streamer');
      const carol = await newUser(app, 'carol');
      const roomId = await createRoom(app, streamer);
      const s = await join(streamer.client, roomId);
      const c = await join(carol.client, roomId);
      await until(s, () => s.state.online === 2, 'two online');
      const reconnectionToken = c.room.reconnectionToken;
      const kicked = new Promise<number>((resolve) => c.onLeave((code) => resolve(code)));
      s.ban(carol.id);
      assert.equal(await kicked, 4403);
      await assert.rejects(new Client(app.url).reconnect(reconnectionToken));
      await until(s, () => s.state.online === 1, 'the banned seat is not kept');
      await eventually(() => matchMaker.getLocalRoomById(roomId)!.clients.length === 1, 'one client in the room');
    });

    test('logging out ends the room sessions opened with that token, and they get no seat back', async () => {
      const streamer = await newUser(app, 'streamer');
      const bob = await newUser(app, 'bob');
      const roomId = await createRoom(app, streamer);
      const s = await join(streamer.client, roomId);
      const b = await join(bob.client, roomId);
      await until(s, () => s.state.online === 2, 'two online');
      const watched = app.rooms!.events.watchedTokens();
      const reconnectionToken = b.room.reconnectionToken;
      const ended = new Promise<number>((resolve) => b.onLeave((code) => resolve(code)));
      await bob.client.logout();
      assert.equal(await ended, 4401);
      await assert.rejects(new Client(app.url).reconnect(reconnectionToken));
      await until(s, () => s.state.online === 1, 'the signed-out session is gone');
      assert.equal(app.rooms!.events.watchedTokens(), watched - 1, 'its revocation watch is gone');
      // the streamer's own session is untouched
      s.chat('still here');
      await until(s, () => texts(s).includes('still here'), 'streamer chat');
    });

    test('a room session ends when its token expires (close code 4401), even though it joined while the token was valid', async () => {
      const streamer = await newUser(app, 'streamer');
      const carol = await newUser(app, 'carol');
      const roomId = await createRoom(app, streamer);
      // a token of carol's that expires in 3 s, signed like every token of this server
      const shortLived = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(carol.id)
        .setJti(randomUUID())
        .setIssuedAt()
        .setExpirationTime(Math.floor(Date.now() / 1000) + 3)
        .sign(new TextEncoder().encode(app.config.jwtSecret));
      const c = await new LiveroomClient({ baseUrl: app.url, token: shortLived }).joinRoom(roomId);
      const ended = new Promise<number>((resolve) => c.onLeave((code) => resolve(code)));
      c.chat('before it expires');
      await until(c, () => texts(c).includes('before it expires'), 'chat while the token holds');
      assert.equal(await ended, 4401);
    });

    test('an admin moderates any room; a revoked token is refused; a bad token joins as anonymous', async () => {
      const streamer = await newUser(app, 'streamer');
      const dave = await newUser(app, 'dave');
      const adminName = uniqueName('admin');
      await app.services.users.ensureAdmin(adminName, 'a long admin passphrase', { actorId: null, ip: null });
      const admin = anonymous(app);
      await admin.login(adminName, 'a long admin passphrase');
      const roomId = await createRoom(app, streamer);
      const a = await join(admin, roomId);
      const d = await join(dave.client, roomId);
      const ok = next(a, 'mod:ok');
      a.mute(dave.id, 60);
      assert.equal((await ok).action, 'mute');
      const muted = next(d, 'error');
      d.chat('hello');
      assert.equal((await muted).code, 'muted');

      const eve = await newUser(app, 'eve');
      await eve.client.request('POST', '/auth/logout');
      await assert.rejects(eve.client.joinRoom(roomId), (e: unknown) => e instanceof LiveroomError && e.code === 'unauthorized');

      const junk = anonymous(app);
      junk.token = 'not-a-token';
      const j = await join(junk, roomId);
      const refused = next(j, 'error');
      j.chat('hi');
      assert.equal((await refused).code, 'unauthorized');
    });

    test('chat rate limit per user per room (domain rules)', async () => {
      const chat = createChat({
        db: app.database.db,
        follows: app.services.follows,
        users: app.services.users,
        settings: { maxLength: 50, history: 10, ratePoints: 2, rateWindowSec: 60, slowMaxSec: 60, muteMaxSec: 60 },
      });
      const streamer = await newUser(app, 'streamer');
      const bob = await newUser(app, 'bob');
      const room = await chat.open({ id: await createRoom(app, streamer), streamerId: streamer.id });
      const asBob = { id: bob.id, nickname: bob.username, role: 'user' as const };
      await room.post(asBob, 'one');
      await room.post(asBob, 'two');
      await assert.rejects(room.post(asBob, 'three'), (e: unknown) => e instanceof DomainError && e.code === 'rate_limited' && Number(e.details?.retryAfterSec) > 0);
      // another user is not affected
      await room.post({ id: streamer.id, nickname: 's', role: 'user' }, 'mine');
      assert.deepEqual((await chat.recent(room.roomId, 10)).map((m) => m.text), ['one', 'two', 'mine']);
    });

    test('a client flooding the room with messages is disconnected', async () => {
      const streamer = await newUser(app, 'streamer');
      const bob = await newUser(app, 'bob');
      const roomId = await createRoom(app, streamer);
      const s = await join(streamer.client, roomId);
      const b = await join(bob.client, roomId);
      b.room.reconnection.enabled = false;
      const left = new Promise<number>((resolve) => b.onLeave((code) => resolve(code)));
      for (let i = 0; i < 100; i++) b.room.send('mod:slow', { seconds: 'not a number' });
      assert.notEqual(await left, 1000);
      await until(s, () => s.state.online === 1, 'flooder gone');
    });

    test('a gift paid over REST shows in the gift feed, the gift broadcast and the top fans', async () => {
      const streamer = await newUser(app, 'streamer');
      const bob = await newUser(app, 'bob');
      const roomId = await createRoom(app, streamer);
      const s = await join(streamer.client, roomId);
      const anon = await join(anonymous(app), roomId);
      const broadcast = next(anon, 'gift');
      const paid = await bob.client.sendGift(roomId, { giftId: 'rose', count: 3 }, `k-${roomId}`);
      const g = await broadcast;
      assert.equal(g.id, paid.giftEventId);
      assert.deepEqual({ userId: g.userId, giftId: g.giftId, count: g.count, amount: g.amount }, { userId: bob.id, giftId: 'rose', count: 3, amount: 30 });
      for (const c of [s, anon]) {
        await until(c, () => c.state.gifts.length === 1 && c.state.topFans.length === 1, 'gift feed and top fans');
        assert.equal(c.state.gifts[0]!.nickname, bob.username);
        assert.deepEqual({ ...c.state.topFans[0]!.toJSON() }, { userId: bob.id, nickname: bob.username, amount: 30 });
      }
    });

    test('repeated gifts of one kind by one user show as one combo with a running count; another gift starts its own line', async () => {
      const streamer = await newUser(app, 'streamer');
      const bob = await newUser(app, 'bob');
      const roomId = await createRoom(app, streamer);
      const v = await join(anonymous(app), roomId);
      const combos: number[] = [];
      v.on('gift', (g) => g.giftId === 'rose' && combos.push(g.comboCount));
      for (let i = 1; i <= 3; i++) {
        await bob.client.sendGift(roomId, { giftId: 'rose', count: 2 }, `combo-${roomId}-${i}`);
        await until(v, () => v.state.gifts[0]?.combo === i, `combo ${i}`);
      }
      await bob.client.sendGift(roomId, { giftId: 'heart', count: 1 }, `combo-${roomId}-heart`);
      await until(v, () => v.state.gifts.length === 2, 'a second line for another gift');
      const [rose, heart] = v.state.gifts.map((l) => l.toJSON());
      assert.deepEqual({ giftId: rose!.giftId, count: rose!.count, amount: rose!.amount, combo: rose!.combo }, { giftId: 'rose', count: 6, amount: 60, combo: 3 });
      assert.deepEqual({ giftId: heart!.giftId, count: heart!.count, combo: heart!.combo }, { giftId: 'heart', count: 1, combo: 1 });
      await eventually(() => combos.length === 3, 'three rose broadcasts');
      assert.deepEqual(combos, [2, 4, 6], 'each broadcast carries the running count');
    });

    test('status follows room.status events; an empty idle room is disposed and leaves no timers or subscriptions', async () => {
      const streamer = await newUser(app, 'streamer');
      const roomId = await createRoom(app, streamer);
      const v = await join(anonymous(app), roomId);
      const room = matchMaker.getLocalRoomById(roomId);
      assert.ok(room, 'the room runs in this process');
      const publish = (status: 'idle' | 'live' | 'ended') => app.services.events.publish('room.status', { roomId, status, at: new Date().toISOString() });
      await publish('live');
      await until(v, () => v.state.status === 'live', 'live');
      await publish('ended');
      await until(v, () => v.state.status === 'ended', 'ended');
      assert.equal(app.rooms!.events.size(roomId), 7, 'status, updated, gift and four lottery handlers');

      await v.leave();
      await eventually(() => matchMaker.getLocalRoomById(roomId) === undefined, 'room disposed');
      assert.equal(room.clock.delayed.length, 0, 'no clock timers left');
      assert.equal(room.clock.running, false);
      assert.equal(app.rooms!.events.size(roomId), 0, 'no event handlers left');
    });

    test('a live room stays open while empty and closes when the stream ends', async () => {
      const streamer = await newUser(app, 'streamer');
      const roomId = await createRoom(app, streamer);
      const v = await join(streamer.client, roomId);
      await app.services.events.publish('room.status', { roomId, status: 'live', at: new Date().toISOString() });
      await until(v, () => v.state.status === 'live', 'live');
      await v.leave();
      // joinById (docs/api.md) only finds an existing room: the live room was kept
      const again = await new Client(app.url).joinById(roomId);
      assert.equal(again.roomId, roomId);
      await again.leave();
      assert.ok(matchMaker.getLocalRoomById(roomId), 'kept while live');
      await app.services.events.publish('room.status', { roomId, status: 'idle', at: new Date().toISOString() });
      await eventually(() => matchMaker.getLocalRoomById(roomId) === undefined, 'disposed once idle');
    });

    test('a dropped connection reconnects into the same seat', async () => {
      const streamer = await newUser(app, 'streamer');
      const bob = await newUser(app, 'bob');
      const roomId = await createRoom(app, streamer);
      const s = await join(streamer.client, roomId);
      const b = await join(bob.client, roomId);
      await until(s, () => s.state.online === 2, 'two online');
      const sessionId = b.sessionId;
      b.room.reconnection.minUptime = 0;
      b.room.reconnection.minDelay = 10;
      const reconnected = new Promise<void>((resolve) => b.onReconnect(resolve));
      // a network failure, not a goodbye: the socket just dies
      const server = matchMaker.getLocalRoomById(roomId)!;
      (server.clients.find((c) => c.sessionId === sessionId)!.ref as unknown as { terminate(): void }).terminate();
      await reconnected;
      assert.equal(b.sessionId, sessionId);
      assert.ok(server.clients.some((c) => c.sessionId === sessionId), 'the server kept the seat');
      b.chat('back again');
      await until(s, () => texts(s).includes('back again'), 'chat after reconnect');
      await until(s, () => s.state.online === 2, 'two online after reconnect');
    });
  });

  describe(`live room restart (${kind})`, () => {
    test('chat history and chat mode survive a restart on the same database', async () => {
      const database = await openTestDatabase(kind);
      const dataDir = await mkdtemp(path.join(tmpdir(), 'liveroom-restart-'));
      const start = () =>
        startLiveroom(
          loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'silent', JWT_SECRET: 'test-secret-test-secret-test-secret-0123', ROLES: 'http,rooms,jobs', ...ENV }),
          { database, logger: createLogger('silent') },
        );
      let live: Liveroom | undefined;
      try {
        live = await start();
        const first = { url: live.url, http: httpClient(live.url) };
        const streamer = await newUser(first, 'streamer');
        const roomId = await createRoom({ ...live, http: first.http, dataDir } as TestApp, streamer);
        const s = await streamer.client.joinRoom(roomId);
        for (const text of ['before', 'the', 'restart']) s.chat(text);
        s.setSlowMode(5);
        await until(s, () => s.state.chat.length === 3 && s.state.chatMode.slowSec === 5, 'lines and slow mode');
        await live.close();

        live = await start();
        const again = anonymous({ url: live.url });
        const v = await again.joinRoom(roomId);
        assert.deepEqual(texts(v), ['before', 'the', 'restart']);
        assert.equal(v.state.chatMode.slowSec, 5);
        await v.leave();
      } finally {
        await live?.close();
        await database.close();
        await rm(dataDir, { recursive: true, force: true });
      }
    });
  });
}
