// Zod schemas of the lottery endpoints (requests and replies).
import { z } from 'zod';
import { LOTTERY_METHODS, LOTTERY_STATUSES } from '../../db/schema.ts';
import { giftIdPattern } from '../../domain/gift-catalog.ts';
import { plainText } from './common.ts';

export const lotteryMethod = z.enum(LOTTERY_METHODS);

export const lotteryCreateBody = (s: { prizeMaxLength: number; keywordMaxLength: number; maxWinners: number; minDurationSec: number; maxDurationSec: number }) =>
  z.strictObject({
    prize: plainText('prize', 1, s.prizeMaxLength),
    winners: z.number().int().min(1).max(s.maxWinners),
    method: lotteryMethod.describe('click: the enter button or POST /lotteries/:id/entries; danmaku: a chat message containing `keyword`; gift: sending `giftId`'),
    keyword: plainText('keyword', 1, s.keywordMaxLength).optional().describe('danmaku only; matched case-insensitively anywhere in the message'),
    giftId: z.string().regex(giftIdPattern, 'not a gift id').optional().describe('gift only'),
    followersOnly: z.boolean().optional(),
    durationSec: z.number().int().min(s.minDurationSec).max(s.maxDurationSec),
  });

export const lottery = z.object({
  id: z.string(),
  roomId: z.string(),
  streamerId: z.string(),
  prize: z.string(),
  winners: z.number().int().describe('How many winners are drawn'),
  method: lotteryMethod,
  keyword: z.string().nullable(),
  giftId: z.string().nullable(),
  followersOnly: z.boolean(),
  status: z.enum(LOTTERY_STATUSES),
  createdAt: z.string(),
  endsAt: z.string(),
  drawnAt: z.string().nullable(),
  entries: z.number().int().describe('Entrants so far; frozen at the draw'),
  winnerIds: z.array(z.string()).describe('In draw order; empty until drawn'),
  winnerUsers: z.array(z.object({ id: z.string(), nickname: z.string() })),
  seedHash: z.string().describe('hex(sha256(seed)), published at creation'),
  seed: z.string().nullable().describe('64 hex digits, revealed at the draw'),
  entriesHash: z.string().nullable().describe('hex(sha256(sorted entrant ids joined by "\\n")), published at the draw'),
  algorithm: z.string().describe('The draw algorithm (docs/lotteries.md)'),
});
export const lotteryReply = z.object({ lottery });
export const enterReply = z.object({ lotteryId: z.string(), entered: z.boolean().describe('false: you had entered already (counted once)') });

export const entrantsQuery = (maxLimit: number) =>
  z.strictObject({
    // The last user id of the previous page; PostgreSQL text cannot hold a NUL byte, so one is a 400, not a database error.
    cursor: z.string().max(128).refine((c) => !c.includes('\u0000'), 'cursor is not valid').optional(),
    limit: z.coerce.number().int().min(1).max(maxLimit).default(Math.min(1000, maxLimit)),
  });
export const entrantsReply = z.object({
  items: z.array(z.object({ userId: z.string(), via: lotteryMethod, at: z.string() })),
  nextCursor: z.string().nullable(),
});
