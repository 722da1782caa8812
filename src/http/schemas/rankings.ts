// Zod schemas of the rankings endpoint (request and reply).
import { z } from 'zod';
import { RANKING_BOARDS, RANKING_WINDOWS } from '../../db/schema.ts';

export const rankingBoard = z.enum(RANKING_BOARDS);
export const rankingWindow = z.enum(RANKING_WINDOWS);

export const rankingsQuery = (maxLimit: number) =>
  z.strictObject({
    board: rankingBoard,
    window: rankingWindow.default('day').describe('UTC calendar period: the current hour, day, ISO week (from Monday), or all time'),
    limit: z.coerce.number().int().min(1).max(maxLimit).default(Math.min(20, maxLimit)),
  });

export const rankItem = z.object({
  id: z.string().describe('A user id (streamer boards) or a room id (room_audience)'),
  name: z.string().describe('The streamer\'s nickname or the room\'s title'),
  score: z.number().int().describe('Followers gained, coins earned, or peak online'),
});

export const rankingsReply = z.object({
  board: rankingBoard,
  window: rankingWindow,
  updatedAt: z.string().describe('When the board was computed'),
  items: z.array(rankItem),
});
