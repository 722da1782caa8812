// The messages a live room accepts and sends (docs/api.md "Rooms (Colyseus)"),
// as zod schemas: the room validates with them and the client SDK takes its
// types from them. Text rules (length, control characters) are chat's own
// (domain/chat.ts), so `text` is only required to be a string here.
import { z } from 'zod';
import type { EventMap } from '../domain/events.ts';

// Ids are plain ASCII tokens (UUIDs): anything else cannot exist, and a NUL byte would reach the database as an error.
const anId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'not a valid id');
const userId = anId;

/** Client -> room: each message type with the schema its body must pass. */
export const clientMessages = {
  chat: z.strictObject({ text: z.string().max(10_000) }),
  'mod:slow': z.strictObject({ seconds: z.number().int().min(0) }),
  'mod:followers_only': z.strictObject({ enabled: z.boolean() }),
  'mod:mute': z.strictObject({ userId, seconds: z.number().int().min(1) }),
  'mod:ban': z.strictObject({ userId }),
  'mod:delete': z.strictObject({ messageId: anId }),
  'lottery:enter': z.strictObject({ lotteryId: anId }),
};

export type ClientMessageType = keyof typeof clientMessages;
export type LiveRoomClientMessages = { [K in ClientMessageType]: z.infer<(typeof clientMessages)[K]> };

type GiftEvent = EventMap['room.gift'];

/**
 * A paid gift as every viewer gets it: the fields of its bus event that are
 * shown (`count` and `amount` are this send's), `giftEventId` as `id`, and the
 * combo it belongs to.
 */
export type GiftBroadcast = Pick<GiftEvent, 'userId' | 'nickname' | 'giftId' | 'giftName' | 'icon' | 'count' | 'amount' | 'at'> & {
  id: GiftEvent['giftEventId'];
  /** Sends of this gift by this user in a row (within GIFT_COMBO_WINDOW_MS of each other), this one included. */
  combo: number;
  /** The combo's running total count, this send included. */
  comboCount: number;
};

/** The draw of a lottery, to everyone in its room (once per lottery). */
export interface LotteryResult {
  lotteryId: string;
  prize: string;
  /** In draw order. */
  winners: { id: string; nickname: string }[];
  entries: number;
  seedHash: string;
  seed: string;
  entriesHash: string;
  drawnAt: string;
}

/** Room -> client. */
export interface LiveRoomBroadcasts {
  /** Only to the client whose message was refused. */
  error: { code: string; message: string; retryAfterSec?: number };
  gift: GiftBroadcast;
  system: { text: string };
  /** Only to the moderator whose action succeeded. */
  'mod:ok': { action: string; userId?: string; messageId?: string; until?: string };
  'lottery:result': LotteryResult;
  /** Only to the client whose `lottery:enter` (or keyword message, or gift) entered it; `entered: false` = already in. */
  'lottery:entered': { lotteryId: string; entered: boolean };
}
