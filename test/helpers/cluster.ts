// What processes of one test cluster share: a PostgreSQL database of their own
// (created here, dropped at the end), a Redis database and key prefix of their
// own (so the matchmaker and the node registry see no other test's processes),
// and the environment every process of the cluster starts with.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { POSTGRES_URL, REDIS_URL } from './db.ts';
import { MEDIA_ENV } from './media.ts';

export interface ClusterStore {
  dbUrl: string;
  redisUrl: string;
  prefix: string;
  queuePrefix: string;
  /** Drops the database (its processes must have stopped). */
  drop(): Promise<void>;
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: POSTGRES_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** `redisDb` apart from other suites' (roles 1-3, scale-out 4-6, edge 7-9, cluster 10-12), so test files running side by side do not share a matchmaker. */
export async function clusterStore(name: string, redisDb: number): Promise<ClusterStore> {
  const tag = randomBytes(4).toString('hex');
  const dbName = `lr_t_${name}_${tag}`;
  const dbUrl = new URL(POSTGRES_URL);
  dbUrl.pathname = `/${dbName}`;
  const redisUrl = new URL(REDIS_URL);
  redisUrl.pathname = `/${redisDb}`;
  await admin((c) => c.query(`CREATE DATABASE ${dbName}`));
  return {
    dbUrl: dbUrl.toString(),
    redisUrl: redisUrl.toString(),
    prefix: `lr:${name}:${tag}:`,
    queuePrefix: `lr${name}-${tag}`,
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`)).then(() => {}),
  };
}

/** The environment of one process of the cluster: its roles, disk and media ports. */
export function clusterEnv(
  store: ClusterStore,
  node: { roles: string; dataDir: string; rtmpPort: number; mediaHttpPort: number },
  extra: Record<string, string> = {},
): Record<string, string | undefined> {
  return {
    ...MEDIA_ENV,
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ROLES: node.roles,
    DATABASE_URL: store.dbUrl,
    REDIS_URL: store.redisUrl,
    REDIS_PREFIX: store.prefix,
    JOBS_QUEUE_PREFIX: store.queuePrefix,
    DATA_DIR: node.dataDir,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    JWT_SECRET: 'cluster-test-secret-cluster-test-secret-0',
    RTMP_PORT: String(node.rtmpPort),
    MEDIA_HTTP_PORT: String(node.mediaHttpPort),
    RTMP_PUBLIC_URL: `rtmp://127.0.0.1:${node.rtmpPort}/live`,
    MEDIA_PUBLIC_URL: `http://127.0.0.1:${node.mediaHttpPort}`,
    ...extra,
  };
}

/** An unlabelled gauge's value in a Prometheus text page, or undefined when it is not there. */
export function gauge(metrics: string, name: string): number | undefined {
  const line = metrics.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

/** How many audit entries of `action` on `target` the cluster's database holds (a lottery drawn once has one `lottery.draw`). */
export async function auditCount(store: Pick<ClusterStore, 'dbUrl'>, action: string, target: string): Promise<number> {
  const db = new pg.Client({ connectionString: store.dbUrl });
  await db.connect();
  try {
    return (await db.query('select count(*)::int as n from audit_log where action = $1 and target = $2', [action, target])).rows[0].n;
  } finally {
    await db.end();
  }
}
