// The rooms role: Colyseus on the API's HTTP server. Local presence and driver
// by default; with Redis, RedisPresence + RedisDriver so several processes
// share rooms (matchmaking anywhere, each room lives in one process, clients
// connect to that process's public address).
import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import { LocalDriver, LocalPresence, matchMaker, Server, type MatchMakerDriver, type Presence } from '@colyseus/core';
import { RedisDriver } from '@colyseus/redis-driver';
import { RedisPresence } from '@colyseus/redis-presence';
import { WebSocketTransport } from '@colyseus/ws-transport';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { EventBus } from '../domain/events.ts';
import type { Services } from '../domain/services.ts';
import { compileTrustProxy, pinClientAddress } from '../lib/client-address.ts';
import { liveRoomClass, type LiveRoomDeps, type LiveRoomSettings } from './live-room.ts';
import type { LiveRoomLotteries } from './lottery-view.ts';
import { createRoomEvents, type RoomEvents } from './room-events.ts';
import { rankingsRoomClass, type RankingsRoomDeps } from './rankings-room.ts';
import { selectProcessForRoom } from './shard-placement.ts';

/** What the rooms role uses of the domain services. */
export interface RoomsServices {
  events: EventBus;
  rooms: Pick<Services['rooms'], 'find'>;
  broadcasts: Pick<Services['broadcasts'], 'reportOnline'>;
  tokens: Pick<Services['tokens'], 'check'>;
  users: Pick<Services['users'], 'find'>;
  chat: LiveRoomDeps['chat'];
  gifts: Pick<Services['gifts'], 'topFans'>;
  lotteries: LiveRoomLotteries;
  rankings: RankingsRoomDeps['rankings'];
}

/** The settings of the live room, as config names them. */
type LiveRoomConfig = Pick<
  Config,
  | 'CHAT_HISTORY'
  | 'GIFT_FEED_SIZE'
  | 'GIFT_BROADCASTS_PER_TICK'
  | 'TOP_FANS_SIZE'
  | 'ROOM_RECONNECT_SEC'
  | 'ROOM_SHARD_SIZE'
  | 'ROOM_SHARD_RELAY_MS'
  | 'ROOM_SHARD_KEEPALIVE_MS'
  | 'ROOM_SHARD_ECHO_MS'
  | 'ROOM_PATCH_MS'
  | 'ROOM_PATCH_MS_PER_1K'
  | 'ROOM_PATCH_MS_MAX'
  | 'ROOM_ONLINE_UPDATE_MS'
  | 'ROOM_ONLINE_REPORT_MS'
  | 'GIFT_COMBO_WINDOW_MS'
  | 'ROOM_MAX_MESSAGES_PER_SEC'
  | 'ROOM_SEAT_RESERVATION_SEC'
>;

/** What the rooms role reads of the config. */
export type RoomsConfig = LiveRoomConfig & Pick<Config, 'REDIS_URL' | 'ROOMS_PUBLIC_ADDRESS' | 'HOST' | 'TRUST_PROXY' | 'RANKINGS_ROOM_ITEMS'>;

export interface RoomsServer {
  colyseus: Server;
  events: RoomEvents;
  /** The matchmaker accepts joins (not while starting or shutting down). */
  ready(): boolean;
  close(): Promise<void>;
}

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Colyseus puts its own request listener in front of the HTTP server's (it
 * answers /matchmake and hands the rest to the Express app). With `handOver`
 * the Express app is put back in front and Colyseus's listener is handed over,
 * so matchmaking passes the gateway's limits like any other request.
 */
function bindColyseusRoutes(httpServer: HttpServer, bind: () => void, handOver?: (handler: RequestListener) => void) {
  const before = httpServer.listeners('request') as RequestListener[];
  bind();
  if (!handOver) return;
  const colyseusListener = (httpServer.listeners('request') as RequestListener[]).find((l) => !before.includes(l));
  if (!colyseusListener) throw new Error('Colyseus did not bind its routes');
  httpServer.removeListener('request', colyseusListener);
  for (const l of before) if (!httpServer.listeners('request').includes(l)) httpServer.on('request', l);
  handOver(colyseusListener);
}

export function liveRoomSettings(config: LiveRoomConfig): LiveRoomSettings {
  return {
    chatHistory: config.CHAT_HISTORY,
    giftFeedSize: config.GIFT_FEED_SIZE,
    giftBroadcastsPerTick: config.GIFT_BROADCASTS_PER_TICK,
    topFansSize: config.TOP_FANS_SIZE,
    reconnectSec: config.ROOM_RECONNECT_SEC,
    shardSize: config.ROOM_SHARD_SIZE,
    relayMs: config.ROOM_SHARD_RELAY_MS,
    keepaliveMs: config.ROOM_SHARD_KEEPALIVE_MS,
    echoMs: config.ROOM_SHARD_ECHO_MS,
    patchMs: config.ROOM_PATCH_MS,
    patchMsPer1k: config.ROOM_PATCH_MS_PER_1K,
    patchMsMax: config.ROOM_PATCH_MS_MAX,
    onlineUpdateMs: config.ROOM_ONLINE_UPDATE_MS,
    onlineReportMs: config.ROOM_ONLINE_REPORT_MS,
    giftComboWindowMs: config.GIFT_COMBO_WINDOW_MS,
    maxMessagesPerSec: config.ROOM_MAX_MESSAGES_PER_SEC,
    seatReservationSec: config.ROOM_SEAT_RESERVATION_SEC,
  };
}

// Colyseus's WebSocket paths are /<processId>/<roomId>; other upgrades (none on
// this server today) are left to their owners.
const COLYSEUS_WS_PATH = /^\/[A-Za-z0-9_-]+\/[A-Za-z0-9_-]+(\?|$)/;

/**
 * Starts Colyseus on an HTTP server that is already listening on `port`.
 * One per process: Colyseus's matchmaker is process-wide.
 */
export async function startRooms(opts: {
  httpServer: HttpServer;
  port: number;
  config: RoomsConfig;
  services: RoomsServices;
  logger: Logger;
  /** Takes Colyseus's HTTP handler (matchmaking) to call it from the gateway; without it Colyseus answers first. */
  handOverRequests?: (handler: RequestListener) => void;
  /** Every WebSocket upgrade to a room (a seat being claimed), with the client's address under TRUST_PROXY. */
  onUpgrade?: (ip: string) => void;
}): Promise<RoomsServer> {
  const { config, services } = opts;
  const logger = opts.logger.child({ module: 'rooms' });
  let presence: Presence;
  let driver: MatchMakerDriver;
  let publicAddress: string | undefined;
  if (config.REDIS_URL) {
    presence = new RedisPresence(config.REDIS_URL);
    driver = new RedisDriver(config.REDIS_URL);
    // Other processes send clients here for the rooms this process holds.
    publicAddress = config.ROOMS_PUBLIC_ADDRESS ?? `${config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST}:${opts.port}`;
  } else {
    presence = new LocalPresence();
    driver = new LocalDriver();
  }
  const events = createRoomEvents(services.events, (err) => logger.error({ err }, 'room event handler failed'));

  const deps: LiveRoomDeps = {
    rooms: { get: (roomId) => services.rooms.find(roomId), reportOnline: services.broadcasts.reportOnline },
    viewers: {
      async fromToken(token) {
        const checked = await services.tokens.check(token);
        if (checked.state !== 'valid') return checked;
        const user = await services.users.find(checked.claims.userId);
        return user ? { state: 'valid', user, jti: checked.claims.jti, expiresAt: checked.claims.expiresAt.getTime() } : { state: 'invalid' };
      },
    },
    chat: services.chat,
    topFans: (roomId, limit) => services.gifts.topFans(roomId, 'day', limit),
    lotteries: services.lotteries,
    events,
    logger,
    settings: liveRoomSettings(config),
  };

  const transport = new WebSocketTransport({ noServer: true, maxPayload: 16 * 1024 });
  transport.attachToServer(opts.httpServer, { filter: (req) => COLYSEUS_WS_PATH.test(req.url ?? '') });
  const colyseus = new Server({
    transport,
    presence,
    driver,
    publicAddress,
    gracefullyShutdown: false,
    greet: false,
    logger,
    selectProcessIdToCreateRoom: selectProcessForRoom,
  });
  const live = colyseus.define('live', liveRoomClass(deps));
  // `join("live", {roomId})` must reach a shard of that room with a free seat, or open one. Colyseus
  // ignores `roomId` in filterBy (an internal name), so the shards carry it as `liveRoomId` in their
  // listing's metadata, which the drivers' queries match; joinOrCreate then also locks creation per room.
  live.getFilterOptions = (options: { roomId?: unknown } | undefined) =>
    typeof options?.roomId === 'string' ? { liveRoomId: options.roomId } : {};
  // `join("rankings")`: every leaderboard, pushed as it changes.
  colyseus.define('rankings', rankingsRoomClass({ rankings: services.rankings, events: services.events, logger, items: config.RANKINGS_ROOM_ITEMS, seatReservationSec: config.ROOM_SEAT_RESERVATION_SEC }));
  // What listen() does, minus binding a port (the API server already listens).
  // Not serverless(): it pre-reads every request body, which would take body
  // parsing, size limits and uploads away from Express.
  bindColyseusRoutes(opts.httpServer, () => (colyseus as unknown as { bindRoutes(): void }).bindRoutes(), opts.handOverRequests);
  // Colyseus takes the client's address from X-Real-IP / X-Forwarded-For / X-Client-IP as sent; the
  // address the audit log records (onAuth's ctx.ip, kept in client.auth) must follow TRUST_PROXY like
  // REST. Prepended: runs before Express, the matchmaking gate and Colyseus.
  const trust = compileTrustProxy(config.TRUST_PROXY);
  opts.httpServer.prependListener('request', (req: IncomingMessage) => {
    if (req.url?.startsWith('/matchmake/')) pinClientAddress(req, trust);
  });
  opts.httpServer.prependListener('upgrade', (req: IncomingMessage) => {
    if (!COLYSEUS_WS_PATH.test(req.url ?? '')) return;
    pinClientAddress(req, trust);
    opts.onUpgrade?.(req.headers['x-real-ip'] as string);
  });
  await matchMaker.accept();

  let closing: Promise<void> | undefined;
  return {
    colyseus,
    events,
    ready: () => matchMaker.state === matchMaker.MatchMakerState.READY,
    close() {
      closing ??= (async () => {
        await colyseus.gracefullyShutdown(false);
        events.close();
      })();
      return closing;
    },
  };
}
