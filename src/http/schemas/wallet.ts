// Zod schemas of the wallet and ledger endpoints (requests and replies).
import { z } from 'zod';
import { TRANSFER_KINDS } from '../../db/schema.ts';
import { id, pageQuery, plainText } from './common.ts';

export const walletReply = z.object({
  balance: z.number().int().describe('Coins in your wallet'),
  earnings: z.number().int().describe('Coins earned from gifts in your room'),
});

export const ledgerQuery = (maxLimit: number, defaultLimit: number) =>
  pageQuery(maxLimit, defaultLimit).extend({ account: z.enum(['wallet', 'earnings']).default('wallet') });

export const ledgerItem = z.object({
  id: z.string(),
  transferId: z.string(),
  at: z.string(),
  kind: z.enum(TRANSFER_KINDS),
  amount: z.number().int().describe('Signed: + credit, - debit'),
  balanceAfter: z.number().int().nullable(),
  counterparty: z.object({ type: z.enum(['issuance', 'user']), userId: z.string().nullable() }),
  gift: z
    .object({ giftEventId: z.string(), roomId: z.string(), giftId: z.string(), count: z.number().int(), senderId: z.string(), streamerId: z.string() })
    .nullable(),
  note: z.string().nullable(),
});

export const grantBody = (maxAmount: number) =>
  z.strictObject({
    userId: id,
    amount: z.number().int().min(1).max(maxAmount),
    // Plain text like every other free-text field: a NUL byte or other control character is a 400, not a database error.
    note: plainText('note', 1, 200).optional(),
  });
export const balanceReply = z.object({ balance: z.number().int() });

export const ledgerReport = z.object({
  ok: z.boolean(),
  checkedAt: z.string(),
  transfers: z.number().int(),
  entries: z.number().int(),
  accounts: z.number().int(),
  total: z.number().int(),
  issued: z.number().int(),
  violations: z.array(z.object({ check: z.string(), detail: z.record(z.string(), z.unknown()) })),
});
