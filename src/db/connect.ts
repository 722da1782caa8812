// Opens the database: PGlite (embedded PostgreSQL in WebAssembly) by default,
// a PostgreSQL server when DATABASE_URL is given. Both are driven through the
// same Drizzle API and the same migrations, so domain code never knows which.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { once } from '../lib/once.ts';
import type { Breaker } from '../resilience.ts';
import { acquireDataDirLock, type DataDirLock } from './data-dir-lock.ts';
import * as schema from './schema.ts';

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
/** A database handle or an open transaction: domain functions accept either. */
export type Executor = Db | Tx;

export interface Database {
  db: Db;
  kind: 'pglite' | 'postgres';
  ping(): Promise<void>;
  migrate(): Promise<void>;
  /** PGlite only: a copy of the data directory (tests start from a migrated template). */
  dump?(): Promise<Blob>;
  close(): Promise<void>;
}

export const migrationsFolder = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

export interface OpenOptions {
  databaseUrl?: string;
  /** PGlite data directory; omitted means in memory. */
  dataDir?: string;
  /** PGlite only: start from a dump made by `dumpDataDir` (fast test start-up). */
  loadDataDir?: Blob;
  poolSize?: number;
  /** PostgreSQL only: a query whose server stops answering fails after this long (default 30 s). */
  queryTimeoutMs?: number;
  migrate?: boolean;
  /** PostgreSQL only: guards taking a connection, so a dead server fails fast. */
  breaker?: Breaker;
}

export async function openDatabase(opts: OpenOptions): Promise<Database> {
  const database = opts.databaseUrl
    ? await openPostgres(opts.databaseUrl, opts.poolSize ?? 20, opts.breaker, opts.queryTimeoutMs ?? 30_000)
    : await openPglite(opts);
  if (opts.migrate !== false) await database.migrate();
  return database;
}

async function openPostgres(url: string, max: number, breaker: Breaker | undefined, queryTimeoutMs: number): Promise<Database> {
  const { default: pg } = await import('pg');
  const { drizzle } = await import('drizzle-orm/node-postgres');
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: 5000, query_timeout: queryTimeoutMs });
  // An idle client that loses its server emits 'error'; without a listener it would crash the process.
  pool.on('error', () => {});
  if (breaker) guardConnect(pool, breaker);
  const db = drizzle(pool, { schema }) as unknown as Db;
  return {
    db,
    kind: 'postgres',
    ping: async () => void (await pool.query('select 1')),
    migrate: async () => {
      const { migrate } = await import('drizzle-orm/node-postgres/migrator');
      // Several processes may start together against one server: a session-level
      // advisory lock (held on one dedicated connection) runs one migration at a time.
      const lockConn = await pool.connect();
      try {
        await lockConn.query('select pg_advisory_lock(727274)');
        await migrate(db as never, { migrationsFolder });
      } finally {
        await lockConn.query('select pg_advisory_unlock(727274)').catch(() => {});
        lockConn.release();
      }
    },
    close: once(() => pool.end()),
  };
}

async function openPglite(opts: OpenOptions): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  // Taken before PGlite reads a byte: a second process must not even load the files.
  let lock: DataDirLock | undefined;
  if (opts.dataDir) {
    mkdirSync(path.dirname(opts.dataDir), { recursive: true });
    lock = acquireDataDirLock(opts.dataDir);
    mkdirSync(opts.dataDir, { recursive: true });
  }
  const client = new PGlite({ dataDir: opts.dataDir, loadDataDir: opts.loadDataDir });
  try {
    await client.waitReady;
  } catch (e) {
    lock?.release();
    throw e;
  }
  const db = drizzle(client, { schema }) as unknown as Db;
  return {
    db,
    kind: 'pglite',
    ping: async () => void (await client.query('select 1')),
    migrate: async () => {
      const { migrate } = await import('drizzle-orm/pglite/migrator');
      await migrate(db as never, { migrationsFolder });
    },
    dump: () => client.dumpDataDir('none'),
    close: once(async () => {
      try {
        await client.close();
      } finally {
        lock?.release();
      }
    }),
  };
}

/**
 * Every query (pool.query and transactions alike) starts by taking a
 * connection; routing that through the breaker makes an outage fail fast.
 */
function guardConnect(pool: import('pg').Pool, breaker: Breaker) {
  const connect = pool.connect.bind(pool) as () => Promise<import('pg').PoolClient>;
  (pool as { connect: unknown }).connect = (cb?: (err: Error | undefined, client?: import('pg').PoolClient, done?: () => void) => void) => {
    let inner: Promise<import('pg').PoolClient> | undefined;
    const p = breaker.execute(() => (inner = connect()));
    // A connect that the breaker gave up on may still succeed later: hand it back.
    p.catch(() => inner?.then((c) => c.release(), () => {}));
    if (!cb) return p;
    p.then(
      (client) => cb(undefined, client, () => client.release()),
      (err: Error) => cb(err),
    );
  };
}
