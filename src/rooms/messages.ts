// The messages a live room accepts and sends (API.md "Rooms (Colyseus)"),
// as zod schemas: the room validates with them and the client SDK takes its
// types from them. Text rules (length, control characters) are chat's own
// (domain/chat.ts), so `text` is only required to be a string here.
import { z } from 'zod';

// Ids are plain ASCII tokens (UUIDs): anything else cannot exist, and a NUL byte would reach the database as an error.
const anId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'not a valid id');
const userId = anId;
export const chatMessage = z.strictObject({ text: z.string().max(10_000) });
export const slowMessage = z.strictObject({ seconds: z.number().int().min(0) });
export const followersOnlyMessage = z.strictObject({ enabled: z.boolean() });
export const muteMessage = z.strictObject({ userId, seconds: z.number().int().min(1) });
export const banMessage = z.strictObject({ userId });
export const deleteMessage = z.strictObject({ messageId: anId });
export const lotteryEnterMessage = z.strictObject({ lotteryId: anId });

/** Client -> room. */
export interface LiveRoomClientMessages {
  chat: z.infer<typeof chatMessage>;
  'mod:slow': z.infer<typeof slowMessage>;
  'mod:followers_only': z.infer<typeof followersOnlyMessage>;
  'mod:mute': z.infer<typeof muteMessage>;
  'mod:ban': z.infer<typeof banMessage>;
  'mod:delete': z.infer<typeof deleteMessage>;
  'lottery:enter': z.infer<typeof lotteryEnterMessage>;
}

export interface GiftBroadcast {
  id: string;
  userId: string;
  nickname: string;
  giftId: string;
  giftName: string;
  icon: string;
  /** This send's count and coins. */
  count: number;
  amount: number;
  at: string;
  /** Sends of this gift by this user in a row (within GIFT_COMBO_WINDOW_MS of each other), this one included. */
  combo: number;
  /** The combo's running total count, this send included. */
  comboCount: number;
}

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
