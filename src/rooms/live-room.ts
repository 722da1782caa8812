// The live room actor: one Colyseus room per live room id. Handlers validate a
// message, call one chat (domain) function and shape the result into state;
// every rule lives in domain/chat.ts. Chat and gifts reach clients through
// state patches (batched per tick); `gift` broadcasts are capped per tick.
import { CloseCode, Room, ServerError, type AuthContext, type Client } from '@colyseus/core';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { ChatMessage, ChatRoom, ChatService, ChatUser } from '../domain/chat.ts';
import { DomainError, isDomainError } from '../domain/errors.ts';
import type { EventMap } from '../domain/events.ts';
import type { LotteryView } from '../domain/lotteries.ts';
import type { RoomStatus } from '../domain/rooms.ts';
import {
  banMessage,
  chatMessage,
  deleteMessage,
  followersOnlyMessage,
  lotteryEnterMessage,
  muteMessage,
  slowMessage,
  type GiftBroadcast,
  type LiveRoomBroadcasts,
  type LotteryResult,
} from './messages.ts';
import type { RoomEvents } from './room-events.ts';
import { ChatLine, GiftLine, LiveRoomState, TopFan } from './state.ts';

/** What the live room needs to know about a room; the rooms service provides it. */
export interface LiveRoomInfo {
  id: string;
  title: string;
  status: RoomStatus;
  interrupted?: boolean;
  streamer: { id: string; nickname: string; avatarUrl: string | null };
}

export interface LiveRoomSettings {
  chatHistory: number;
  giftFeedSize: number;
  giftBroadcastsPerTick: number;
  topFansSize: number;
  reconnectSec: number;
  maxClients: number;
  patchMs: number;
  patchMsPer1k: number;
  patchMsMax: number;
  /** `online` is refreshed at most this often: during a join storm a per-join update would patch every client every tick. */
  onlineUpdateMs: number;
  /** A client sending more messages than this in a second is disconnected (a flood, not a person). */
  maxMessagesPerSec: number;
  /** A seat reserved by matchmaking and not claimed within this is freed (ROOM_SEAT_RESERVATION_SEC). */
  seatReservationSec: number;
  /** How often at most the online count is written back to the rooms service. */
  onlineReportMs: number;
  /** Sends of the same gift by the same user closer than this are one combo (one feed line, a running count). */
  giftComboWindowMs: number;
}

/** A lottery as the room shows it. */
export type LiveRoomLottery = Pick<
  LotteryView,
  'id' | 'prize' | 'winners' | 'method' | 'keyword' | 'giftId' | 'followersOnly' | 'status' | 'endsAt' | 'drawnAt' | 'entries' | 'winnerIds' | 'winnerUsers' | 'seedHash' | 'seed' | 'entriesHash'
>;

/** What the room needs from lotteries: the rules (who may enter, how) live there. */
export interface LiveRoomLotteries {
  /** The room's open lottery, or its recently drawn one. */
  current(roomId: string): Promise<LiveRoomLottery | undefined>;
  get(lotteryId: string): Promise<LiveRoomLottery>;
  /** `at`: when the entering act (chat message, paid gift) happened. */
  enter(lotteryId: string, user: { id: string } | null, via: 'click' | 'danmaku' | 'gift', at?: Date, proof?: { text?: string; giftId?: string }): Promise<{ entered: boolean }>;
  entryCount(lotteryId: string): Promise<number>;
}

export interface ViewerUser extends ChatUser {
  avatarUrl: string | null;
}

/** The collaborators of every live room, in one object. */
export interface LiveRoomDeps {
  rooms: {
    get(roomId: string): Promise<LiveRoomInfo | undefined>;
    /** The room's client count for listings and rankings; called on change, at most every `onlineReportMs`. */
    reportOnline?(roomId: string, online: number): Promise<void>;
  };
  /** Token -> user: a revoked token is refused, a malformed or expired one means anonymous. */
  viewers: { fromToken(token: string): Promise<{ state: 'valid'; user: ViewerUser; jti?: string } | { state: 'revoked' | 'invalid' }> };
  chat: Pick<ChatService, 'open' | 'isBanned'>;
  topFans?: (roomId: string, limit: number) => Promise<{ userId: string; nickname: string; amount: number }[]>;
  lotteries?: LiveRoomLotteries;
  events: RoomEvents;
  logger: Logger;
  settings: LiveRoomSettings;
}

export interface ViewerAuth {
  user: ViewerUser | null;
  ip: string | null;
  /** The id of the token the user joined with: its revocation (logout) ends the session. */
  jti?: string;
}

// Join refusals (HTTP statuses of the matchmaking request) and the close code of a banned viewer.
export const CODE_UNAUTHORIZED = 401;
export const CODE_BANNED = 403;
export const CODE_NOT_FOUND = 404;
export const CLOSE_BANNED = 4403;
/** The close code of a session whose token was revoked (the user logged out). */
export const CLOSE_REVOKED = 4401;

/** Room ids are UUIDs; also the form Colyseus room ids take. */
const ROOM_ID = /^[A-Za-z0-9_-]{1,64}$/;
const TOP_FANS_REFRESH_MS = 1000;
/** The lottery's entry count is re-read at most this often, however many entries arrive. */
const LOTTERY_COUNT_REFRESH_MS = 1000;

/** The patch interval for a room of `clients` viewers: slower ticks in big rooms mean fewer frames per client. */
export function patchIntervalMs(clients: number, s: Pick<LiveRoomSettings, 'patchMs' | 'patchMsPer1k' | 'patchMsMax'>): number {
  const ms = s.patchMs + Math.floor(clients / 1000) * s.patchMsPer1k;
  return Math.min(Math.max(s.patchMs, ms), Math.max(s.patchMs, s.patchMsMax));
}

/** Runs during the matchmaking request, before a seat is reserved. */
export async function authenticateViewer(deps: LiveRoomDeps, token: string | undefined, options: unknown, ctx: AuthContext): Promise<ViewerAuth> {
  const opts = (options ?? {}) as { token?: unknown; roomId?: unknown };
  const given = token || (typeof opts.token === 'string' ? opts.token : '');
  const ip = ctx?.ip ?? null;
  if (!given) return { user: null, ip };
  const checked = await deps.viewers.fromToken(given);
  if (checked.state === 'revoked') throw new ServerError(CODE_UNAUTHORIZED, 'this token was revoked; sign in again');
  if (checked.state !== 'valid') return { user: null, ip };
  if (typeof opts.roomId === 'string' && ROOM_ID.test(opts.roomId) && (await deps.chat.isBanned(opts.roomId, checked.user.id)))
    throw new ServerError(CODE_BANNED, 'you are banned from this room');
  return { user: checked.user, ip, jti: checked.jti };
}

type ViewerClient = Client<{ auth: ViewerAuth }>;

export class LiveRoom extends Room<{ state: InstanceType<typeof LiveRoomState>; client: ViewerClient }> {
  declare deps: LiveRoomDeps;
  private chatRoom!: ChatRoom;
  private offEvents: (() => void)[] = [];
  private gifts: GiftBroadcast[] = [];
  private topFansDue = false;
  private topFansLoading = false;
  private combos = new Map<string, { line: InstanceType<typeof GiftLine>; lastAt: number }>();
  private reportedOnline = -1;
  private onlineReportedAt = 0;
  private lotteryCountDue = false;
  private lotteryCountLoading = false;
  /** The lottery whose result was broadcast here (a repeated `lottery.drawn` is not broadcast again). */
  private lotteryResultSent = '';
  /** Per signed-in session: stops watching its token for revocation. */
  private revocationWatches = new Map<string, () => void>();
  /** Sessions whose token was revoked: they get no seat back. */
  private revokedSessions = new Set<string>();

  async onCreate(options: { roomId?: unknown }) {
    const { deps } = this;
    const roomId = options?.roomId;
    if (typeof roomId !== 'string' || roomId.length === 0) throw new ServerError(CODE_NOT_FOUND, 'roomId is required');
    // No room has any other id; a NUL byte would otherwise fail the lookup with a database error (and its SQL) as the reply.
    if (!ROOM_ID.test(roomId)) throw new ServerError(CODE_NOT_FOUND, 'no such room');
    const info = await deps.rooms.get(roomId);
    if (!info) throw new ServerError(CODE_NOT_FOUND, 'no such room');
    // The Colyseus room id is the live room id, so `joinById(roomId)` reaches it.
    this.roomId = roomId;
    this.maxClients = deps.settings.maxClients;
    this.maxMessagesPerSecond = deps.settings.maxMessagesPerSec;
    this.seatReservationTimeout = deps.settings.seatReservationSec;
    this.patchRate = deps.settings.patchMs;
    this.chatRoom = await deps.chat.open({ id: info.id, streamerId: info.streamer.id });

    const state = new LiveRoomState();
    state.roomId = info.id;
    this.applyInfo(state, info);
    state.status = info.status;
    state.interrupted = info.interrupted ?? false;
    for (const m of this.chatRoom.history) state.chat.push(toChatLine(m));
    state.chatMode.slowSec = this.chatRoom.mode.slowSec;
    state.chatMode.followersOnly = this.chatRoom.mode.followersOnly;
    this.state = state;
    this.autoDispose = info.status !== 'live';
    this.topFansDue = true;

    this.clock.setInterval(() => this.countOnline(), deps.settings.onlineUpdateMs);
    this.offEvents.push(
      deps.events.on('room.status', roomId, (e) => this.setStatus(e.status, e.interrupted ?? false)),
      deps.events.on('room.updated', roomId, () => void this.refreshInfo()),
      deps.events.on('room.gift', roomId, (e) => this.addGift(e)),
      deps.events.on('lottery.created', roomId, (e) => void this.showLottery(e.lotteryId)),
      deps.events.on('lottery.entered', roomId, (e) => {
        if (e.lotteryId === this.state.lottery.id) this.lotteryCountDue = true;
        // gift entries are made where the gift was paid: its sender hears it here
        if (e.via === 'gift') for (const c of this.clientsOf(e.userId)) c.send('lottery:entered', { lotteryId: e.lotteryId, entered: true });
      }),
      deps.events.on('lottery.refused', roomId, (e) => {
        for (const c of this.clientsOf(e.userId)) reply(c, new DomainError(e.code, e.message));
      }),
      deps.events.on('lottery.drawn', roomId, (e) => void this.showLottery(e.lotteryId)),
    );
    if (deps.lotteries) await this.showLottery();

    this.handle('chat', chatMessage, async (client, msg) => {
      const line = await this.chatRoom.post(client.auth?.user ?? null, msg.text);
      this.pushChat(line);
      this.enterByDanmaku(client, line);
    });
    this.handle('lottery:enter', lotteryEnterMessage, async (client, msg) => {
      if (!this.deps.lotteries) throw new DomainError('lottery_not_found', 'no lotteries here');
      const r = await this.deps.lotteries.enter(msg.lotteryId, client.auth?.user ?? null, 'click');
      client.send('lottery:entered', { lotteryId: msg.lotteryId, entered: r.entered });
      if (msg.lotteryId === this.state.lottery.id) this.lotteryCountDue = true;
    });
    this.handle('mod:slow', slowMessage, async (client, msg) => {
      const mode = await this.chatRoom.setSlow(this.actor(client), msg.seconds);
      this.state.chatMode.slowSec = mode.slowSec;
      client.send('mod:ok', { action: 'slow' });
    });
    this.handle('mod:followers_only', followersOnlyMessage, async (client, msg) => {
      const mode = await this.chatRoom.setFollowersOnly(this.actor(client), msg.enabled);
      this.state.chatMode.followersOnly = mode.followersOnly;
      client.send('mod:ok', { action: 'followers_only' });
    });
    this.handle('mod:mute', muteMessage, async (client, msg) => {
      const r = await this.chatRoom.mute(this.actor(client), msg.userId, msg.seconds);
      for (const c of this.clientsOf(r.userId)) c.send('system', { text: `you are muted until ${r.until}` });
      client.send('mod:ok', { action: 'mute', userId: r.userId, until: r.until });
    });
    this.handle('mod:ban', banMessage, async (client, msg) => {
      const r = await this.chatRoom.ban(this.actor(client), msg.userId);
      for (const c of this.clientsOf(r.userId)) c.leave(CLOSE_BANNED, 'banned');
      client.send('mod:ok', { action: 'ban', userId: r.userId });
    });
    this.handle('mod:delete', deleteMessage, async (client, msg) => {
      const r = await this.chatRoom.remove(this.actor(client), msg.messageId);
      const i = this.state.chat.findIndex((l) => l.id === r.messageId);
      if (i >= 0) this.state.chat.splice(i, 1);
      client.send('mod:ok', { action: 'delete', messageId: r.messageId });
    });
  }

  async onJoin(client: ViewerClient) {
    const user = client.auth?.user;
    // joinById carries no roomId in its options, so the ban is checked here as well as in onAuth.
    if (user && (await this.deps.chat.isBanned(this.roomId, user.id))) throw new ServerError(CODE_BANNED, 'you are banned from this room');
    const jti = client.auth?.jti;
    if (user && jti) {
      const sessionId = client.sessionId;
      this.revocationWatches.set(
        sessionId,
        this.deps.events.onRevoked(jti, () => {
          this.revokedSessions.add(sessionId);
          // The current client of the session (a reconnection is a new Client object).
          this.clients.find((c) => c.sessionId === sessionId)?.leave(CLOSE_REVOKED, 'signed out');
        }),
      );
    }
    this.countOnline();
  }

  onLeave(client: ViewerClient) {
    // Once per session, when it is gone for good (after a drop with no reconnection, too).
    this.revocationWatches.get(client.sessionId)?.();
    this.revocationWatches.delete(client.sessionId);
    this.revokedSessions.delete(client.sessionId);
  }

  async onDrop(client: ViewerClient, code?: number) {
    // A connection closed for flooding (maxMessagesPerSecond), or a banned viewer we closed, gets no seat to
    // come back to: Colyseus treats any close but a consented leave as a drop, and its reconnection token would
    // otherwise bring the banned viewer back (reconnection runs no onAuth/onJoin).
    if (code === CloseCode.WITH_ERROR || code === CLOSE_BANNED || code === CLOSE_REVOKED || this.revokedSessions.has(client.sessionId)) return;
    if (this.deps.settings.reconnectSec > 0) await this.allowReconnection(client, this.deps.settings.reconnectSec);
  }

  /** Banned or signed out while the connection was down: the kick could not reach it then. */
  async onReconnect(client: ViewerClient) {
    const user = client.auth?.user;
    if (this.revokedSessions.has(client.sessionId)) return client.leave(CLOSE_REVOKED, 'signed out');
    if (user && (await this.deps.chat.isBanned(this.roomId, user.id))) client.leave(CLOSE_BANNED, 'banned');
  }


  onBeforePatch() {
    if (this.gifts.length > 0) {
      // Bounded frames per client per tick: the rest of a burst is in `state.gifts` already.
      for (const g of this.gifts.splice(0, this.deps.settings.giftBroadcastsPerTick)) this.broadcast('gift', g);
      this.gifts.length = 0;
    }
    if (this.topFansDue && !this.topFansLoading) void this.refreshTopFans();
    if (this.lotteryCountDue && !this.lotteryCountLoading) void this.refreshLotteryCount();
  }

  onDispose() {
    for (const off of this.offEvents) off();
    this.offEvents = [];
    for (const off of this.revocationWatches.values()) off();
    this.revocationWatches.clear();
    if (this.reportedOnline > 0) this.reportOnline(0);
  }

  /** Status from the rooms service / media: a live room stays open while empty; an idle empty one goes. */
  private setStatus(status: RoomStatus, interrupted: boolean) {
    this.state.status = status;
    this.state.interrupted = status === 'live' && interrupted;
    this.autoDispose = status !== 'live';
    if (status !== 'live' && this.clients.length === 0) void this.disconnect();
  }

  private applyInfo(state: InstanceType<typeof LiveRoomState>, info: LiveRoomInfo) {
    state.title = info.title;
    state.streamer.id = info.streamer.id;
    state.streamer.nickname = info.streamer.nickname;
    state.streamer.avatarUrl = info.streamer.avatarUrl ?? '';
  }

  private async refreshInfo() {
    try {
      const info = await this.deps.rooms.get(this.roomId);
      if (info) this.applyInfo(this.state, info);
    } catch (err) {
      this.deps.logger.warn({ err, roomId: this.roomId }, 'room refresh failed');
    }
  }

  private async refreshTopFans() {
    if (!this.deps.topFans) return void (this.topFansDue = false);
    // At most one query per TOP_FANS_REFRESH_MS however many gifts arrive.
    this.topFansLoading = true;
    this.topFansDue = false;
    try {
      const fans = await this.deps.topFans(this.roomId, this.deps.settings.topFansSize);
      this.state.topFans.clear();
      for (const f of fans) this.state.topFans.push(new TopFan({ userId: f.userId, nickname: f.nickname, amount: f.amount }));
    } catch (err) {
      this.deps.logger.warn({ err, roomId: this.roomId }, 'top fans refresh failed');
    } finally {
      this.clock.setTimeout(() => (this.topFansLoading = false), TOP_FANS_REFRESH_MS);
    }
  }

  private addGift(e: EventMap['room.gift']) {
    const now = Date.now();
    const key = `${e.userId}:${e.giftId}`;
    const previous = this.combos.get(key);
    // A combo continues while its line is still in the feed and the sends keep coming.
    const combo = previous && now - previous.lastAt <= this.deps.settings.giftComboWindowMs && this.state.gifts.includes(previous.line) ? previous : undefined;
    let line: InstanceType<typeof GiftLine>;
    if (combo) {
      line = combo.line;
      line.count += e.count;
      line.amount += e.amount;
      line.combo += 1;
      line.at = e.at;
      combo.lastAt = now;
    } else {
      line = new GiftLine({ id: e.giftEventId, userId: e.userId, nickname: e.nickname, giftId: e.giftId, giftName: e.giftName, count: e.count, amount: e.amount, combo: 1, at: e.at });
      this.state.gifts.push(line);
      while (this.state.gifts.length > this.deps.settings.giftFeedSize) this.state.gifts.shift();
      this.combos.set(key, { line, lastAt: now });
      for (const [k, c] of this.combos) if (now - c.lastAt > this.deps.settings.giftComboWindowMs) this.combos.delete(k);
    }
    this.gifts.push({
      id: e.giftEventId,
      userId: e.userId,
      nickname: e.nickname,
      giftId: e.giftId,
      giftName: e.giftName,
      icon: e.icon,
      count: e.count,
      amount: e.amount,
      at: e.at,
      combo: line.combo,
      comboCount: line.count,
    });
    this.topFansDue = true;
  }

  // --- lotteries: the state shows the current one; entries by chat keyword and by gift are made here

  /** Shows the lottery `id` (or the room's current one) in the state; a fresh draw is broadcast once. */
  private async showLottery(id?: string) {
    const { lotteries } = this.deps;
    if (!lotteries) return;
    try {
      const l = id ? await lotteries.get(id) : await lotteries.current(this.roomId);
      if (!l) return;
      const s = this.state.lottery;
      // An older lottery's late event must not replace a newer one.
      if (s.id && s.id !== l.id && s.id > l.id) return;
      s.id = l.id;
      s.prize = l.prize;
      s.winners = l.winners;
      s.method = l.method;
      s.keyword = l.keyword ?? '';
      s.giftId = l.giftId ?? '';
      s.followersOnly = l.followersOnly;
      s.endsAt = l.endsAt;
      s.entries = l.entries;
      s.status = l.status;
      s.seedHash = l.seedHash;
      s.winnerIds.clear();
      for (const w of l.winnerIds) s.winnerIds.push(w);
      if (id && l.status === 'drawn' && this.lotteryResultSent !== l.id) {
        this.lotteryResultSent = l.id;
        const result: LotteryResult = {
          lotteryId: l.id,
          prize: l.prize,
          winners: l.winnerUsers,
          entries: l.entries,
          seedHash: l.seedHash,
          seed: l.seed ?? '',
          entriesHash: l.entriesHash ?? '',
          drawnAt: l.drawnAt ?? '',
        };
        this.broadcast('lottery:result', result);
      }
    } catch (err) {
      this.deps.logger.warn({ err, roomId: this.roomId, lotteryId: id }, 'lottery refresh failed');
    }
  }

  private async refreshLotteryCount() {
    const id = this.state.lottery.id;
    if (!this.deps.lotteries || !id || this.state.lottery.status !== 'open') return void (this.lotteryCountDue = false);
    this.lotteryCountLoading = true;
    this.lotteryCountDue = false;
    try {
      const n = await this.deps.lotteries.entryCount(id);
      if (this.state.lottery.id === id && this.state.lottery.status === 'open') this.state.lottery.entries = n;
    } catch (err) {
      this.deps.logger.warn({ err, roomId: this.roomId }, 'lottery count refresh failed');
    } finally {
      this.clock.setTimeout(() => (this.lotteryCountLoading = false), LOTTERY_COUNT_REFRESH_MS);
    }
  }

  /** A chat line with the open danmaku lottery's keyword enters its author. */
  private enterByDanmaku(client: ViewerClient, line: ChatMessage) {
    const l = this.state.lottery;
    if (!this.deps.lotteries || l.status !== 'open' || l.method !== 'danmaku' || !l.keyword) return;
    if (!line.text.toLowerCase().includes(l.keyword.toLowerCase())) return;
    this.enterFor(client.auth?.user ?? null, 'danmaku', new Date(line.at), { text: line.text }, [client]);
  }

  private enterFor(user: { id: string } | null, via: 'danmaku', at: Date, proof: { text?: string }, clients: ViewerClient[]) {
    const id = this.state.lottery.id;
    this.deps.lotteries!.enter(id, user, via, at, proof).then(
      (r) => {
        for (const c of clients) c.send('lottery:entered', { lotteryId: id, entered: r.entered });
        this.lotteryCountDue = true;
      },
      (err) => {
        if (!isDomainError(err)) return this.deps.logger.warn({ err, roomId: this.roomId, lotteryId: id }, 'lottery entry failed');
        // The chat line or gift itself went through; tell its author why it did not enter them.
        for (const c of clients) reply(c, new DomainError(err.code, `lottery: ${err.message}`, err.details));
      },
    );
  }

  private pushChat(m: ChatMessage) {
    this.state.chat.push(toChatLine(m));
    while (this.state.chat.length > this.deps.settings.chatHistory) this.state.chat.shift();
  }

  private countOnline() {
    this.state.online = this.clients.length;
    const ms = patchIntervalMs(this.clients.length, this.deps.settings);
    if (ms !== this.patchRate) this.patchRate = ms;
    const now = Date.now();
    if (this.clients.length !== this.reportedOnline && now - this.onlineReportedAt >= this.deps.settings.onlineReportMs) this.reportOnline(this.clients.length);
  }

  private reportOnline(online: number) {
    this.reportedOnline = online;
    this.onlineReportedAt = Date.now();
    this.deps.rooms.reportOnline?.(this.roomId, online).catch((err) => this.deps.logger.warn({ err, roomId: this.roomId }, 'online report failed'));
  }

  private actor(client: ViewerClient) {
    const user = client.auth?.user;
    if (!user) throw new DomainError('unauthorized', 'sign in to moderate');
    return { ...user, ip: client.auth?.ip ?? null };
  }

  private clientsOf(userId: string): ViewerClient[] {
    return this.clients.filter((c) => c.auth?.user?.id === userId);
  }

  /** Validates a message, runs it, and turns a refusal into an `error` reply to that client only. */
  private handle<S extends z.ZodType>(type: string, schema: S, run: (client: ViewerClient, msg: z.infer<S>) => Promise<void>) {
    this.onMessage(type, (client: ViewerClient, raw: unknown) => {
      const parsed = schema.safeParse(raw ?? {});
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        return reply(client, new DomainError('validation_failed', `${type}: ${issue?.path.join('.') || 'message'}: ${issue?.message ?? 'invalid'}`));
      }
      run(client, parsed.data).catch((err) => {
        if (isDomainError(err)) return reply(client, err);
        this.deps.logger.error({ err, type, roomId: this.roomId }, 'live room handler failed');
        client.send('error', { code: 'internal_error', message: 'internal error' });
      });
    });
  }
}

function reply(client: ViewerClient, err: DomainError) {
  const body: LiveRoomBroadcasts['error'] = { code: err.code, message: err.message };
  if (typeof err.details?.retryAfterSec === 'number') body.retryAfterSec = err.details.retryAfterSec;
  client.send('error', body);
}

function toChatLine(m: ChatMessage) {
  return new ChatLine({ id: m.id, userId: m.userId, nickname: m.nickname, text: m.text, at: m.at });
}

/** The room class registered with Colyseus, closing over its collaborators (static onAuth has no instance). */
export function liveRoomClass(deps: LiveRoomDeps): typeof LiveRoom {
  return class extends LiveRoom {
    deps = deps;
    static async onAuth(token: string, options: unknown, ctx: AuthContext) {
      return authenticateViewer(deps, token, options, ctx);
    }
  };
}
