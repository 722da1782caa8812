// Idempotency keys for writes that move money: the first completed result is
// stored with a hash of the request's parameters, per user and key, for at
// least IDEMPOTENCY_TTL_SEC. A replay gets that result and moves nothing; the
// same key with other parameters is refused (`idempotency_conflict`). A
// refused request moved nothing and stores nothing, so it may be retried with
// the same key. The record is written in the same transaction as the money
// movement, so a crash can never keep one without the other.
import { createHash } from 'node:crypto';
import { and, eq, lt } from 'drizzle-orm';
import type { Executor } from '../db/connect.ts';
import { idempotencyKeys } from '../db/schema.ts';
import { DomainError, isUniqueViolation } from './errors.ts';

/** A client's key and the operation it guards, named by the adapter (e.g. its route): a key never answers for another operation. */
export interface IdempotencyKey {
  key: string;
  scope: string;
}

export type StoredResult = Record<string, unknown>;

/**
 * idempotency_keys.status holds the status of the first reply, 201 in every row (each guarded operation
 * creates something). It is still written so rows keep their meaning for any reader; replays here never
 * read it, the adapter answers with its own status.
 */
export const STORED_STATUS = 201;

/** A stable hash of what the request asks for (the operation and its parameters). */
export function requestHash(scope: string, params: Record<string, unknown>): string {
  const canonical = JSON.stringify([scope, Object.keys(params).sort().map((k) => [k, params[k]])]);
  return createHash('sha256').update(canonical).digest('base64url');
}

/** The result stored for this user's key, if any; the key used with other parameters is a conflict. */
export async function findStoredResult(exec: Executor, userId: string, key: string, hash: string): Promise<StoredResult | undefined> {
  const [row] = await exec
    .select()
    .from(idempotencyKeys)
    .where(and(eq(idempotencyKeys.userId, userId), eq(idempotencyKeys.key, key)))
    .limit(1);
  if (!row) return undefined;
  if (row.requestHash !== hash)
    throw new DomainError('idempotency_conflict', 'this Idempotency-Key was used with other parameters');
  return row.response;
}

/**
 * Runs a money-moving function in a transaction guarded by a key: the key is
 * claimed first (a concurrent request with the same key waits for this one's
 * commit, then replays its result), the result is stored before commit.
 */
export async function withIdempotency<T extends StoredResult>(
  db: Executor,
  claim: { userId: string; key: IdempotencyKey | null; params: Record<string, unknown> },
  run: (tx: Executor) => Promise<T>,
): Promise<T & { replayed: boolean }> {
  if (claim.key === null) return { ...(await db.transaction(run)), replayed: false };
  const { key } = claim.key;
  const hash = requestHash(claim.key.scope, claim.params);
  try {
    return await db.transaction(async (tx) => {
      const stored = await findStoredResult(tx, claim.userId, key, hash);
      if (stored) return { ...(stored as T), replayed: true };
      const result = await run(tx);
      // A concurrent twin that got here first makes this insert wait for its
      // commit and then fail: the whole transaction (and its money) rolls back.
      await tx.insert(idempotencyKeys).values({ userId: claim.userId, key, requestHash: hash, status: STORED_STATUS, response: result });
      return { ...result, replayed: false };
    });
  } catch (e) {
    if (!isUniqueViolation(e)) throw e;
    const stored = await findStoredResult(db, claim.userId, key, hash);
    if (!stored) throw e;
    return { ...(stored as T), replayed: true };
  }
}

/** Forgets keys older than the TTL; returns how many. */
export async function purgeIdempotencyKeys(exec: Executor, ttlSec: number, now = new Date()): Promise<number> {
  const cutoff = new Date(now.getTime() - ttlSec * 1000);
  const rows = await exec.delete(idempotencyKeys).where(lt(idempotencyKeys.createdAt, cutoff)).returning({ key: idempotencyKeys.key });
  return rows.length;
}
