// The live room's parts driven in memory, the way tldraw tests its room
// against a minimal socket: viewers are plain objects that record what the
// room sends them, the domain services are fakes, and the state is the real
// schema every client would receive. No server, socket or database: each test
// takes milliseconds. (@colyseus/testing boots a listening server and connects
// SDK clients over WebSocket, so it is not used here; test/liveroom.test.ts
// drives the whole room that way.)
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LocalPresence, ServerError } from '@colyseus/core';
import type { ChatMessage, ChatRoom, ChatUser, ModerationChange } from '../src/domain/chat.ts';
import { DomainError } from '../src/domain/errors.ts';
import type { EventMap } from '../src/domain/events.ts';
import { keywordMatches } from '../src/domain/lottery-keyword.ts';
import { chatHandlers, relayedChat, showChat } from '../src/rooms/chat-handlers.ts';
import { GiftFeed } from '../src/rooms/gift-feed.ts';
import { RoomLotteryView, type LiveRoomLotteries, type LiveRoomLottery } from '../src/rooms/lottery-view.ts';
import type { LiveRoomBroadcasts, LotteryResult } from '../src/rooms/messages.ts';
import { OnlineCount, patchIntervalMs } from '../src/rooms/online-count.ts';
import { ShardRelay, type RelayPresence } from '../src/rooms/shard-relay.ts';
import { LiveRoomState } from '../src/rooms/state.ts';
import { topFansBoard } from '../src/rooms/top-fans.ts';
import { authenticateViewer, CLOSE_BANNED, SessionRevocations, type ViewerUser } from '../src/rooms/viewer-auth.ts';
import { messageReceiver, type MessageHandlers, type Viewer } from '../src/rooms/viewer-messages.ts';

type Sent = { [K in keyof LiveRoomBroadcasts]: [K, LiveRoomBroadcasts[K]] }[keyof LiveRoomBroadcasts];

/** A viewer's connection that records what it is sent, and whether (and how) it was closed. */
function viewer(user: ViewerUser | null, sessionId = `s-${user?.id ?? 'anon'}-${Math.random()}`) {
  const sent: Sent[] = [];
  const waiting: { type: string; resolve: (m: unknown) => void }[] = [];
  const v = {
    sessionId,
    auth: { user, ip: '203.0.113.7' },
    sent,
    closed: undefined as { code?: number; reason?: string } | undefined,
    send(type, message) {
      sent.push([type, message] as Sent);
      for (const w of waiting.splice(0)) if (w.type === type) w.resolve(message);
      else waiting.push(w);
    },
    leave(code, reason) {
      v.closed = { code, reason };
    },
    /** What it was sent of `type`. */
    got<K extends keyof LiveRoomBroadcasts>(type: K): LiveRoomBroadcasts[K][] {
      return sent.filter((s) => s[0] === type).map((s) => s[1] as LiveRoomBroadcasts[K]);
    },
    /** The next message of `type` it is sent. */
    next<K extends keyof LiveRoomBroadcasts>(type: K): Promise<LiveRoomBroadcasts[K]> {
      return new Promise((resolve) => waiting.push({ type, resolve: resolve as (m: unknown) => void }));
    },
  } satisfies Viewer & Record<string, unknown>;
  return v;
}

const user = (id: string, role: 'user' | 'admin' = 'user'): ViewerUser => ({ id, nickname: `${id}-nick`, role, avatarUrl: null });
const streamer = user('streamer');
const alice = user('alice');
const bob = user('bob');

/** A chat room that accepts what a signed-in user says, as it says it, and lets the streamer moderate. */
function fakeChatRoom(over: Partial<ChatRoom> = {}): ChatRoom {
  let n = 0;
  const mode = { slowSec: 0, followersOnly: false };
  const requireModerator = (a: ChatUser) => {
    if (a.id !== streamer.id) throw new DomainError('forbidden', 'only the streamer or an admin can moderate this room');
  };
  return {
    roomId: 'room-1',
    mode,
    history: [],
    apply(change) {
      if (change.type === 'mode') Object.assign(mode, { slowSec: change.slowSec, followersOnly: change.followersOnly });
    },
    isModerator: (u) => u?.id === streamer.id,
    async post(u, text) {
      if (!u) throw new DomainError('unauthorized', 'sign in to chat');
      return { id: `m${++n}`, userId: u.id, nickname: u.nickname, text: String(text), at: new Date(1_000 * n).toISOString() };
    },
    async setSlow(a, seconds) {
      requireModerator(a);
      mode.slowSec = seconds;
      return { ...mode };
    },
    async setFollowersOnly(a, enabled) {
      requireModerator(a);
      mode.followersOnly = enabled;
      return { ...mode };
    },
    async mute(a, userId) {
      requireModerator(a);
      return { userId, until: '2030-01-01T00:00:00.000Z' };
    },
    async ban(a, userId) {
      requireModerator(a);
      return { userId };
    },
    async remove(a, messageId) {
      requireModerator(a);
      return { messageId };
    },
    ...over,
  };
}

/** Lotteries with one lottery per id; each user enters a lottery once. */
function fakeLotteries(...lotteries: LiveRoomLottery[]) {
  const byId = new Map(lotteries.map((l) => [l.id, l]));
  const entries: { lotteryId: string; userId: string | undefined; via: string; text?: string }[] = [];
  const counted: string[] = [];
  const service: LiveRoomLotteries = {
    async current() {
      return [...byId.values()].at(-1);
    },
    async get(id) {
      const l = byId.get(id);
      if (!l) throw new DomainError('lottery_not_found', 'no such lottery');
      return l;
    },
    async enter(lotteryId, u, via, _at, proof) {
      if (!u) throw new DomainError('unauthorized', 'sign in to enter');
      const entered = !entries.some((e) => e.lotteryId === lotteryId && e.userId === u.id);
      entries.push({ lotteryId, userId: u.id, via, text: proof?.text });
      return { entered };
    },
    async entryCount(lotteryId) {
      counted.push(lotteryId);
      return new Set(entries.filter((e) => e.lotteryId === lotteryId).map((e) => e.userId)).size;
    },
  };
  return { service, byId, entries, counted };
}

function lottery(over: Partial<LiveRoomLottery> = {}): LiveRoomLottery {
  return {
    id: 'L0001',
    prize: 'a signed poster',
    winners: 1,
    method: 'danmaku',
    keyword: null,
    giftId: null,
    followersOnly: false,
    status: 'open',
    endsAt: '2030-01-01T00:00:00.000Z',
    drawnAt: null,
    entries: 0,
    winnerIds: [],
    winnerUsers: [],
    seedHash: 'ab'.repeat(32),
    seed: null,
    entriesHash: null,
    ...over,
  };
}

/** The room's timers, fired when the test says (the room's clock in production). */
function manualTimers() {
  const due: (() => void)[] = [];
  return {
    setTimeout: (fn: () => void) => void due.push(fn),
    fireAll: () => {
      for (const fn of due.splice(0)) fn();
    },
  };
}

/** Lets the fakes' promises run: each resolves at once, so every reaction to them is done after this. */
const settled = () => new Promise<void>((resolve) => setImmediate(resolve));

const quietLogger = () => {
  const warned: string[] = [];
  return { warned, warn: (_o: unknown, msg?: string) => void warned.push(msg ?? '') };
};

/** A room's chat and lottery wired as the live room wires them, with `viewers` connected. */
function chatRoomOf(viewers: ReturnType<typeof viewer>[], opts: { chatRoom?: ChatRoom; lotteries?: LiveRoomLotteries; chatHistory?: number } = {}) {
  const state = new LiveRoomState();
  const timers = manualTimers();
  const logger = quietLogger();
  const failures: unknown[] = [];
  const results: LotteryResult[] = [];
  const viewersOf = (userId: string) => viewers.filter((v) => v.auth.user?.id === userId);
  const lotteryView = new RoomLotteryView({ roomId: 'room-1', lotteries: opts.lotteries, state, broadcastResult: (r) => results.push(r), viewersOf, logger, setTimeout: timers.setTimeout });
  const chat = { chatRoom: opts.chatRoom ?? fakeChatRoom(), state, chatHistory: opts.chatHistory ?? 100, viewersOf };
  // A room of one shard: what it relays comes straight back to it, as its own.
  const relayed = relayedChat(chat);
  const handlers: MessageHandlers = {
    ...chatHandlers({ ...chat, onPosted: (v, line) => lotteryView.enterByDanmaku(v, line), relay: (item) => relayed([item], true, false) }),
    ...lotteryView.handlers,
  };
  const receive = messageReceiver(handlers, (err) => failures.push(err));
  return { state, receive, lotteryView, timers, logger, failures, results };
}

describe('live room chat, in memory', () => {
  test('chat lines show in order in the state everyone sees; past CHAT_HISTORY the oldest go', async () => {
    const a = viewer(alice);
    const b = viewer(bob);
    const room = chatRoomOf([a, b], { chatHistory: 2 });
    await room.receive('chat', a, { text: 'one' });
    await room.receive('chat', b, { text: 'two' });
    await room.receive('chat', a, { text: 'three' });
    assert.deepEqual(
      room.state.chat.map((l) => [l.nickname, l.text]),
      [
        ['bob-nick', 'two'],
        ['alice-nick', 'three'],
      ],
    );
    assert.deepEqual([...a.sent, ...b.sent], [], 'nobody is sent anything: chat travels in the state');
  });

  test('the history and mode the chat room opened with are in the first state', () => {
    const state = new LiveRoomState();
    const history: ChatMessage[] = [{ id: 'm1', userId: 'alice', nickname: 'alice-nick', text: 'earlier', at: '2024-01-01T00:00:00.000Z' }];
    showChat(state, { history, mode: { slowSec: 5, followersOnly: true } });
    assert.deepEqual(state.chat.map((l) => l.text), ['earlier']);
    assert.deepEqual({ ...state.chatMode.toJSON() }, { slowSec: 5, followersOnly: true });
  });

  test('a refused message gets an error to its sender only, with retryAfterSec when the rule gives one, and changes nothing', async () => {
    const anon = viewer(null);
    const a = viewer(alice);
    const chatRoom = fakeChatRoom({
      async post(u) {
        if (!u) throw new DomainError('unauthorized', 'sign in to chat');
        throw new DomainError('slow_mode', 'slow mode: one message every 5 s', { retryAfterSec: 4 });
      },
    });
    const room = chatRoomOf([anon, a], { chatRoom });
    await room.receive('chat', anon, { text: 'hi' });
    await room.receive('chat', a, { text: 'hi again' });
    assert.deepEqual(anon.got('error'), [{ code: 'unauthorized', message: 'sign in to chat' }]);
    assert.deepEqual(a.got('error'), [{ code: 'slow_mode', message: 'slow mode: one message every 5 s', retryAfterSec: 4 }]);
    assert.equal(room.state.chat.length, 0);
  });

  test('a body its schema refuses never reaches the chat room: validation_failed names the field', async () => {
    const a = viewer(alice);
    let posts = 0;
    const room = chatRoomOf([a], { chatRoom: fakeChatRoom({ post: async () => assert.fail(`post called ${++posts} times`) }) });
    await room.receive('chat', a, { text: 42 });
    await room.receive('chat', a, { text: 'hi', extra: true });
    await room.receive('mod:slow', a, { seconds: -1 });
    await room.receive('lottery:enter', a, { lotteryId: 'a\u0000b' });
    const errors = a.got('error');
    assert.deepEqual(errors.map((e) => e.code), ['validation_failed', 'validation_failed', 'validation_failed', 'validation_failed']);
    assert.match(errors[0]!.message, /^chat: text: /);
    assert.match(errors[2]!.message, /^mod:slow: seconds: /);
    assert.match(errors[3]!.message, /^lottery:enter: lotteryId: not a valid id/);
  });

  test('an unexpected failure is answered internal_error, never with its message, and reported', async () => {
    const a = viewer(alice);
    const room = chatRoomOf([a], { chatRoom: fakeChatRoom({ post: async () => Promise.reject(new Error('insert into chat_messages ... params: secret')) }) });
    await room.receive('chat', a, { text: 'hi' });
    assert.deepEqual(a.got('error'), [{ code: 'internal_error', message: 'internal error' }]);
    assert.equal(room.failures.length, 1);
    assert.equal(room.state.chat.length, 0);
  });

  test('moderation: the moderator gets mod:ok; slow mode and followers-only show in the state, a deleted line leaves it', async () => {
    const s = viewer(streamer);
    const a = viewer(alice);
    const room = chatRoomOf([s, a]);
    await room.receive('chat', a, { text: 'spam' });
    await room.receive('chat', a, { text: 'fine' });
    await room.receive('mod:slow', s, { seconds: 10 });
    await room.receive('mod:followers_only', s, { enabled: true });
    await room.receive('mod:delete', s, { messageId: room.state.chat[0]!.id });
    assert.deepEqual({ ...room.state.chatMode.toJSON() }, { slowSec: 10, followersOnly: true });
    assert.deepEqual(room.state.chat.map((l) => l.text), ['fine']);
    assert.deepEqual(s.got('mod:ok'), [{ action: 'slow' }, { action: 'followers_only' }, { action: 'delete', messageId: 'm1' }]);
  });

  test('a mute tells every connection of the muted user; a ban closes each of them with 4403; others are untouched', async () => {
    const s = viewer(streamer);
    const phone = viewer(alice);
    const laptop = viewer(alice);
    const b = viewer(bob);
    const room = chatRoomOf([s, phone, laptop, b]);
    await room.receive('mod:mute', s, { userId: 'alice', seconds: 60 });
    for (const v of [phone, laptop]) assert.deepEqual(v.got('system'), [{ text: 'you are muted until 2030-01-01T00:00:00.000Z' }]);
    await room.receive('mod:ban', s, { userId: 'alice' });
    for (const v of [phone, laptop]) assert.deepEqual(v.closed, { code: CLOSE_BANNED, reason: 'banned' });
    assert.deepEqual({ sent: b.sent, closed: b.closed }, { sent: [], closed: undefined });
    assert.deepEqual(s.got('mod:ok'), [
      { action: 'mute', userId: 'alice', until: '2030-01-01T00:00:00.000Z' },
      { action: 'ban', userId: 'alice' },
    ]);
  });

  test('moderating takes a signed-in moderator: anonymous is unauthorized, a viewer is forbidden', async () => {
    const anon = viewer(null);
    const a = viewer(alice);
    const room = chatRoomOf([anon, a]);
    await room.receive('mod:slow', anon, { seconds: 10 });
    await room.receive('mod:ban', a, { userId: 'bob' });
    assert.deepEqual(anon.got('error').map((e) => e.code), ['unauthorized']);
    assert.deepEqual(a.got('error').map((e) => e.code), ['forbidden']);
    assert.equal(room.state.chatMode.slowSec, 0);
  });
});

describe('live room lottery, in memory', () => {
  test('danmaku: a line with the keyword enters its author by the lotteries\' own rule (NFC, any case); other lines do not', async () => {
    // The keyword as the lotteries service stores it (NFC). This chat room passes lines on as typed: the
    // room must match them as the lotteries service will, not count on chat having normalised them.
    const keyword = 'Café';
    const l = lottery({ keyword });
    const lotteries = fakeLotteries(l);
    const a = viewer(alice);
    const b = viewer(bob);
    const room = chatRoomOf([a, b], { lotteries: lotteries.service });
    await room.lotteryView.show();
    assert.equal(room.state.lottery.keyword, keyword);

    const lines = [
      { by: a, text: 'I love CAFE\u0301 au lait', enters: true }, // decomposed é, upper case: the same text once normalised
      { by: b, text: 'café!', enters: true },
      { by: b, text: 'coffee', enters: false },
      { by: b, text: 'ＣＡＦＥ\u0301', enters: false }, // full-width letters are other characters under NFC
    ];
    for (const { by, text, enters } of lines) {
      assert.equal(keywordMatches(text, keyword), enters, `the domain's rule for ${JSON.stringify(text)}`);
      const before = lotteries.entries.length;
      const entered = enters ? by.next('lottery:entered') : undefined;
      await room.receive('chat', by, { text });
      assert.equal(lotteries.entries.length - before, enters ? 1 : 0, `${JSON.stringify(text)} ${enters ? 'enters' : 'does not enter'}`);
      if (entered) assert.deepEqual(await entered, { lotteryId: l.id, entered: true });
    }
    assert.deepEqual(
      lotteries.entries.map((e) => [e.userId, e.via, e.text]),
      [
        ['alice', 'danmaku', 'I love CAFE\u0301 au lait'],
        ['bob', 'danmaku', 'café!'],
      ],
    );
    assert.deepEqual(room.state.chat.map((c) => c.text), lines.map((x) => x.text), 'every line is shown, entering or not');
  });

  test('danmaku: a refused entry tells the line\'s author why, prefixed "lottery:"; the line still shows', async () => {
    const lotteries = fakeLotteries(lottery({ keyword: 'lucky', followersOnly: true }));
    lotteries.service.enter = async () => Promise.reject(new DomainError('forbidden', 'only followers can enter'));
    const a = viewer(alice);
    const room = chatRoomOf([a], { lotteries: lotteries.service });
    await room.lotteryView.show();
    const refused = a.next('error');
    await room.receive('chat', a, { text: 'feeling lucky' });
    assert.deepEqual(await refused, { code: 'forbidden', message: 'lottery: only followers can enter' });
    assert.deepEqual(room.state.chat.map((c) => c.text), ['feeling lucky']);
  });

  test('click: lottery:enter answers entered true, then false; without lotteries it is lottery_not_found', async () => {
    const l = lottery({ method: 'click' });
    const lotteries = fakeLotteries(l);
    const a = viewer(alice);
    const room = chatRoomOf([a], { lotteries: lotteries.service });
    await room.lotteryView.show();
    await room.receive('lottery:enter', a, { lotteryId: l.id });
    await room.receive('lottery:enter', a, { lotteryId: l.id });
    assert.deepEqual(a.got('lottery:entered'), [
      { lotteryId: l.id, entered: true },
      { lotteryId: l.id, entered: false },
    ]);

    const none = chatRoomOf([a]);
    await none.receive('lottery:enter', a, { lotteryId: l.id });
    assert.deepEqual(a.got('error'), [{ code: 'lottery_not_found', message: 'no lotteries here' }]);
  });

  test('the entry count in the state is reloaded once per interval, however many entries arrive', async () => {
    const l = lottery({ method: 'click' });
    const lotteries = fakeLotteries(l);
    const viewers = ['v1', 'v2', 'v3', 'v4'].map((id) => viewer(user(id)));
    const room = chatRoomOf(viewers, { lotteries: lotteries.service });
    await room.lotteryView.show();
    for (const v of viewers.slice(0, 3)) await room.receive('lottery:enter', v, { lotteryId: l.id });
    room.lotteryView.tick();
    room.lotteryView.tick();
    assert.deepEqual(lotteries.counted, [l.id], 'one reload for three entries');
    await settled();
    assert.equal(room.state.lottery.entries, 3);

    await room.receive('lottery:enter', viewers[3]!, { lotteryId: l.id });
    room.lotteryView.tick();
    assert.equal(lotteries.counted.length, 1, 'not again within the interval');
    room.timers.fireAll();
    room.lotteryView.tick();
    assert.equal(lotteries.counted.length, 2);
    await settled();
    assert.equal(room.state.lottery.entries, 4);
  });

  test('a drawn lottery\'s result is broadcast once, however often lottery.drawn repeats; a late event of an older lottery is ignored', async () => {
    const older = lottery({ id: 'L0001', method: 'click' });
    const open = lottery({ id: 'L0002', method: 'click' });
    const lotteries = fakeLotteries(older, open);
    const room = chatRoomOf([], { lotteries: lotteries.service });
    await room.lotteryView.show('L0002');
    await room.lotteryView.show('L0001');
    assert.equal(room.state.lottery.id, 'L0002', 'the newer lottery stays');

    lotteries.byId.set('L0002', { ...open, status: 'drawn', winnerIds: ['alice'], winnerUsers: [{ id: 'alice', nickname: 'alice-nick' }], entries: 1, seed: 'cd'.repeat(32), entriesHash: 'ef'.repeat(32), drawnAt: '2030-01-01T00:00:01.000Z' });
    await room.lotteryView.show('L0002');
    await room.lotteryView.show('L0002');
    assert.deepEqual(room.results, [
      { lotteryId: 'L0002', prize: 'a signed poster', winners: [{ id: 'alice', nickname: 'alice-nick' }], entries: 1, seedHash: 'ab'.repeat(32), seed: 'cd'.repeat(32), entriesHash: 'ef'.repeat(32), drawnAt: '2030-01-01T00:00:01.000Z' },
    ]);
    assert.deepEqual({ status: room.state.lottery.status, winnerIds: [...room.state.lottery.winnerIds] }, { status: 'drawn', winnerIds: ['alice'] });
  });

  test('gift entries are told to the sender\'s connections; a refused gift entry tells them why', () => {
    const phone = viewer(alice);
    const laptop = viewer(alice);
    const b = viewer(bob);
    const room = chatRoomOf([phone, laptop, b], { lotteries: fakeLotteries().service });
    room.lotteryView.entered({ roomId: 'room-1', lotteryId: 'L0001', userId: 'alice', via: 'gift' });
    room.lotteryView.entered({ roomId: 'room-1', lotteryId: 'L0001', userId: 'bob', via: 'click' });
    room.lotteryView.refused({ roomId: 'room-1', lotteryId: 'L0001', userId: 'bob', code: 'followers_only', message: 'follow the streamer to enter' });
    for (const v of [phone, laptop]) assert.deepEqual(v.sent, [['lottery:entered', { lotteryId: 'L0001', entered: true }]]);
    assert.deepEqual(b.sent, [['error', { code: 'followers_only', message: 'follow the streamer to enter' }]]);
  });
});

const giftEvent = (over: Partial<EventMap['room.gift']> = {}): EventMap['room.gift'] => ({
  roomId: 'room-1',
  giftEventId: `g-${Math.random()}`,
  userId: 'bob',
  nickname: 'bob-nick',
  streamerId: 'streamer',
  giftId: 'rose',
  giftName: 'Rose',
  icon: '🌹',
  count: 2,
  amount: 20,
  at: '2030-01-01T00:00:00.000Z',
  ...over,
});

describe('live room gift feed, in memory', () => {
  const settings = { giftFeedSize: 3, giftBroadcastsPerTick: 10, giftComboWindowMs: 5000 };

  test('sends of one gift by one user within the window are one line with running totals; another gift or user gets its own line', () => {
    let now = 0;
    const state = new LiveRoomState();
    const feed = new GiftFeed(state.gifts, settings, () => now);
    for (let i = 0; i < 3; i++) {
      feed.add(giftEvent());
      now += 4000;
    }
    feed.add(giftEvent({ giftId: 'heart', giftName: 'Heart', count: 1, amount: 5 }));
    feed.add(giftEvent({ userId: 'alice', nickname: 'alice-nick' }));
    assert.deepEqual(
      state.gifts.map((l) => ({ userId: l.userId, giftId: l.giftId, count: l.count, amount: l.amount, combo: l.combo })),
      [
        { userId: 'bob', giftId: 'rose', count: 6, amount: 60, combo: 3 },
        { userId: 'bob', giftId: 'heart', count: 1, amount: 5, combo: 1 },
        { userId: 'alice', giftId: 'rose', count: 2, amount: 20, combo: 1 },
      ],
    );
    const roses = feed.takeBroadcasts().filter((g) => g.userId === 'bob' && g.giftId === 'rose');
    assert.deepEqual(roses.map((g) => [g.count, g.combo, g.comboCount]), [[2, 1, 2], [2, 2, 4], [2, 3, 6]], 'each broadcast: this send, and the combo so far');
  });

  test('the gift broadcast carries exactly the shown fields of the paid gift (never its room or streamer)', () => {
    const feed = new GiftFeed(new LiveRoomState().gifts, settings);
    const e = giftEvent();
    feed.add(e);
    assert.deepEqual(feed.takeBroadcasts(), [
      { id: e.giftEventId, userId: 'bob', nickname: 'bob-nick', giftId: 'rose', giftName: 'Rose', icon: '🌹', count: 2, amount: 20, at: e.at, combo: 1, comboCount: 2 },
    ]);
    assert.deepEqual(feed.takeBroadcasts(), [], 'sent once');
  });

  test('a send after the window, or after its line left the feed, starts a new line', () => {
    let now = 0;
    const state = new LiveRoomState();
    const feed = new GiftFeed(state.gifts, settings, () => now);
    feed.add(giftEvent());
    now += 5001;
    feed.add(giftEvent());
    assert.deepEqual(state.gifts.map((l) => l.combo), [1, 1], 'too late for the combo');
    for (const giftId of ['a', 'b', 'c']) feed.add(giftEvent({ giftId }));
    assert.ok(state.gifts.every((l) => l.giftId !== 'rose'), 'the rose lines left the feed of three');
    feed.add(giftEvent());
    assert.deepEqual(state.gifts.map((l) => [l.giftId, l.combo]), [['b', 1], ['c', 1], ['rose', 1]]);
  });

  test('a burst: at most GIFT_BROADCASTS_PER_TICK broadcasts per tick, the first ones; every send is in the feed', () => {
    const state = new LiveRoomState();
    const feed = new GiftFeed(state.gifts, { giftFeedSize: 50, giftBroadcastsPerTick: 2, giftComboWindowMs: 5000 });
    for (let i = 0; i < 5; i++) feed.add(giftEvent({ userId: `u${i}` }));
    assert.deepEqual(feed.takeBroadcasts().map((g) => g.userId), ['u0', 'u1']);
    assert.deepEqual(feed.takeBroadcasts(), [], 'the rest of the burst is not sent later');
    assert.equal(state.gifts.length, 5);
  });

  test('top fans: a burst of gifts reloads the board once per interval; the board shows the fans in order', async () => {
    const state = new LiveRoomState();
    const timers = manualTimers();
    const calls: number[] = [];
    const board = topFansBoard({
      roomId: 'room-1',
      topFans: async (_roomId, limit) => {
        calls.push(limit);
        return [
          { userId: 'bob', nickname: 'bob-nick', amount: 60 },
          { userId: 'alice', nickname: 'alice-nick', amount: 20 },
        ];
      },
      size: 10,
      state,
      logger: quietLogger(),
      setTimeout: timers.setTimeout,
    });
    for (let i = 0; i < 5; i++) board.request();
    board.tick();
    board.tick();
    await settled();
    assert.deepEqual(calls, [10]);
    assert.deepEqual(state.topFans.map((f) => [f.userId, f.amount]), [['bob', 60], ['alice', 20]]);
    board.request();
    board.tick();
    assert.equal(calls.length, 1, 'not within the interval');
    timers.fireAll();
    board.tick();
    assert.equal(calls.length, 2);
  });
});

describe('live room online count, in memory', () => {
  const settings = { patchMs: 50, patchMsPer1k: 10, patchMsMax: 150, onlineReportMs: 1000 };

  test('the patch interval grows by ROOM_PATCH_MS_PER_1K per 1,000 viewers, up to ROOM_PATCH_MS_MAX', () => {
    assert.deepEqual([0, 999, 1000, 5500, 50_000].map((n) => patchIntervalMs(n, settings)), [50, 50, 60, 100, 150]);
  });

  test('online shows at once; the rooms service hears of changes at most every ROOM_ONLINE_REPORT_MS, and 0 when the room closes', () => {
    let now = 10_000;
    const reports: number[] = [];
    const state = new LiveRoomState();
    const online = new OnlineCount({ roomId: 'room-1', state, rooms: { reportOnline: async (_id, n) => void reports.push(n) }, settings, logger: quietLogger(), now: () => now });
    online.update(1);
    online.update(2);
    assert.equal(state.online, 2);
    assert.deepEqual(reports, [1]);
    now += 1000;
    online.update(2);
    online.update(3);
    assert.deepEqual(reports, [1, 2]);
    online.close();
    assert.deepEqual(reports, [1, 2, 0]);
  });
});

describe('viewer auth, in memory', () => {
  const deps = {
    viewers: {
      async fromToken(token: string) {
        if (token === 'revoked') return { state: 'revoked' as const };
        if (token === 'garbage') return { state: 'invalid' as const };
        return { state: 'valid' as const, user: token === 'bob' ? bob : alice, jti: `jti-${token}` };
      },
    },
    chat: { isBanned: async (roomId: string, userId: string) => roomId === 'room-1' && userId === 'bob' },
  };
  const ctx = { ip: '203.0.113.7' } as Parameters<typeof authenticateViewer>[3];

  test('no token or a bad one joins as anonymous; a revoked token is 401; a banned user is 403 in the room named', async () => {
    assert.deepEqual(await authenticateViewer(deps, undefined, {}, ctx), { user: null, ip: '203.0.113.7' });
    assert.deepEqual(await authenticateViewer(deps, 'garbage', {}, ctx), { user: null, ip: '203.0.113.7' });
    assert.deepEqual(await authenticateViewer(deps, '', { token: 'alice' }, ctx), { user: alice, ip: '203.0.113.7', jti: 'jti-alice' });
    await assert.rejects(authenticateViewer(deps, 'revoked', {}, ctx), (e: unknown) => e instanceof ServerError && e.code === 401);
    await assert.rejects(authenticateViewer(deps, 'bob', { roomId: 'room-1' }, ctx), (e: unknown) => e instanceof ServerError && e.code === 403);
    assert.equal((await authenticateViewer(deps, 'bob', { roomId: 'room-2' }, ctx)).user, bob);
  });

  test('a revoked token ends its session, which stays revoked until it is gone; a forgotten session is not watched', () => {
    const handlers = new Map<string, () => void>();
    const events = {
      onRevoked(jti: string, h: () => void) {
        handlers.set(jti, h);
        return () => handlers.delete(jti);
      },
    };
    const ended: string[] = [];
    const sessions = new SessionRevocations(events, (id) => ended.push(id));
    sessions.watch('s1', 'jti-a');
    sessions.watch('s2', 'jti-b');
    handlers.get('jti-a')!();
    assert.deepEqual(ended, ['s1']);
    assert.equal(sessions.isRevoked('s1'), true);
    assert.equal(sessions.isRevoked('s2'), false);
    sessions.forget('s1');
    assert.equal(sessions.isRevoked('s1'), false);
    sessions.close();
    assert.equal(handlers.size, 0, 'no watch left after the room closes');
  });

  test('a session ends when its token expires; a session gone before that leaves no timer behind', () => {
    const events = { onRevoked: () => () => {} };
    const timers = new Map<number, { fn: () => void; ms: number }>();
    let nextTimer = 0;
    const timer = (fn: () => void, ms: number) => {
      const id = nextTimer++;
      timers.set(id, { fn, ms });
      return () => void timers.delete(id);
    };
    const ended: [string, string][] = [];
    let clock = 1_000_000;
    const sessions = new SessionRevocations(events, (id, why) => ended.push([id, why]), timer, () => clock);
    sessions.watch('soon', 'jti-1', clock + 60_000);
    sessions.watch('gone', 'jti-2', clock + 60_000);
    sessions.watch('past', 'jti-3', clock - 1);
    assert.deepEqual(ended, [['past', 'expired']], 'an already expired token ends its session at once');
    assert.equal(timers.size, 2);
    assert.ok([...timers.values()].every((t) => t.ms === 60_000));
    sessions.forget('gone');
    assert.equal(timers.size, 1, 'the forgotten session\'s timer is cleared');
    // the clock reaches the expiry
    const [id, t] = [...timers.entries()][0]!;
    timers.delete(id);
    clock += 60_000;
    t.fn();
    assert.deepEqual(ended.at(-1), ['soon', 'expired']);
    assert.equal(sessions.isRevoked('soon'), true);
    // a token valid longer than a timer can wait (24.8 days) is checked again then, not ended early
    sessions.watch('long', 'jti-4', clock + 40 * 86_400_000);
    const [longId, long] = [...timers.entries()].at(-1)!;
    assert.equal(long.ms, 2 ** 31 - 1);
    timers.delete(longId);
    clock += long.ms;
    long.fn();
    assert.equal(timers.size, 1, 'the long token waits again');
    assert.equal(ended.filter(([s]) => s === 'long').length, 0);
    sessions.close();
    assert.equal(timers.size, 0, 'no timer left after the room closes');
  });
});

describe('shards of one room, in memory', () => {
  /** The presence's pub/sub in one process, counting what is published. */
  function countingPresence() {
    const presence = new LocalPresence();
    const published: unknown[] = [];
    return {
      published,
      publish: (topic: string, data: unknown) => {
        published.push(data);
        presence.publish(topic, data);
      },
      subscribe: (topic: string, cb: (data: never) => void) => presence.subscribe(topic, cb as (...args: unknown[]) => void),
      unsubscribe: (topic: string, cb?: (data: never) => void) => presence.unsubscribe(topic, cb as ((...args: unknown[]) => void) | undefined),
    };
  }

  /** One shard of room-1 wired as the live room wires it: its own state, chat room, viewers and relay. */
  function shardOf(presence: RelayPresence, shardId: string, viewers: ReturnType<typeof viewer>[], clock = { now: () => 0 }, chatHistory = 100) {
    const state = new LiveRoomState();
    const timers = manualTimers();
    const failures: unknown[] = [];
    let n = 0;
    const applied: ModerationChange[] = [];
    const base = fakeChatRoom();
    const chatRoom = fakeChatRoom({
      async post(u, text) {
        const line = await base.post(u, text);
        return { ...line, id: `${shardId}-m${++n}` };
      },
      apply(change) {
        applied.push(change);
        base.apply(change);
      },
    });
    const viewersOf = (userId: string) => viewers.filter((v) => v.auth.user?.id === userId);
    const relay = new ShardRelay({
      presence,
      liveRoomId: 'room-1',
      shardId,
      settings: { relayMs: 10, keepaliveMs: 1000, echoMs: 1000 },
      setTimeout: timers.setTimeout,
      onPublishFailed: (err) => failures.push(err),
      now: clock.now,
    });
    const chat = { chatRoom, state, chatHistory, viewersOf };
    const receive = messageReceiver(chatHandlers({ ...chat, onPosted: () => {}, relay: (item) => relay.send(item) }), (err) => failures.push(err));
    return {
      state,
      relay,
      timers,
      applied,
      failures,
      receive,
      /** As onCreate: listen, load the history (`history`), then show what the relay brings. */
      async open(history: ChatMessage[] = []) {
        await relay.start();
        showChat(state, { history, mode: base.mode });
        relay.attach(relayedChat(chat));
      },
    };
  }
  const texts = (state: LiveRoomState) => state.chat.map((l) => l.text);

  test('lines accepted by different shards show in one order on every shard, each shard publishing one batch per relay tick', async () => {
    const presence = countingPresence();
    const [a, b, c] = ['A', 'B', 'C'].map((id) => shardOf(presence, id, []));
    for (const s of [a!, b!, c!]) await s.open();
    presence.published.length = 0;
    await a!.receive('chat', viewer(alice), { text: 'a1' });
    await a!.receive('chat', viewer(alice), { text: 'a2' });
    await b!.receive('chat', viewer(bob), { text: 'b1' });
    assert.deepEqual(texts(a!.state), [], 'a line shows when the relay delivers it, on its own shard too');
    b!.timers.fireAll();
    a!.timers.fireAll();
    c!.timers.fireAll();
    assert.equal(presence.published.length, 2, 'one batch from each shard that accepted lines');
    for (const s of [a!, b!, c!]) assert.deepEqual(texts(s.state), ['b1', 'a1', 'a2']);
    for (const s of [a!, b!, c!]) assert.deepEqual(s.failures, []);
  });

  test('moderation on one shard takes effect on every shard once: mode, a mute told, a deletion, a ban closing the user wherever connected', async () => {
    const presence = countingPresence();
    const s = viewer(streamer);
    const phone = viewer(alice);
    const laptop = viewer(alice);
    const b = viewer(bob);
    const one = shardOf(presence, 'A', [s]);
    const two = shardOf(presence, 'B', [phone]);
    const three = shardOf(presence, 'C', [laptop, b]);
    const shards = [one, two, three];
    for (const sh of shards) await sh.open();
    const relayAll = () => shards.forEach((sh) => sh.timers.fireAll());

    await three.receive('chat', b, { text: 'spam' });
    relayAll();
    await one.receive('mod:slow', s, { seconds: 10 });
    assert.equal(one.state.chatMode.slowSec, 10, 'at once on the moderator\'s shard');
    await one.receive('mod:mute', s, { userId: 'alice', seconds: 60 });
    await one.receive('mod:delete', s, { messageId: 'C-m1' });
    await one.receive('mod:ban', s, { userId: 'alice' });
    relayAll();
    for (const sh of shards) {
      assert.deepEqual({ ...sh.state.chatMode.toJSON() }, { slowSec: 10, followersOnly: false });
      assert.deepEqual(texts(sh.state), []);
    }
    assert.deepEqual(one.applied, [], 'the shard that acted does not apply its own change again');
    assert.deepEqual(two.applied.map((c) => c.type), ['mode', 'mute', 'ban'], 'the other shards enforce it');
    for (const v of [phone, laptop]) {
      assert.deepEqual(v.got('system'), [{ text: 'you are muted until 2030-01-01T00:00:00.000Z' }]);
      assert.deepEqual(v.closed, { code: CLOSE_BANNED, reason: 'banned' });
    }
    assert.deepEqual({ sent: b.sent, closed: b.closed }, { sent: [], closed: undefined });
    assert.deepEqual(s.got('mod:ok').map((m) => m.action), ['slow', 'mute', 'delete', 'ban']);
  });

  test('online is the sum over the shards: a new shard hears the others at once, a closed one stops counting at once, a silent one after three keepalives; the oldest leads', async () => {
    const presence = countingPresence();
    let now = 0;
    const clock = { now: () => now };
    const a = shardOf(presence, 'A', [], clock);
    await a.open();
    a.relay.count(3);
    a.relay.announce();
    now = 1;
    const b = shardOf(presence, 'B', [], clock);
    await b.open();
    b.relay.count(2);
    b.relay.announce();
    assert.deepEqual([a.relay.total(), b.relay.total()], [5, 5]);
    assert.deepEqual([a.relay.leads(), b.relay.leads()], [true, false]);
    now = 2;
    const c = shardOf(presence, 'C', [], clock);
    await c.open();
    assert.equal(c.relay.total(), 5, 'the others answered its hello');
    assert.equal(c.relay.shards(), 3);
    c.relay.count(4);
    c.relay.announce();
    b.relay.close();
    assert.deepEqual([a.relay.total(), c.relay.total()], [7, 7]);
    // C's process dies: A keeps announcing, C is silent
    for (now = 1000; now <= 3100; now += 700) a.relay.announce();
    assert.equal(a.relay.total(), 3);
    assert.equal(a.relay.shards(), 1);
  });

  test('a shard alone in its room shows its lines at once, without waiting for the channel', async () => {
    const presence = countingPresence();
    const a = shardOf(presence, 'A', []);
    await a.open();
    await a.receive('chat', viewer(alice), { text: 'no wait' });
    assert.deepEqual(texts(a.state), ['no wait']);
    a.timers.fireAll();
    assert.deepEqual(texts(a.state), ['no wait'], 'its echo does not show it again');
    assert.equal(presence.published.filter((b) => (b as { items?: unknown[] }).items).length, 1, 'still published, for a shard that opens');
  });

  test('a shard shows each of its own lines once, even when more lines than CHAT_HISTORY are taken before their echo', async () => {
    const presence = countingPresence();
    // the channel brings batches back late: when the test lets it
    const held: [string, unknown][] = [];
    const slow: RelayPresence = { ...presence, publish: (topic, data) => void held.push([topic, data]) };
    const a = shardOf(slow, 'A', [], { now: () => 0 }, 2);
    await a.open();
    for (const text of ['one', 'two', 'three']) await a.receive('chat', viewer(alice), { text });
    a.timers.fireAll(); // the relay tick: published, not yet echoed
    await a.receive('chat', viewer(alice), { text: 'four' });
    assert.deepEqual(texts(a.state), ['three', 'four'], 'alone in the room: shown at once');
    for (const [topic, data] of held.splice(0)) presence.publish(topic, data);
    assert.deepEqual(texts(a.state), ['three', 'four'], 'the late echo of the first three shows none of them again');
    a.timers.fireAll(); // the next tick and the echo timeouts
    for (const [topic, data] of held.splice(0)) presence.publish(topic, data);
    assert.deepEqual(texts(a.state), ['three', 'four']);
  });

  test('with the channel down (Redis), a shard shows its own lines after ROOM_SHARD_ECHO_MS, and once when the late echo comes', async () => {
    const presence = countingPresence();
    const a = shardOf(presence, 'A', []);
    const b = shardOf(presence, 'B', []);
    await a.open();
    await b.open();
    // publishes go nowhere until Redis is back, then arrive late
    const held: [string, unknown][] = [];
    const down: RelayPresence = { ...presence, publish: (topic, data) => void held.push([topic, data]) };
    const c = shardOf(down, 'C', []);
    await c.open();
    for (const [topic, data] of held.splice(0)) presence.publish(topic, data);
    assert.equal(c.relay.shards(), 3, 'C knows its peers');
    await c.receive('chat', viewer(alice), { text: 'while Redis is down' });
    c.timers.fireAll(); // the relay tick: published into the void
    assert.deepEqual(texts(c.state), [], 'not yet: the channel may still echo it');
    c.timers.fireAll(); // ROOM_SHARD_ECHO_MS later
    assert.deepEqual(texts(c.state), ['while Redis is down']);
    for (const [topic, data] of held.splice(0)) presence.publish(topic, data);
    for (const s of [a, b, c]) assert.deepEqual(texts(s.state), ['while Redis is down'], 'the late echo shows it once everywhere');
  });

  test('a line relayed while a shard is opening shows there once, whether or not the history it loaded has it', async () => {
    const presence = countingPresence();
    const a = shardOf(presence, 'A', []);
    await a.open();
    const b = shardOf(presence, 'B', []);
    await b.relay.start();
    await a.receive('chat', viewer(alice), { text: 'stored before B read the history' });
    await a.receive('chat', viewer(alice), { text: 'stored after' });
    a.timers.fireAll();
    const [first] = a.state.chat;
    showChat(b.state, { history: [{ id: first!.id, userId: first!.userId, nickname: first!.nickname, text: first!.text, at: first!.at }], mode: { slowSec: 0, followersOnly: false } });
    b.relay.attach(relayedChat({ chatRoom: fakeChatRoom(), state: b.state, chatHistory: 100, viewersOf: () => [] }));
    assert.deepEqual(texts(b.state), ['stored before B read the history', 'stored after']);
  });
});
