// Opaque cursors for keyset pagination: the client hands back what it was given.
import { DomainError } from './errors.ts';

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export const encodeCursor = (key: unknown[]): string => Buffer.from(JSON.stringify(key)).toString('base64url');

export function decodeCursor(cursor: string | undefined, arity: number): unknown[] | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  try {
    const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(key) && key.length === arity) return key;
  } catch {
    // fall through to the error below
  }
  throw new DomainError('validation_failed', 'cursor is not valid', { field: 'cursor' });
}

/** Takes limit+1 rows and turns the extra one into the next cursor. */
export function toPage<R, T>(rows: R[], limit: number, keyOf: (row: R) => unknown[], map: (row: R) => T): Page<T> {
  const more = rows.length > limit;
  const items = more ? rows.slice(0, limit) : rows;
  return { items: items.map(map), nextCursor: more ? encodeCursor(keyOf(items[items.length - 1]!)) : null };
}
