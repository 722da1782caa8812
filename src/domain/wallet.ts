// The wallet as users and admins see it: balances, history, admin grants (with
// Idempotency-Key), the signup bonus, the integrity check and key purging.
import type { Db, Tx } from '../db/connect.ts';
import { DomainError } from './errors.ts';
import { purgeIdempotencyKeys, withIdempotency, type IdempotencyKey } from './idempotency.ts';
import { checkLedger } from './ledger-check.ts';
import type { Ledger } from './ledger.ts';
import type { RequestContext, User, UsersService } from './users.ts';

export interface WalletDeps {
  db: Db;
  ledger: Ledger;
  signupBonus: number;
  idempotencyTtlSec: number;
}

export function createWallet(deps: WalletDeps) {
  const { db, ledger } = deps;
  return {
    balances: (userId: string) => ledger.balances(userId),
    history: ledger.history,

    /** Admin grant from the issuance account: the user's new balance. Replays and conflicts follow the idempotency key rules. */
    async grant(
      users: Pick<UsersService, 'find'>,
      input: { userId: string; amount: number; note?: string },
      idempotency: IdempotencyKey | null,
      ctx: RequestContext & { actorId: string },
    ): Promise<{ balance: number; replayed: boolean }> {
      if (!(await users.find(input.userId))) throw new DomainError('user_not_found', 'no such user');
      const params = { userId: input.userId, amount: input.amount, note: input.note ?? null };
      return withIdempotency(db, { userId: ctx.actorId, key: idempotency, params }, async (tx) => {
        const { balance } = await ledger.grantIn(tx, {
          kind: 'grant', userId: input.userId, amount: input.amount, actorId: ctx.actorId, note: input.note ?? null, ip: ctx.ip,
        });
        return { balance };
      });
    },

    /** The registration hook: credits SIGNUP_BONUS inside the registration transaction. */
    async signupBonus(tx: Tx, user: User, ctx: RequestContext): Promise<void> {
      if (deps.signupBonus <= 0) return;
      await ledger.grantIn(tx, { kind: 'signup_bonus', userId: user.id, amount: deps.signupBonus, actorId: null, ip: ctx.ip });
    },

    check: () => checkLedger(db),
    purgeIdempotencyKeys: (now?: Date) => purgeIdempotencyKeys(db, deps.idempotencyTtlSec, now),
  };
}

export type WalletService = ReturnType<typeof createWallet>;
