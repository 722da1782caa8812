// Picks the job runner for a configuration: BullMQ when REDIS_URL is set,
// otherwise the in-process runner on the `jobs` table.
import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Database } from '../db/connect.ts';
import { createBullmqRunner } from './bullmq-runner.ts';
import { createLocalRunner } from './local-runner.ts';
import { createJobMetrics, type JobRunner, type JobSettings } from './runner.ts';

export { defineAppJobs, drawJob, QUEUES, type AppJobs, type AppJobSettings } from './app-jobs.ts';
export { UnrecoverableError, type JobDefinition, type JobRunner, type JobContext, type JobSettings } from './runner.ts';

/** What picking and building the runner needs. */
export interface JobRunnerSettings {
  /** BullMQ on this Redis; without it, the in-process runner on the `jobs` table. */
  redisUrl?: string;
  /** BullMQ's key prefix; by default derived from the database (see defaultQueuePrefix). */
  queuePrefix?: string;
  dataDir: string;
  jobs: JobSettings;
}

/**
 * The BullMQ key prefix. Jobs act on one database, so by default processes
 * share queues exactly when they share a database: the prefix is a hash of the
 * PostgreSQL cluster's system identifier and the database name (however the
 * URL is spelled), plus the data directory for PGlite.
 */
export async function defaultQueuePrefix(database: Database, dataDir: string): Promise<string> {
  let identity: string;
  try {
    const r = (await database.db.execute(sql`SELECT system_identifier::text AS id, current_database() AS db FROM pg_control_system()`)) as unknown as {
      rows: { id: string; db: string }[];
    };
    identity = `${r.rows[0]!.id}/${r.rows[0]!.db}`;
  } catch {
    identity = 'unknown';
  }
  if (database.kind === 'pglite') identity += `/${dataDir}`;
  return `lrjobs-${createHash('sha256').update(identity).digest('hex').slice(0, 12)}`;
}

export async function createJobRunner(opts: {
  settings: JobRunnerSettings;
  database: Database;
  logger: Logger;
  /** The app's metrics registry (served at /metrics). */
  registry?: Registry;
}): Promise<JobRunner> {
  const { database } = opts;
  const { redisUrl, queuePrefix, dataDir, jobs: settings } = opts.settings;
  const logger = opts.logger.child({ module: 'jobs' });
  let runner: JobRunner | undefined;
  const counts = () => runner!.counts();
  const metrics = opts.registry ? createJobMetrics(opts.registry, counts, (err) => logger.warn({ err }, 'job counts unavailable')) : undefined;
  if (redisUrl) {
    const prefix = queuePrefix ?? (await defaultQueuePrefix(database, dataDir));
    runner = createBullmqRunner({ redisUrl, prefix, settings, logger, metrics });
  } else {
    runner = createLocalRunner({ database, settings, logger, metrics });
  }
  return runner;
}
