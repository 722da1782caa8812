// The Idempotency-Key header of the routes that move money: checked, tied to
// the route it was sent to, and a replayed reply says so (domain/idempotency.ts
// stores and replays the result).
import { DomainError } from '../domain/errors.ts';
import type { IdempotencyKey } from '../domain/idempotency.ts';

const KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * The header value, checked (visible ASCII, 1 to 255 characters), with the operation it guards. `scope` is
 * part of every stored request hash: changing a route's scope string would turn its clients' retries into conflicts.
 */
export function idempotencyKey(header: string | string[] | undefined, scope: string): IdempotencyKey | null {
  if (header === undefined) return null;
  if (typeof header !== 'string' || !KEY.test(header))
    throw new DomainError('validation_failed', 'Idempotency-Key must be 1 to 255 visible ASCII characters', { field: 'Idempotency-Key' });
  return { key: header, scope };
}

/** A replayed reply says so, like the first one otherwise. */
export const replayHeaders = (replayed: boolean): Record<string, string> => (replayed ? { 'Idempotent-Replayed': 'true' } : {});
