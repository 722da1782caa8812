// The job runner without Redis: jobs are rows of the `jobs` table, so a
// delayed job written before a restart (or by another process on the same
// PostgreSQL) is found and run when due. Workers claim due rows with
// FOR UPDATE SKIP LOCKED, so several processes never run one row at once; a
// claim is a lease (JOBS_LEASE_SEC): a row left `running` by a dead process is
// taken again after it. Repeating work inserts one row per period (id
// `<queue>@<period start>`), so it shares the retry path and runs once per
// period even with several workers.
import { sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Database } from '../db/connect.ts';
import { once } from '../lib/once.ts';
import { newId } from '../domain/ids.ts';
import {
  backoffDelay,
  isUnrecoverable,
  type EnqueueOptions,
  type JobData,
  type JobDefinition,
  type JobMetrics,
  type JobRunner,
  type JobSettings,
  type JobState,
} from './runner.ts';

interface ClaimedRow {
  id: string;
  queue: string;
  data: JobData;
  attempts: number;
  max_attempts: number;
  backoff_ms: number;
}

const CLEANUP_EVERY_MS = 60_000;
const MAX_TIMER_MS = 2 ** 31 - 1;
const ERROR_MAX_CHARS = 2000;

export function createLocalRunner(opts: {
  database: Database;
  settings: JobSettings;
  logger: Logger;
  metrics?: JobMetrics;
  now?: () => number;
}): JobRunner {
  const { db } = opts.database;
  const { settings, logger } = opts;
  const now = opts.now ?? Date.now;
  const defs = new Map<string, JobDefinition>();
  const running = new Map<string, number>(); // per queue
  const inflight = new Set<Promise<void>>();
  const scheduleTimers = new Set<NodeJS.Timeout>();
  let started = false;
  let closing = false;
  let timer: NodeJS.Timeout | undefined;
  let timerAt = Infinity;
  let ticking = false;
  let tickAgain = false;
  /** Settles when the running tick (if any) is over: close() waits for it, so no claim is still in flight. */
  let tickDone: Promise<void> = Promise.resolve();
  let lastCleanup = 0;

  const rows = async <T>(q: ReturnType<typeof sql>): Promise<T[]> => ((await db.execute(q)) as unknown as { rows: T[] }).rows;

  /** Runs tick() at `at` (or sooner if already due sooner). */
  function wake(at: number) {
    if (!started || closing) return;
    const when = Math.max(now(), at);
    if (timer && when >= timerAt) return;
    if (timer) clearTimeout(timer);
    timerAt = when;
    timer = setTimeout(() => {
      timer = undefined;
      timerAt = Infinity;
      void tick();
    }, Math.min(Math.max(0, when - now()), MAX_TIMER_MS)); // the clock moved on since `when` was taken
  }

  async function tick(): Promise<void> {
    if (!started || closing || defs.size === 0) return;
    if (ticking) {
      tickAgain = true;
      return;
    }
    ticking = true;
    let release!: () => void;
    tickDone = new Promise((resolve) => (release = resolve));
    try {
      do {
        tickAgain = false;
        await claimAndRun();
      } while (tickAgain && !closing);
      const [next] = await rows<{ at: Date | string | null }>(
        sql`SELECT min(run_at) AS at FROM jobs WHERE status = 'pending' AND queue IN (${sql.join([...defs.keys()].map((q) => sql`${q}`), sql`, `)})`,
      );
      const nextAt = next?.at ? new Date(next.at).getTime() : Infinity;
      wake(Math.min(nextAt, now() + settings.pollMs));
      if (now() - lastCleanup > CLEANUP_EVERY_MS) await cleanup();
    } catch (err) {
      logger.warn({ err }, 'job runner tick failed');
      wake(now() + settings.pollMs);
    } finally {
      ticking = false;
      release();
    }
  }

  async function claimAndRun() {
    const free = [...defs.values()].filter((d) => (running.get(d.queue) ?? 0) < (d.concurrency ?? settings.concurrency));
    if (free.length === 0) return;
    const limit = Math.max(...free.map((d) => (d.concurrency ?? settings.concurrency) - (running.get(d.queue) ?? 0)));
    const t = new Date(now());
    const lease = new Date(now() + settings.leaseSec * 1000);
    const queues = sql.join(free.map((d) => sql`${d.queue}`), sql`, `);
    const claimed = await rows<ClaimedRow>(sql`
      UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_until = ${lease.toISOString()}
      WHERE id IN (
        SELECT id FROM jobs
        WHERE queue IN (${queues})
          AND ((status = 'pending' AND run_at <= ${t.toISOString()}) OR (status = 'running' AND locked_until <= ${t.toISOString()}))
        ORDER BY run_at
        LIMIT ${limit}
        FOR UPDATE SKIP LOCKED
      )
      RETURNING id, queue, data, attempts, max_attempts, backoff_ms`);
    for (const row of claimed) {
      const def = defs.get(row.queue)!;
      const n = running.get(row.queue) ?? 0;
      if (closing || n >= (def.concurrency ?? settings.concurrency)) {
        // Closing (the claim was in flight when close() began), or more rows than this queue has room for
        // (the limit is shared): hand it back untouched, for the next start or another process.
        await db.execute(sql`UPDATE jobs SET status = 'pending', attempts = attempts - 1, locked_until = NULL WHERE id = ${row.id}`);
        tickAgain = true;
        continue;
      }
      running.set(row.queue, n + 1);
      const p = runOne(def, row).finally(() => {
        running.set(row.queue, (running.get(row.queue) ?? 1) - 1);
        inflight.delete(p);
        void tick();
      });
      inflight.add(p);
    }
  }

  async function runOne(def: JobDefinition, row: ClaimedRow): Promise<void> {
    if (row.attempts > row.max_attempts) {
      // Its worker died mid-run as many times as it may be tried.
      await finish(row.id, 'failed', 'abandoned: the process running it stopped');
      return;
    }
    const final = (err: unknown) => isUnrecoverable(err) || row.attempts >= row.max_attempts;
    try {
      const run = () => def.process(row.data, { id: row.id, queue: row.queue, attempt: row.attempts });
      await (opts.metrics ? opts.metrics.run(row.queue, final, run) : run());
      await finish(row.id, 'done', null);
    } catch (err) {
      const message = String((err as Error)?.stack ?? err).slice(0, ERROR_MAX_CHARS);
      if (final(err)) {
        logger.error({ err, queue: row.queue, jobId: row.id, attempt: row.attempts }, 'job failed');
        await finish(row.id, 'failed', message).catch((e) => logger.warn({ err: e }, 'job state not saved'));
        return;
      }
      const retryAt = now() + backoffDelay(row.backoff_ms, row.attempts);
      logger.warn({ err, queue: row.queue, jobId: row.id, attempt: row.attempts, retryAt: new Date(retryAt) }, 'job failed; will retry');
      await db
        .execute(
          sql`UPDATE jobs SET status = 'pending', run_at = ${new Date(retryAt).toISOString()}, locked_until = NULL, last_error = ${message} WHERE id = ${row.id}`,
        )
        .catch((e) => logger.warn({ err: e }, 'job state not saved'));
      wake(retryAt);
    }
  }

  async function finish(id: string, status: 'done' | 'failed', error: string | null) {
    await db.execute(
      sql`UPDATE jobs SET status = ${status}, finished_at = ${new Date(now()).toISOString()}, locked_until = NULL, last_error = ${error} WHERE id = ${id}`,
    );
  }

  async function cleanup() {
    lastCleanup = now();
    await db.execute(sql`DELETE FROM jobs WHERE status = 'done' AND finished_at < ${new Date(now() - settings.keepDoneSec * 1000).toISOString()}`);
    await db.execute(sql`DELETE FROM jobs WHERE status = 'failed' AND finished_at < ${new Date(now() - settings.keepFailedSec * 1000).toISOString()}`);
  }

  async function insert(queue: string, data: JobData, id: string, runAt: Date) {
    const def = defs.get(queue);
    await db.execute(sql`
      INSERT INTO jobs (id, queue, data, run_at, max_attempts, backoff_ms)
      VALUES (${id}, ${queue}, ${JSON.stringify(data)}::jsonb, ${runAt.toISOString()}, ${def?.attempts ?? settings.attempts}, ${def?.backoffMs ?? settings.backoffMs})
      ON CONFLICT (id) DO NOTHING`);
  }

  function startSchedule(def: JobDefinition & { everyMs: number }) {
    const every = def.everyMs;
    const arm = () => {
      const slot = Math.floor(now() / every) * every + every;
      const t = setTimeout(() => {
        scheduleTimers.delete(t);
        if (closing) return;
        insert(def.queue, def.repeatData ?? {}, `${def.queue}@${slot}`, new Date(slot)).then(
          () => wake(slot),
          (err) => logger.warn({ err, queue: def.queue }, 'scheduled job not written'),
        );
        arm();
      }, Math.min(slot - now(), MAX_TIMER_MS));
      scheduleTimers.add(t);
    };
    arm();
  }

  return {
    kind: 'local',

    define(def) {
      defs.set(def.queue, def as unknown as JobDefinition);
    },

    async enqueue(queue, data, o: EnqueueOptions = {}) {
      const runAt = o.runAt ?? new Date(now());
      await insert(queue, data, o.jobId ?? newId(), runAt);
      wake(runAt.getTime());
    },

    async startWorkers() {
      if (started) return;
      started = true;
      for (const def of defs.values()) if (def.everyMs) startSchedule(def as JobDefinition & { everyMs: number });
      // Due work left from before a restart runs now.
      await tick();
    },

    async counts() {
      const found = await rows<{ queue: string; status: string; run_at_future: boolean; n: number | string }>(sql`
        SELECT queue, status, (status = 'pending' AND run_at > ${new Date(now()).toISOString()}) AS run_at_future, count(*) AS n
        FROM jobs GROUP BY 1, 2, 3`);
      const out: Record<string, Partial<Record<JobState, number>>> = {};
      for (const q of defs.keys()) out[q] = { waiting: 0, delayed: 0, active: 0, failed: 0, completed: 0 };
      const stateOf: Record<string, JobState> = { running: 'active', done: 'completed', failed: 'failed' };
      for (const r of found) {
        const state = r.status === 'pending' ? (r.run_at_future ? 'delayed' : 'waiting') : stateOf[r.status]!;
        const q = (out[r.queue] ??= {});
        q[state] = (q[state] ?? 0) + Number(r.n);
      }
      return out;
    },

    close: once(async () => {
      closing = true;
      if (timer) clearTimeout(timer);
      for (const t of scheduleTimers) clearTimeout(t);
      scheduleTimers.clear();
      // A tick in progress may have a claim in flight: it hands those rows back before the database closes.
      await tickDone;
      // Running jobs finish (and record their result) before the database closes.
      while (inflight.size > 0) await Promise.allSettled([...inflight]);
    }),
  };
}
