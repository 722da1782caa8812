// The live room actor: a live room is one or more Colyseus `live` rooms, its
// shards (a new one opens when the others are full, ROOM_SHARD_SIZE), each
// showing the whole room. A shard holds its lifecycle (create, join, drop,
// dispose), the room's status and info, and wires its parts: viewer sessions
// (viewer-auth.ts), chat and moderation (chat-handlers.ts) relayed between
// shards (shard-relay.ts), the gift feed (gift-feed.ts), top fans
// (top-fans.ts), the lottery (lottery-view.ts) and the online count
// (online-count.ts). Every rule lives in domain/. Chat and gifts reach clients
// through state patches (batched per tick); `gift` broadcasts are capped per tick.
import { CloseCode, matchMaker, Room, ServerError, type AuthContext, type Client } from '@colyseus/core';
import type { Logger } from 'pino';
import type { ChatService } from '../domain/chat.ts';
import type { RoomStatus } from '../domain/rooms.ts';
import { chatHandlers, relayedChat, showChat } from './chat-handlers.ts';
import { GiftFeed, type GiftFeedSettings } from './gift-feed.ts';
import { RoomLotteryView, type LiveRoomLotteries } from './lottery-view.ts';
import { clientMessages, type ClientMessageType, type LiveRoomBroadcasts } from './messages.ts';
import { OnlineCount, type OnlineSettings } from './online-count.ts';
import type { RoomEvents } from './room-events.ts';
import { ShardRelay, type ShardRelaySettings } from './shard-relay.ts';
import { LiveRoomState } from './state.ts';
import { topFansBoard, type TopFansSource } from './top-fans.ts';
import type { ThrottledRefresh } from './throttled-refresh.ts';
import {
  authenticateViewer,
  CLOSE_BANNED,
  CLOSE_REVOKED,
  CODE_BANNED,
  CODE_NOT_FOUND,
  ROOM_ID,
  SessionRevocations,
  type ViewerAuth,
  type ViewerTokens,
} from './viewer-auth.ts';
import { messageReceiver } from './viewer-messages.ts';

/** What the live room needs to know about a room; the rooms service provides it. */
export interface LiveRoomInfo {
  id: string;
  title: string;
  status: RoomStatus;
  interrupted?: boolean;
  streamer: { id: string; nickname: string; avatarUrl: string | null };
}

export interface LiveRoomSettings extends GiftFeedSettings, OnlineSettings, ShardRelaySettings {
  chatHistory: number;
  topFansSize: number;
  reconnectSec: number;
  /** Clients per shard: joins go to a shard with room, or open a new one (ROOM_SHARD_SIZE). */
  shardSize: number;
  /** `online` is refreshed at most this often: during a join storm a per-join update would patch every client every tick. */
  onlineUpdateMs: number;
  /** A client sending more messages than this in a second is disconnected (a flood, not a person). */
  maxMessagesPerSec: number;
  /** A seat reserved by matchmaking and not claimed within this is freed (ROOM_SEAT_RESERVATION_SEC). */
  seatReservationSec: number;
}

/** The collaborators of every live room, in one object. */
export interface LiveRoomDeps {
  rooms: {
    get(roomId: string): Promise<LiveRoomInfo | undefined>;
    /** The room's client count for listings and rankings; called on change, at most every `onlineReportMs`. */
    reportOnline?(roomId: string, online: number): Promise<void>;
  };
  viewers: ViewerTokens;
  chat: Pick<ChatService, 'open' | 'isBanned'>;
  topFans?: TopFansSource;
  lotteries?: LiveRoomLotteries;
  events: RoomEvents;
  logger: Logger;
  settings: LiveRoomSettings;
}

type ViewerClient = Client<{ auth: ViewerAuth; messages: LiveRoomBroadcasts }>;

export class LiveRoom extends Room<{ state: InstanceType<typeof LiveRoomState>; client: ViewerClient }> {
  declare deps: LiveRoomDeps;
  // The parts, made in onCreate (they need the room's id and state).
  private sessions!: SessionRevocations;
  private giftFeed!: GiftFeed;
  private topFans!: ThrottledRefresh;
  private lottery!: RoomLotteryView;
  private online!: OnlineCount;
  private relay!: ShardRelay;
  private offEvents: (() => void)[] = [];

  async onCreate(options: { roomId?: unknown }) {
    const { deps } = this;
    const { settings, logger } = deps;
    const roomId = options?.roomId;
    if (typeof roomId !== 'string' || roomId.length === 0) throw new ServerError(CODE_NOT_FOUND, 'roomId is required');
    // No room has any other id; a NUL byte would otherwise fail the lookup with a database error (and its SQL) as the reply.
    if (!ROOM_ID.test(roomId)) throw new ServerError(CODE_NOT_FOUND, 'no such room');
    const info = await deps.rooms.get(roomId);
    if (!info) throw new ServerError(CODE_NOT_FOUND, 'no such room');
    // The room's first shard has the live room id as its Colyseus id, so `joinById(roomId)` reaches it;
    // later shards keep the id Colyseus gave them (a client never names a shard).
    if ((await matchMaker.query({ roomId })).length === 0) this.roomId = roomId;
    this.maxClients = settings.shardSize;
    this.maxMessagesPerSecond = settings.maxMessagesPerSec;
    this.seatReservationTimeout = settings.seatReservationSec;
    this.patchRate = settings.patchMs;
    // Listening before the history is read: a line another shard accepts meanwhile is not lost.
    this.relay = new ShardRelay({
      presence: this.presence,
      liveRoomId: roomId,
      shardId: this.roomId,
      settings,
      // Not the room's clock: it ticks only with patches (every ROOM_PATCH_MS or more), and a relay batch that waited
      // for a tick would wait for the next patch again on arrival. The relay ignores its timers once closed.
      setTimeout: (fn, ms) => void setTimeout(fn, ms),
      onPublishFailed: (err) => logger.warn({ err, roomId }, 'shard relay publish failed'),
    });
    await this.relay.start();
    const chatRoom = await deps.chat.open({ id: info.id, streamerId: info.streamer.id });

    const state = new LiveRoomState();
    state.roomId = info.id;
    this.applyInfo(state, info);
    state.status = info.status;
    state.interrupted = info.interrupted ?? false;
    showChat(state, chatRoom);
    this.state = state;
    this.autoDispose = info.status !== 'live';

    // Timers on the room's clock: a disposed room leaves none behind.
    const later = (fn: () => void, ms: number) => void this.clock.setTimeout(fn, ms);
    const viewersOf = (userId: string) => this.clients.filter((c) => c.auth?.user?.id === userId);
    this.sessions = new SessionRevocations(
      deps.events,
      // The current client of the session (a reconnection is a new Client object).
      (sessionId, why) => this.clients.find((c) => c.sessionId === sessionId)?.leave(CLOSE_REVOKED, why === 'expired' ? 'session expired; sign in again' : 'signed out'),
      (fn, ms) => {
        const delayed = this.clock.setTimeout(fn, ms);
        return () => delayed.clear();
      },
    );
    this.online = new OnlineCount({ roomId, state, rooms: deps.rooms, settings, logger });
    this.giftFeed = new GiftFeed(state.gifts, settings);
    this.topFans = topFansBoard({ roomId, topFans: deps.topFans, size: settings.topFansSize, state, logger, setTimeout: later });
    this.topFans.request();
    const lottery = new RoomLotteryView({
      roomId,
      lotteries: deps.lotteries,
      state,
      broadcastResult: (r) => this.broadcast('lottery:result', r),
      viewersOf,
      logger,
      setTimeout: later,
    });
    this.lottery = lottery;

    this.clock.setInterval(() => this.countOnline(true), settings.onlineUpdateMs);
    this.offEvents.push(
      deps.events.on('room.status', roomId, (e) => this.setStatus(e.status, e.interrupted ?? false)),
      deps.events.on('room.updated', roomId, () => void this.refreshInfo()),
      deps.events.on('room.gift', roomId, (e) => {
        this.giftFeed.add(e);
        this.topFans.request();
      }),
      deps.events.on('lottery.created', roomId, (e) => void lottery.show(e.lotteryId)),
      deps.events.on('lottery.entered', roomId, (e) => lottery.entered(e)),
      deps.events.on('lottery.refused', roomId, (e) => lottery.refused(e)),
      deps.events.on('lottery.drawn', roomId, (e) => void lottery.show(e.lotteryId)),
    );
    if (deps.lotteries) await lottery.show();

    const chat = { chatRoom, state, chatHistory: settings.chatHistory, viewersOf };
    this.relay.attach(relayedChat(chat));
    const receive = messageReceiver(
      {
        ...chatHandlers({ ...chat, onPosted: (viewer, line) => lottery.enterByDanmaku(viewer, line), relay: (item) => this.relay.send(item) }),
        ...lottery.handlers,
      },
      (err, type) => logger.error({ err, type, roomId }, 'live room handler failed'),
    );
    for (const type of Object.keys(clientMessages) as ClientMessageType[]) this.onMessage(type, (client: ViewerClient, raw: unknown) => void receive(type, client, raw));
  }

  async onJoin(client: ViewerClient) {
    const user = client.auth?.user;
    // joinById carries no roomId in its options, so the ban is checked here as well as in onAuth.
    if (user && (await this.deps.chat.isBanned(this.roomId, user.id))) throw new ServerError(CODE_BANNED, 'you are banned from this room');
    const jti = client.auth?.jti;
    if (user && jti) this.sessions.watch(client.sessionId, jti, client.auth?.expiresAt);
    this.countOnline();
  }

  onLeave(client: ViewerClient) {
    // Once per session, when it is gone for good (after a drop with no reconnection, too).
    this.sessions.forget(client.sessionId);
  }

  async onDrop(client: ViewerClient, code?: number) {
    // A connection closed for flooding (maxMessagesPerSecond), or a banned viewer we closed, gets no seat to
    // come back to: Colyseus treats any close but a consented leave as a drop, and its reconnection token would
    // otherwise bring the banned viewer back (reconnection runs no onAuth/onJoin).
    if (code === CloseCode.WITH_ERROR || code === CLOSE_BANNED || code === CLOSE_REVOKED || this.sessions.isRevoked(client.sessionId)) return;
    if (this.deps.settings.reconnectSec > 0) await this.allowReconnection(client, this.deps.settings.reconnectSec);
  }

  /** Banned or signed out while the connection was down: the kick could not reach it then. */
  async onReconnect(client: ViewerClient) {
    const user = client.auth?.user;
    if (this.sessions.isRevoked(client.sessionId)) return client.leave(CLOSE_REVOKED, 'signed out');
    if (user && (await this.deps.chat.isBanned(this.roomId, user.id))) client.leave(CLOSE_BANNED, 'banned');
  }

  onBeforePatch() {
    // Patches start with patchRate, while onCreate may still be loading the room and making its parts.
    if (!this.lottery) return;
    // Bounded frames per client per tick: the rest of a burst is in `state.gifts` already.
    for (const g of this.giftFeed.takeBroadcasts()) this.broadcast('gift', g);
    this.topFans.tick();
    this.lottery.tick();
  }

  onDispose() {
    for (const off of this.offEvents) off();
    this.offEvents = [];
    // Colyseus disposes a room whose onCreate failed too: its parts may not exist.
    this.sessions?.close();
    // The last shard of the room says it holds nobody; another that stays reports the room's count.
    if (this.relay?.shards() === 1) this.online?.close();
    this.relay?.close();
  }

  /** Status from the rooms service / media: a live room stays open while empty; an idle empty one goes. */
  private setStatus(status: RoomStatus, interrupted: boolean) {
    this.state.status = status;
    this.state.interrupted = status === 'live' && interrupted;
    this.keepOpen();
    if (status !== 'live' && this.clients.length === 0) void this.disconnect();
  }

  /** A live room keeps its leading shard open while empty (viewers come back to it); any other empty shard closes. */
  private keepOpen() {
    this.autoDispose = this.state.status !== 'live' || !this.relay.leads();
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

  private countOnline(announce = false) {
    const local = this.clients.length;
    this.relay.count(local);
    if (announce) this.relay.announce();
    const ms = this.online.update(this.relay.total(), local, this.relay.leads());
    if (ms !== this.patchRate) this.patchRate = ms;
    this.keepOpen();
  }
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
