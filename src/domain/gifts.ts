// Paid gifts in rooms: price from the catalog, one ledger statement that debits
// the sender and credits the streamer's share and the platform's rest,
// idempotency key replay, then a `room.gift` event for the room to show.
// Gifting your own room is refused (`cannot_gift_own_room`).
import { and, desc, eq, gte, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/connect.ts';
import { transfers, users, type RoomStatus } from '../db/schema.ts';
import { toInt } from '../db/sql-runner.ts';
import { DomainError, isUniqueViolation } from './errors.ts';
import type { EventBus } from './events.ts';
import type { Gift, GiftCatalog } from './gift-catalog.ts';
import { findStoredResult, requestHash, type IdempotencyKey } from './idempotency.ts';
import { splitGift, type Ledger } from './ledger.ts';

/** What gifts need to know about a room; the rooms service provides it. */
export interface GiftRoom {
  id: string;
  streamerId: string;
  status: RoomStatus;
}
export interface RoomLookup {
  /** Undefined when there is no such room. */
  find(roomId: string): Promise<GiftRoom | undefined>;
}

export interface SendGiftInput {
  roomId: string;
  giftId: string;
  count: number;
  sender: { id: string; nickname: string };
  idempotency: IdempotencyKey | null;
  ip: string | null;
}

/** A paid gift: the sender's new balance and the gift event; `replayed` when the key had paid it already. */
export interface SentGift {
  balance: number;
  giftEventId: string;
  replayed: boolean;
}

export interface TopFan {
  userId: string;
  nickname: string;
  amount: number;
}

export interface GiftsDeps {
  db: Db;
  ledger: Ledger;
  catalog: GiftCatalog;
  rooms: RoomLookup;
  events: EventBus;
  streamerSharePercent: number;
  maxCount: number;
  /** Called when publishing a gift event fails (the gift itself is paid and stays paid). */
  onPublishError?(e: unknown): void;
  /** A gift was paid: what else it does (enter the room's gift lottery). Failures go to onPublishError. */
  afterPaid?(gift: { roomId: string; userId: string; giftId: string; at: Date }): Promise<unknown>;
}

const DAY_MS = 24 * 3600 * 1000;

/** A room's streamer never changes: remember lookups briefly to save a query per gift. */
const ROOM_CACHE_MS = 10_000;
const ROOM_CACHE_MAX = 10_000;

export function createGifts(deps: GiftsDeps) {
  const { db } = deps;
  const roomCache = new Map<string, { room: GiftRoom; until: number }>();

  async function findRoom(roomId: string): Promise<GiftRoom | undefined> {
    const now = Date.now();
    const hit = roomCache.get(roomId);
    if (hit && hit.until > now) return hit.room;
    const room = await deps.rooms.find(roomId);
    if (room) {
      if (roomCache.size >= ROOM_CACHE_MAX) roomCache.clear();
      roomCache.set(roomId, { room, until: now + ROOM_CACHE_MS });
    } else roomCache.delete(roomId);
    return room;
  }

  function requireGift(giftId: string): Gift {
    const gift = deps.catalog.get(giftId);
    if (!gift) throw new DomainError('gift_not_found', 'no such gift', { giftId });
    return gift;
  }

  async function replay(userId: string, key: string, hash: string): Promise<SentGift | undefined> {
    const stored = (await findStoredResult(db, userId, key, hash)) as Omit<SentGift, 'replayed'> | undefined;
    return stored && { balance: stored.balance, giftEventId: stored.giftEventId, replayed: true };
  }

  return {
    catalog: deps.catalog,

    async send(input: SendGiftInput): Promise<SentGift> {
      if (!Number.isSafeInteger(input.count) || input.count < 1 || input.count > deps.maxCount)
        throw new DomainError('validation_failed', `count must be an integer from 1 to ${deps.maxCount}`, { field: 'count' });
      const gift = requireGift(input.giftId);
      const room = await findRoom(input.roomId);
      if (!room) throw new DomainError('not_found', 'no such room', { roomId: input.roomId });
      if (room.streamerId === input.sender.id) throw new DomainError('cannot_gift_own_room', 'you cannot send gifts to your own room');

      const amount = gift.price * input.count;
      const split = splitGift(amount, deps.streamerSharePercent);
      const key = input.idempotency?.key ?? null;
      const hash = input.idempotency ? requestHash(input.idempotency.scope, { roomId: room.id, giftId: gift.id, count: input.count }) : null;

      let paid;
      try {
        paid = await deps.ledger.payGift({
          senderId: input.sender.id,
          streamerId: room.streamerId,
          roomId: room.id,
          giftId: gift.id,
          count: input.count,
          amount,
          streamerShare: split.streamer,
          platformShare: split.platform,
          idempotencyKey: key,
          requestHash: hash,
          ip: input.ip,
        });
      } catch (e) {
        // The key is already recorded (a retry, or a concurrent twin that committed first): nothing moved here.
        if (key !== null && isUniqueViolation(e)) {
          const earlier = await replay(input.sender.id, key, hash!);
          if (earlier) return earlier;
        }
        throw e;
      }
      if (!paid) {
        // Nothing moved. A key seen before means this is a replay of a gift that was paid.
        if (key !== null) {
          const earlier = await replay(input.sender.id, key, hash!);
          if (earlier) return earlier;
        }
        throw new DomainError('insufficient_funds', 'your balance does not cover this gift', { price: gift.price, count: input.count, amount });
      }

      deps.events
        .publish('room.gift', {
          roomId: room.id,
          giftEventId: paid.giftEventId,
          userId: input.sender.id,
          nickname: input.sender.nickname,
          streamerId: room.streamerId,
          giftId: gift.id,
          giftName: gift.name,
          icon: gift.icon,
          count: input.count,
          amount,
          at: paid.at.toISOString(),
        })
        .catch((e) => deps.onPublishError?.(e));
      deps.afterPaid?.({ roomId: room.id, userId: input.sender.id, giftId: gift.id, at: paid.at }).catch((e) => deps.onPublishError?.(e));
      return { balance: paid.balance, giftEventId: paid.giftEventId, replayed: false };
    },

    /** The room's biggest spenders from the ledger: the last 24 hours (`day`) or ever (`all`). */
    async topFans(roomId: string, window: 'day' | 'all', limit: number, now = new Date()): Promise<TopFan[]> {
      if (!(await deps.rooms.find(roomId))) throw new DomainError('not_found', 'no such room', { roomId });
      const where: SQL[] = [eq(transfers.kind, 'gift'), eq(transfers.roomId, roomId)];
      if (window === 'day') where.push(gte(transfers.at, new Date(now.getTime() - DAY_MS)));
      const total = sql<string>`sum(${transfers.amount})`;
      const rows = await db
        .select({ userId: transfers.userId, nickname: users.nickname, amount: total })
        .from(transfers)
        .leftJoin(users, eq(users.id, transfers.userId))
        .where(and(...where))
        .groupBy(transfers.userId, users.nickname)
        .orderBy(desc(total), transfers.userId)
        .limit(limit);
      return rows.map((r) => ({ userId: r.userId!, nickname: r.nickname ?? '', amount: toInt(r.amount) }));
    },
  };
}

export type GiftsService = ReturnType<typeof createGifts>;
