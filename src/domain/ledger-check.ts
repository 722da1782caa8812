// Verifies the ledger agrees with itself: every transfer's entries sum to zero
// (there are at least two, and the credits equal the transfer's amount), no balance but issuance is negative, every
// cached balance equals the sum of its entries, and every entry's
// balanceAfter equals the running sum of its slot. Used by
// `npm run ledger:check` and GET /api/admin/ledger/check.
import { sql } from 'drizzle-orm';
import type { Db, Executor } from '../db/connect.ts';
import { toInt } from '../db/sql-runner.ts';

export interface LedgerViolation {
  check: 'transfer_unbalanced' | 'negative_balance' | 'cached_balance_mismatch' | 'running_balance_mismatch' | 'total_not_zero';
  detail: Record<string, unknown>;
}

export interface LedgerReport {
  ok: boolean;
  checkedAt: string;
  transfers: number;
  entries: number;
  accounts: number;
  /** Sum of every balance row: zero when coins are neither created nor lost. */
  total: number;
  /** Coins issued so far (minus the issuance balance). */
  issued: number;
  violations: LedgerViolation[];
}

const MAX_REPORTED = 100;

async function rows(exec: Executor, query: ReturnType<typeof sql>): Promise<Record<string, unknown>[]> {
  const result = (await exec.execute(query)) as unknown as { rows: Record<string, unknown>[] };
  return result.rows;
}

export async function checkLedger(db: Db): Promise<LedgerReport> {
  const violations: LedgerViolation[] = [];
  const add = (check: LedgerViolation['check'], list: Record<string, unknown>[]) => {
    for (const detail of list) violations.push({ check, detail });
  };

  // One read-only REPEATABLE READ transaction: every check sees the same
  // snapshot, so the report is exact even while gifts keep committing.
  return db.transaction(async (tx) => {
    await tx.execute(sql`set transaction isolation level repeatable read, read only`);
    add(
      'transfer_unbalanced',
      await rows(
        tx,
        sql`select t.id as "transferId", coalesce(sum(e.amount), 0)::text as sum, count(e.id)::int as entries,
                   t.amount::text as amount, coalesce(sum(e.amount) filter (where e.amount > 0), 0)::text as credited
            from transfers t left join entries e on e.transfer_id = t.id
            group by t.id, t.amount
            having coalesce(sum(e.amount), 0) <> 0 or count(e.id) < 2 or coalesce(sum(e.amount) filter (where e.amount > 0), 0) <> t.amount
            limit ${MAX_REPORTED}`,
      ),
    );
    add(
      'negative_balance',
      await rows(
        tx,
        sql`select id as "accountId", slot, kind, balance::text from accounts
            where balance < 0 and kind <> 'issuance' limit ${MAX_REPORTED}`,
      ),
    );
    add(
      'cached_balance_mismatch',
      await rows(
        tx,
        sql`select a.id as "accountId", a.slot, a.balance::text as cached, coalesce(s.sum, 0)::text as entries
            from accounts a left join (select account_id, slot, sum(amount) as sum from entries group by account_id, slot) s
              on s.account_id = a.id and s.slot = a.slot
            where a.balance <> coalesce(s.sum, 0)
            limit ${MAX_REPORTED}`,
      ),
    );
    add(
      'running_balance_mismatch',
      await rows(
        tx,
        sql`select id as "entryId", account_id as "accountId", slot, balance_after::text as "balanceAfter", running::text as running
            from (select id, account_id, slot, balance_after,
                         sum(amount) over (partition by account_id, slot order by id rows unbounded preceding) as running
                  from entries) r
            where balance_after <> running
            limit ${MAX_REPORTED}`,
      ),
    );
    const [totals] = await rows(
      tx,
      sql`select (select coalesce(sum(balance), 0) from accounts)::text as total,
                 (select count(*) from accounts)::int as accounts,
                 (select count(*) from transfers)::int as transfers,
                 (select count(*) from entries)::int as entries,
                 (select coalesce(-sum(balance), 0) from accounts where kind = 'issuance')::text as issued`,
    );
    const total = toInt(totals!.total);
    if (total !== 0) violations.push({ check: 'total_not_zero', detail: { total } });
    return {
      ok: violations.length === 0,
      checkedAt: new Date().toISOString(),
      transfers: toInt(totals!.transfers),
      entries: toInt(totals!.entries),
      accounts: toInt(totals!.accounts),
      total,
      issued: toInt(totals!.issued),
      violations,
    };
  });
}
