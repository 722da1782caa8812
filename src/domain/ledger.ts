// The wallet ledger: double-entry accounts and transfers in PostgreSQL.
//
// - An account is a set of balance rows (`slot`s) in `accounts`; its cached
//   balance is the sum of its slots. A user's wallet has one slot, so the
//   never-below-zero check is one conditional UPDATE
//   (`... where balance >= x returning`): it re-checks the row it locked, so it
//   is safe under any concurrency on PostgreSQL and PGlite; a CHECK constraint
//   is the backstop. Credit-only accounts (a streamer's earnings, the
//   platform's revenue) are credited on one of LEDGER_CREDIT_SLOTS rows, so
//   concurrent gifts do not queue on a single row lock through every commit.
// - Each money movement is ONE SQL statement (data-modifying CTEs): balances,
//   transfer, entries, audit row (and the idempotency record) commit together
//   or not at all, in one round trip. Rows are locked in a fixed order
//   (wallet, then earnings, then platform, then issuance) so two movements
//   never deadlock.
// - Entries and transfers are never updated or deleted (triggers refuse it);
//   a deferred trigger refuses to commit a transfer whose entries do not sum
//   to zero. A correction is a new transfer.
import { and, desc, eq, inArray, lt, sql, type SQL } from 'drizzle-orm';
import type { Db, Executor } from '../db/connect.ts';
import { accounts, entries, transfers } from '../db/schema.ts';
import { executorRunner, toInt, type SqlRunner, type Statement } from '../db/sql-runner.ts';
import { DomainError } from './errors.ts';
import { STORED_STATUS } from './idempotency.ts';
import { newId } from './ids.ts';
import { decodeCursor, toPage, type Page } from './pagination.ts';

export const ISSUANCE = 'issuance';
export const PLATFORM = 'platform';
export const walletOf = (userId: string) => `wallet:${userId}`;
export const earningsOf = (userId: string) => `earnings:${userId}`;

export type GrantKind = 'signup_bonus' | 'grant';

export interface LedgerItem {
  id: string;
  transferId: string;
  at: string;
  kind: string;
  /** Signed: positive credits this account, negative debits it. */
  amount: number;
  /** This account's balance right after the entry (null for accounts spread over several slots). */
  balanceAfter: number | null;
  counterparty: { type: 'issuance' | 'user'; userId: string | null };
  gift: { giftEventId: string; roomId: string; giftId: string; count: number; senderId: string; streamerId: string } | null;
  note: string | null;
}

/**
 * The most coins there may ever be: every coin comes from issuance, so while
 * the coins issued stay within it, every balance, sum and total stays a safe
 * JavaScript integer (and far inside PostgreSQL's bigint).
 */
export const MAX_COINS_ISSUED = Number.MAX_SAFE_INTEGER;

// A grant moves coins from issuance (which alone may go negative) to a wallet,
// unless it would take the coins issued past MAX_COINS_ISSUED (then nothing is written).
export const GRANT_STATEMENT: Statement = {
  name: 'ledger_grant_v2',
  text: `
with credit as (
  insert into accounts as a (id, slot, kind, owner_id, balance)
  select $1::text, 0, 'wallet', $2::text, $3::bigint
  from accounts i where i.id = 'issuance' and i.slot = 0 and i.balance - $3::bigint >= -${MAX_COINS_ISSUED}::bigint
  on conflict (id, slot) do update set balance = a.balance + excluded.balance
  returning a.balance
), tr as (
  insert into transfers (id, kind, actor_id, user_id, amount, note)
  select $4::text, $5::text, $6::text, $2::text, $3::bigint, $7::text from credit
  returning id, at
), debit as (
  update accounts set balance = balance - $3::bigint
  -- re-checked on the locked row: a concurrent grant past the cap leaves this transfer unbalanced, so it cannot commit
  where id = 'issuance' and slot = 0 and exists (select 1 from tr) and balance - $3::bigint >= -${MAX_COINS_ISSUED}::bigint
  returning balance
), ent as (
  insert into entries (transfer_id, account_id, slot, amount, balance_after)
  select t.id, x.account_id, 0, x.amount, x.balance_after from tr t, (
    select $1::text as account_id, $3::bigint as amount, c.balance as balance_after from credit c
    union all
    select 'issuance', -$3::bigint, d.balance from debit d
  ) x
), audit as (
  insert into audit_log (actor_id, action, target, ip, details)
  select $6::text, 'wallet.' || $5::text, $2::text, $8::text,
         jsonb_build_object('transferId', $4::text, 'amount', $3::bigint, 'note', $7::text)
  from tr
)
select c.balance, t.at from credit c, tr t`,
};

// A gift: debit the sender's wallet if (and only if) it covers the amount,
// credit the streamer's earnings and the platform, record transfer, entries,
// audit row and (with an Idempotency-Key) the first reply, all in one statement.
export const GIFT_STATEMENT: Statement = {
  name: 'ledger_gift_v1',
  text: `
with debit as (
  update accounts set balance = balance - $3::bigint
  where id = $1::text and slot = 0 and balance >= $3::bigint
  returning balance
), tr as (
  insert into transfers (id, kind, actor_id, user_id, recipient_id, room_id, gift_id, gift_count, amount)
  select $10::text, 'gift', $2::text, $2::text, $6::text, $11::text, $12::text, $13::integer, $3::bigint from debit
  returning id, at
), credit as (
  insert into accounts as a (id, slot, kind, owner_id, balance)
  select v.id, v.slot, v.kind, v.owner_id, v.amount
  from tr, (values ($4::text, $5::smallint, 'earnings', $6::text, $7::bigint),
                   ('platform', $8::smallint, 'platform', null, $9::bigint)) as v(id, slot, kind, owner_id, amount)
  where v.amount > 0
  on conflict (id, slot) do update set balance = a.balance + excluded.balance
  returning a.id, a.slot, a.balance, case when a.id = 'platform' then $9::bigint else $7::bigint end as amount
), ent as (
  insert into entries (transfer_id, account_id, slot, amount, balance_after)
  select t.id, x.account_id, x.slot, x.amount, x.balance_after from tr t, (
    select $1::text as account_id, 0::smallint as slot, -$3::bigint as amount, d.balance as balance_after from debit d
    union all
    select c.id, c.slot, c.amount, c.balance from credit c
  ) x
), idem as (
  insert into idempotency_keys (user_id, key, request_hash, status, response)
  select $2::text, $14::text, $15::text, ${STORED_STATUS}, jsonb_build_object('balance', d.balance, 'giftEventId', $10::text)
  from debit d where $14::text is not null
), audit as (
  insert into audit_log (actor_id, action, target, ip, details)
  select $2::text, 'gift.send', $11::text, $16::text,
         jsonb_build_object('giftEventId', $10::text, 'giftId', $12::text, 'count', $13::integer, 'amount', $3::bigint, 'streamerId', $6::text)
  from tr
)
select d.balance, t.at from debit d, tr t`,
};

export interface GiftTransfer {
  senderId: string;
  streamerId: string;
  roomId: string;
  giftId: string;
  count: number;
  /** Total debited from the sender. */
  amount: number;
  streamerShare: number;
  platformShare: number;
  idempotencyKey: string | null;
  requestHash: string | null;
  ip: string | null;
}

/**
 * Splits a gift's price: the streamer gets floor(amount * percent / 100), the
 * platform the rest (so any remainder of the integer division goes to the platform).
 */
export function splitGift(amount: number, streamerPercent: number): { streamer: number; platform: number } {
  const streamer = Math.floor((amount * streamerPercent) / 100);
  return { streamer, platform: amount - streamer };
}

export interface LedgerDeps {
  db: Db;
  /** The pool runner (prepared statements); transactions pass their own executor. */
  run: SqlRunner;
  creditSlots: number;
  maxGrant: number;
}

export function createLedger(deps: LedgerDeps) {
  const { db } = deps;
  const slot = () => Math.floor(Math.random() * deps.creditSlots);

  async function grant(
    run: SqlRunner,
    input: { kind: GrantKind; userId: string; amount: number; actorId: string | null; note?: string | null; ip?: string | null },
  ): Promise<{ balance: number; transferId: string }> {
    if (!Number.isSafeInteger(input.amount) || input.amount < 1 || input.amount > deps.maxGrant)
      throw new DomainError('validation_failed', `amount must be an integer from 1 to ${deps.maxGrant}`, { field: 'amount' });
    const transferId = newId();
    const rows = await run(GRANT_STATEMENT, [
      walletOf(input.userId), input.userId, input.amount, transferId, input.kind, input.actorId, input.note ?? null, input.ip ?? null,
    ]);
    if (rows.length === 0)
      throw new DomainError('conflict', `this grant would take the coins issued past ${MAX_COINS_ISSUED}; nothing was granted`, { field: 'amount' });
    return { balance: toInt(rows[0]!.balance), transferId };
  }

  return {
    grant: (input: Parameters<typeof grant>[1]) => grant(deps.run, input),
    /** The same grant inside an open transaction (the signup bonus commits with the new user). */
    grantIn: (exec: Executor, input: Parameters<typeof grant>[1]) => grant(executorRunner(exec), input),

    /**
     * Moves a gift's coins in one statement. Returns undefined when nothing
     * moved because the wallet does not cover the amount (or does not exist).
     * Throws a unique violation when the Idempotency-Key is already recorded.
     */
    async payGift(g: GiftTransfer): Promise<{ balance: number; giftEventId: string; at: Date } | undefined> {
      if (g.streamerShare + g.platformShare !== g.amount || g.amount < 1) throw new Error('gift split does not add up');
      const giftEventId = newId();
      const rows = await deps.run(GIFT_STATEMENT, [
        walletOf(g.senderId), g.senderId, g.amount,
        earningsOf(g.streamerId), slot(), g.streamerId, g.streamerShare,
        slot(), g.platformShare,
        giftEventId, g.roomId, g.giftId, g.count,
        g.idempotencyKey, g.requestHash, g.ip,
      ]);
      if (rows.length === 0) return undefined;
      return { balance: toInt(rows[0]!.balance), giftEventId, at: new Date(rows[0]!.at as string) };
    },

    /** A user's wallet balance and streamer earnings (sums of slots). */
    async balances(userId: string): Promise<{ balance: number; earnings: number }> {
      const rows = await db
        .select({ id: accounts.id, total: sql<string>`sum(${accounts.balance})` })
        .from(accounts)
        .where(inArray(accounts.id, [walletOf(userId), earningsOf(userId)]))
        .groupBy(accounts.id);
      const of = (id: string) => toInt(rows.find((r) => r.id === id)?.total ?? 0);
      return { balance: of(walletOf(userId)), earnings: of(earningsOf(userId)) };
    },

    /** Entries of a user's wallet (or earnings), newest first. */
    async history(userId: string, account: 'wallet' | 'earnings', q: { cursor?: string; limit: number }): Promise<Page<LedgerItem>> {
      const accountId = account === 'wallet' ? walletOf(userId) : earningsOf(userId);
      const after = decodeCursor(q.cursor, 1);
      const where: SQL[] = [eq(entries.accountId, accountId)];
      if (after) {
        const id = Number(after[0]);
        if (!Number.isSafeInteger(id)) throw new DomainError('validation_failed', 'cursor is not valid', { field: 'cursor' });
        where.push(lt(entries.id, id));
      }
      const rows = await db
        .select({ e: entries, t: transfers })
        .from(entries)
        .innerJoin(transfers, eq(transfers.id, entries.transferId))
        .where(and(...where))
        .orderBy(desc(entries.id))
        .limit(q.limit + 1);
      return toPage(
        rows,
        q.limit,
        (r) => [r.e.id],
        ({ e, t }): LedgerItem => {
          const isGift = t.kind === 'gift';
          const counterpartyId = isGift ? (account === 'wallet' ? t.recipientId : t.userId) : t.actorId;
          return {
            id: String(e.id),
            transferId: t.id,
            at: t.at.toISOString(),
            kind: t.kind,
            amount: e.amount,
            balanceAfter: account === 'wallet' ? e.balanceAfter : null,
            counterparty: { type: isGift ? 'user' : 'issuance', userId: counterpartyId },
            gift: isGift
              ? { giftEventId: t.id, roomId: t.roomId!, giftId: t.giftId!, count: t.giftCount!, senderId: t.userId!, streamerId: t.recipientId! }
              : null,
            note: t.note,
          };
        },
      );
    },
  };
}

export type Ledger = ReturnType<typeof createLedger>;
