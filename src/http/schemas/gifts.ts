// Zod schemas of the gift endpoints: the catalog, sending a gift, top fans.
import { z } from 'zod';
import { giftIdPattern } from '../../domain/gift-catalog.ts';

export const gift = z.object({ id: z.string(), name: z.string(), price: z.number().int(), icon: z.string() });
export const giftList = z.object({ items: z.array(gift) });

export const sendGiftBody = (maxCount: number) =>
  z.strictObject({
    giftId: z.string().regex(giftIdPattern, 'not a gift id'),
    count: z.number().int().min(1).max(maxCount).default(1),
  });
export const sendGiftReply = z.object({ balance: z.number().int(), giftEventId: z.string() });

export const topFansQuery = (maxLimit: number) =>
  z.strictObject({
    window: z.enum(['day', 'all']).default('day'),
    limit: z.coerce.number().int().min(1).max(maxLimit).default(10),
  });
export const topFansReply = z.object({
  items: z.array(z.object({ userId: z.string(), nickname: z.string(), amount: z.number().int() })),
});
