// The in-process event bus that carries events between adapters (a gift paid
// over REST must reach the room; a publish starting in media must flip the
// room to live). One interface, a local implementation and a Redis pub/sub
// one for several processes; the same tests run against both.
import type { ErrorCode } from './errors.ts';
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import type { RoomStatus } from '../db/schema.ts';

/** Every event that crosses adapters, by topic. Add topics here as features need them. */
export interface EventMap {
  'room.status': { roomId: string; status: RoomStatus; interrupted?: boolean; at: string };
  'room.updated': { roomId: string };
  /** The media side must disconnect the room's publisher (broadcast ended by its owner/an admin, or key rotated). */
  'room.kick': { roomId: string; reason: 'ended' | 'key_rotated' };
  'follow.changed': { type: 'follow' | 'unfollow'; followerId: string; followeeId: string };
  /** A token was revoked (logout): live-room sessions opened with it end, whichever process holds them. */
  'auth.revoked': { userId: string; jti: string };
  /** A paid gift, published after its transfer committed (domain/gifts.ts); `amount` is the total paid in coins. */
  'room.gift': {
    roomId: string;
    giftEventId: string;
    userId: string;
    nickname: string;
    streamerId: string;
    giftId: string;
    giftName: string;
    icon: string;
    count: number;
    amount: number;
    at: string;
  };
  /** Ranking snapshots that changed (domain/rankings.ts); readers reload them. */
  'rankings.updated': { boards: { board: string; window: string }[]; at: string };
  /** A lottery opened in a room (domain/lotteries.ts). */
  'lottery.created': { roomId: string; lotteryId: string };
  /** Someone entered (the room refreshes its entry count, batched). */
  /** `via`: how the entry came (a `gift` entry is made where the gift was paid; the room tells its sender). */
  'lottery.entered': { roomId: string; lotteryId: string; userId: string; via?: 'click' | 'danmaku' | 'gift' };
  /** A paid gift of a gift lottery did not enter its sender (e.g. followers only): the room tells them why. */
  'lottery.refused': { roomId: string; lotteryId: string; userId: string; code: ErrorCode; message: string };
  /** The draw committed; winners, seed and entriesHash are readable now. May repeat for one lottery (a re-run draw job): handle once. */
  'lottery.drawn': { roomId: string; lotteryId: string };
}
export type Topic = keyof EventMap;
export type Handler<T extends Topic> = (payload: EventMap[T]) => void;

export interface EventBus {
  publish<T extends Topic>(topic: T, payload: EventMap[T]): Promise<void>;
  /** Returns the function that unsubscribes. */
  subscribe<T extends Topic>(topic: T, handler: Handler<T>): () => void;
  close(): Promise<void>;
}

export function createLocalEventBus(): EventBus {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  return {
    async publish(topic, payload) {
      // Delivered on a later tick, as over Redis: publishers never run subscribers' code inline.
      queueMicrotask(() => emitter.emit(topic, payload));
    },
    subscribe(topic, handler) {
      const h = handler as (p: unknown) => void;
      emitter.on(topic, h);
      return () => emitter.off(topic, h);
    },
    async close() {
      emitter.removeAllListeners();
    },
  };
}

/**
 * Redis pub/sub: every process receives every event. `publisher` is the shared
 * connection; `subscriber` must be a dedicated one (a subscribed Redis
 * connection can do nothing else).
 */
export function createRedisEventBus(opts: { publisher: Redis; subscriber: Redis; prefix?: string; onError?: (e: unknown) => void }): EventBus {
  const prefix = opts.prefix ?? 'lr:events:';
  const local = new EventEmitter();
  local.setMaxListeners(0);
  const counts = new Map<string, number>();
  opts.subscriber.on('message', (channel: string, message: string) => {
    if (!channel.startsWith(prefix)) return;
    try {
      local.emit(channel.slice(prefix.length), JSON.parse(message));
    } catch (e) {
      opts.onError?.(e);
    }
  });
  return {
    async publish(topic, payload) {
      await opts.publisher.publish(prefix + topic, JSON.stringify(payload));
    },
    subscribe(topic, handler) {
      const h = handler as (p: unknown) => void;
      local.on(topic, h);
      const n = (counts.get(topic) ?? 0) + 1;
      counts.set(topic, n);
      if (n === 1) opts.subscriber.subscribe(prefix + topic).catch((e) => opts.onError?.(e));
      return () => {
        local.off(topic, h);
        const left = (counts.get(topic) ?? 1) - 1;
        counts.set(topic, left);
        if (left === 0) opts.subscriber.unsubscribe(prefix + topic).catch((e) => opts.onError?.(e));
      };
    },
    async close() {
      local.removeAllListeners();
      opts.subscriber.disconnect();
    },
  };
}
