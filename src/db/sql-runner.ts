// Runs one hand-written SQL statement ($1..$n placeholders) on the pool, on
// PGlite, or inside an open Drizzle transaction. Hot paths (a gift is one
// statement) use it to get a named prepared statement on PostgreSQL: parsed
// and planned once per connection instead of once per request.
import { sql, type SQL } from 'drizzle-orm';
import type { Database, Executor } from './connect.ts';

export interface Statement {
  /** Unique per statement text: the prepared-statement name on PostgreSQL. */
  name: string;
  text: string;
}

export type Row = Record<string, unknown>;
export type SqlRunner = (stmt: Statement, values: unknown[]) => Promise<Row[]>;

interface PgLike {
  query(q: { name: string; text: string; values: unknown[] }): Promise<{ rows: Row[] }>;
}
interface PgliteLike {
  query(text: string, values: unknown[]): Promise<{ rows: Row[] }>;
}

/** A runner on the database's own client (outside any transaction: each statement commits by itself). */
export function poolRunner(database: Database): SqlRunner {
  const client = (database.db as unknown as { $client: unknown }).$client;
  if (database.kind === 'postgres') {
    const pool = client as PgLike;
    return async (stmt, values) => (await pool.query({ name: stmt.name, text: stmt.text, values })).rows;
  }
  const lite = client as PgliteLike;
  return async (stmt, values) => (await lite.query(stmt.text, values)).rows;
}

/** A runner inside an open transaction (or on any Drizzle executor). */
export function executorRunner(exec: Executor): SqlRunner {
  return async (stmt, values) => {
    const result = (await exec.execute(toSql(stmt.text, values))) as unknown as { rows: Row[] };
    return result.rows;
  };
}

/** `$n` placeholders become Drizzle parameters, so the same text runs through a transaction. */
function toSql(text: string, values: unknown[]): SQL {
  const parts = text.split(/\$(\d+)/);
  const chunks: SQL[] = [];
  for (let i = 0; i < parts.length; i++) {
    if (i % 2 === 0) chunks.push(sql.raw(parts[i]!));
    else chunks.push(sql`${values[Number(parts[i]) - 1] ?? null}`);
  }
  return sql.join(chunks);
}

/** PostgreSQL returns bigint as a string, PGlite as a number: coins are always safe integers here. */
export function toInt(v: unknown): number {
  const n = typeof v === 'number' ? v : Number(v as string);
  if (!Number.isSafeInteger(n)) throw new Error(`not a safe integer: ${String(v)}`);
  return n;
}
