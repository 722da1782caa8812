// The event bus that carries events between adapters (a gift paid over REST
// must reach the room; a publish starting in media must flip the room to live).
// One interface and its in-process implementation here; the Redis pub/sub one
// for several processes is an adapter (src/events/redis-bus.ts) and keeps the
// same contract: the same tests run against both.
import { EventEmitter } from 'node:events';
import type { RoomStatus } from '../db/schema.ts';
import type { ErrorCode } from './errors.ts';

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
  /** Someone entered (the room refreshes its entry count, batched). `via`: how; a `gift` entry comes with the gift's payment, and the room tells its sender. */
  'lottery.entered': { roomId: string; lotteryId: string; userId: string; via?: 'click' | 'danmaku' | 'gift' };
  /** A paid gift of a gift lottery did not enter its sender (e.g. followers only): the room tells them why. */
  'lottery.refused': { roomId: string; lotteryId: string; userId: string; code: ErrorCode; message: string };
  /** The draw committed; winners, seed and entriesHash are readable now. May repeat for one lottery (a re-run draw job): handle once. */
  'lottery.drawn': { roomId: string; lotteryId: string };
}
export type Topic = keyof EventMap;
export type Handler<T extends Topic> = (payload: EventMap[T]) => void;

/**
 * What every implementation keeps (test/events.test.ts runs both against it):
 * an event reaches the topic's subscribers in publish order, on a later tick
 * (a publisher never runs subscribers' code inline), and not after unsubscribe.
 */
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
