// Real databases for tests, isolated per test: a fresh PostgreSQL database on
// the machine's server (dropped afterwards), or a PGlite copied from a
// migrated template (PGlite's cold start is seconds; a copy is ~0.5 s).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type Database } from '../../src/db/connect.ts';

export type DbKind = 'postgres' | 'pglite';

export const POSTGRES_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const inCI = process.env.CI === 'true';

let postgresUp: Promise<boolean> | undefined;
/** Whether the PostgreSQL server answers. Under CI a missing server throws (a failure, never a skip). */
export async function postgresAvailable(): Promise<boolean> {
  postgresUp ??= (async () => {
    const c = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
    try {
      await c.connect();
      await c.end();
      return true;
    } catch (e) {
      if (inCI) throw new Error(`PostgreSQL at ${POSTGRES_URL} is required under CI: ${(e as Error).message}`);
      return false;
    }
  })();
  return postgresUp;
}

/** The database kinds to run a database test on: both, or PGlite alone when no server runs outside CI. */
export async function dbKinds(): Promise<DbKind[]> {
  return (await postgresAvailable()) ? ['postgres', 'pglite'] : ['pglite'];
}

let template: Promise<Blob> | undefined;

/** `url`: PostgreSQL only, for a tool run in another process (e.g. `lottery:verify`). */
export type TestDatabase = Database & { url?: string };

export async function openTestDatabase(kind: DbKind): Promise<TestDatabase> {
  if (kind === 'pglite') {
    template ??= (async () => {
      const seed = await openDatabase({});
      const dump = await seed.dump!();
      await seed.close();
      return dump;
    })();
    return openDatabase({ loadDataDir: await template, migrate: false });
  }
  const name = `lr_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  const database = await openDatabase({ databaseUrl: url.toString(), poolSize: 30 });
  const close = database.close;
  return {
    ...database,
    url: url.toString(),
    async close() {
      await close();
      const a = new pg.Client({ connectionString: POSTGRES_URL });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}
