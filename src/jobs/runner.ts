// The job runner: one interface, two back ends (docs/style.md item 1). With Redis,
// BullMQ queues, job schedulers and workers (src/jobs/bullmq-runner.ts);
// without, an in-process runner that keeps its jobs in PostgreSQL
// (src/jobs/local-runner.ts). Both run the same processors on the same
// schedules, retry failures with exponential backoff, stop retrying on
// UnrecoverableError, and report to the same Prometheus metrics.
import { UnrecoverableError } from 'bullmq';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export { UnrecoverableError };

export type JobData = Record<string, unknown>;

export interface JobContext {
  id: string;
  queue: string;
  /** 1 for the first run, 2 for the first retry, ... */
  attempt: number;
}

export interface JobDefinition<D extends JobData = JobData> {
  /** The queue: one per kind of work, so slow work never holds up other kinds. */
  queue: string;
  process(data: D, ctx: JobContext): Promise<void>;
  /** Repeats every this many ms (aligned to multiples of it since the epoch) while workers run. */
  everyMs?: number;
  /** Data of the repeating runs. */
  repeatData?: D;
  /** Tries in all, first run included; default JOBS_ATTEMPTS. */
  attempts?: number;
  /** First retry after this many ms, doubling each time; default JOBS_BACKOFF_MS. */
  backoffMs?: number;
  /** Jobs of this queue run at once per process; default JOBS_CONCURRENCY. */
  concurrency?: number;
}

export interface EnqueueOptions {
  /** A second enqueue with the same id is ignored while the first is kept (JOBS_KEEP_DONE_SEC once done). */
  jobId?: string;
  /** Not before this time. */
  runAt?: Date;
}

export type JobState = 'waiting' | 'delayed' | 'active' | 'failed' | 'completed';

export interface JobRunner {
  readonly kind: 'bullmq' | 'local';
  /** Declares a queue's processor and schedule. Every process defines all queues; only workers run them. */
  define<D extends JobData>(def: JobDefinition<D>): void;
  enqueue(queue: string, data: JobData, opts?: EnqueueOptions): Promise<void>;
  /** The `jobs` role: starts processing the defined queues and their schedules. */
  startWorkers(): Promise<void>;
  /** Jobs per queue and state (for /metrics). */
  counts(): Promise<Record<string, Partial<Record<JobState, number>>>>;
  /** Stops taking work, waits for running jobs, closes connections; a second call waits on the first. */
  close(): Promise<void>;
}

export interface JobSettings {
  attempts: number;
  backoffMs: number;
  concurrency: number;
  keepDoneSec: number;
  keepFailedSec: number;
  /** Local runner: how often the table is checked for due work written by other processes. */
  pollMs: number;
  /** Local runner: a running job not finished within this is taken to belong to a dead process and runs again. */
  leaseSec: number;
}

export const isUnrecoverable = (err: unknown): boolean =>
  err instanceof UnrecoverableError || (err as { name?: unknown } | null)?.name === 'UnrecoverableError';

/** Exponential backoff: the wait before retry n (n = 1 after the first failure). */
export const backoffDelay = (baseMs: number, failures: number): number => baseMs * 2 ** Math.max(0, failures - 1);

export interface JobMetrics {
  /** Runs one attempt of a job, counting and timing it; rethrows the processor's error. */
  run(queue: string, final: (err: unknown) => boolean, fn: () => Promise<void>): Promise<void>;
}

/**
 * Job counters on the app's registry: runs by result (completed, retried,
 * failed), run time, and the jobs waiting in each state (read at scrape time).
 */
export function createJobMetrics(registry: Registry, counts: () => Promise<Record<string, Partial<Record<JobState, number>>>>, onError: (e: unknown) => void): JobMetrics {
  const runs = new Counter({
    name: 'liveroom_jobs_total',
    help: 'Job attempts by queue and result: completed, retried (failed, will run again) or failed (no more tries)',
    labelNames: ['queue', 'result'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'liveroom_job_duration_seconds',
    help: 'Run time of job attempts by queue',
    labelNames: ['queue'] as const,
    buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120],
    registers: [registry],
  });
  new Gauge({
    name: 'liveroom_jobs',
    help: 'Jobs by queue and state (waiting, delayed, active, failed, completed)',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      try {
        const all = await counts();
        this.reset();
        for (const [queue, states] of Object.entries(all)) for (const [state, n] of Object.entries(states)) this.set({ queue, state }, n ?? 0);
      } catch (e) {
        onError(e);
      }
    },
  });
  return {
    async run(queue, final, fn) {
      const end = duration.startTimer({ queue });
      try {
        await fn();
        runs.inc({ queue, result: 'completed' });
      } catch (err) {
        runs.inc({ queue, result: final(err) ? 'failed' : 'retried' });
        throw err;
      } finally {
        end();
      }
    },
  };
}
