// Idempotency-Key for writes that move money: the first completed reply is
// stored with a hash of the request's parameters, per user and key, for at
// least IDEMPOTENCY_TTL_SEC. A replay gets that reply and moves nothing; the
// same key with other parameters is a 409 `idempotency_conflict`. A refused
// request (4xx) moved nothing and stores nothing, so it may be retried with
// the same key. The record is written in the same transaction as the money
// movement, so a crash can never keep one without the other.
import { createHash } from 'node:crypto';
import { and, eq, lt } from 'drizzle-orm';
import type { Executor } from '../db/connect.ts';
import { idempotencyKeys } from '../db/schema.ts';
import { DomainError, isUniqueViolation } from './errors.ts';

export interface StoredReply {
  status: number;
  body: Record<string, unknown>;
}

const KEY = /^[\x21-\x7e]{1,255}$/;

/** The header value, checked: visible ASCII, 1 to 255 characters. */
export function parseIdempotencyKey(header: string | string[] | undefined): string | null {
  if (header === undefined) return null;
  if (typeof header !== 'string' || !KEY.test(header))
    throw new DomainError('validation_failed', 'Idempotency-Key must be 1 to 255 visible ASCII characters', { field: 'Idempotency-Key' });
  return header;
}

/** A stable hash of what the request asks for (the operation and its parameters). */
export function requestHash(operation: string, params: Record<string, unknown>): string {
  const canonical = JSON.stringify([operation, Object.keys(params).sort().map((k) => [k, params[k]])]);
  return createHash('sha256').update(canonical).digest('base64url');
}

export async function findStoredReply(exec: Executor, userId: string, key: string, hash: string): Promise<StoredReply | undefined> {
  const [row] = await exec
    .select()
    .from(idempotencyKeys)
    .where(and(eq(idempotencyKeys.userId, userId), eq(idempotencyKeys.key, key)))
    .limit(1);
  if (!row) return undefined;
  if (row.requestHash !== hash)
    throw new DomainError('idempotency_conflict', 'this Idempotency-Key was used with other parameters');
  return { status: row.status, body: row.response };
}

/**
 * Runs a money-moving function in a transaction guarded by a key: the key is
 * claimed first (a concurrent request with the same key waits for this one's
 * commit, then replays its reply), the reply is stored before commit.
 */
export async function withIdempotency(
  db: Executor,
  claim: { userId: string; key: string | null; hash: string },
  run: (tx: Executor) => Promise<StoredReply>,
): Promise<StoredReply & { replayed: boolean }> {
  if (claim.key === null) return { ...(await db.transaction(run)), replayed: false };
  const key = claim.key;
  try {
    return await db.transaction(async (tx) => {
      const stored = await findStoredReply(tx, claim.userId, key, claim.hash);
      if (stored) return { ...stored, replayed: true };
      const reply = await run(tx);
      // A concurrent twin that got here first makes this insert wait for its
      // commit and then fail: the whole transaction (and its money) rolls back.
      await tx.insert(idempotencyKeys).values({ userId: claim.userId, key, requestHash: claim.hash, status: reply.status, response: reply.body });
      return { ...reply, replayed: false };
    });
  } catch (e) {
    if (!isUniqueViolation(e)) throw e;
    const stored = await findStoredReply(db, claim.userId, key, claim.hash);
    if (!stored) throw e;
    return { ...stored, replayed: true };
  }
}

/** Forgets keys older than the TTL; returns how many. */
export async function purgeIdempotencyKeys(exec: Executor, ttlSec: number, now = new Date()): Promise<number> {
  const cutoff = new Date(now.getTime() - ttlSec * 1000);
  const rows = await exec.delete(idempotencyKeys).where(lt(idempotencyKeys.createdAt, cutoff)).returning({ key: idempotencyKeys.key });
  return rows.length;
}
