// The job runner on Redis: one BullMQ queue per kind of work, a job scheduler
// (`upsertJobScheduler`, BullMQ 6) per repeating queue, and workers in the
// processes that run the `jobs` role. Jobs survive restarts in Redis; any
// process may enqueue. All keys live under the prefix (JOBS_QUEUE_PREFIX), so
// installations (and tests) sharing one Redis never see each other's jobs.
import { Queue, Worker, type ConnectionOptions } from 'bullmq';
import type { Logger } from 'pino';
import { once } from '../lib/once.ts';
import {
  isUnrecoverable,
  type EnqueueOptions,
  type JobData,
  type JobDefinition,
  type JobMetrics,
  type JobRunner,
  type JobSettings,
  type JobState,
} from './runner.ts';

export function createBullmqRunner(opts: { redisUrl: string; prefix: string; settings: JobSettings; logger: Logger; metrics?: JobMetrics }): JobRunner {
  const { settings, logger, prefix } = opts;
  // Workers need maxRetriesPerRequest null (their blocking commands wait without a limit); queues fail fast.
  const workerConnection: ConnectionOptions = { url: opts.redisUrl, maxRetriesPerRequest: null };
  const queueConnection: ConnectionOptions = { url: opts.redisUrl, maxRetriesPerRequest: 1, enableOfflineQueue: false };
  const defs = new Map<string, JobDefinition>();
  const queues = new Map<string, Queue>();
  const workers: Worker[] = [];
  let started = false;

  const jobOptions = (def: JobDefinition | undefined) => ({
    attempts: def?.attempts ?? settings.attempts,
    backoff: { type: 'exponential' as const, delay: def?.backoffMs ?? settings.backoffMs },
    removeOnComplete: { age: settings.keepDoneSec },
    removeOnFail: { age: settings.keepFailedSec },
  });

  function queueOf(name: string): Queue {
    let q = queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: queueConnection, prefix, defaultJobOptions: jobOptions(defs.get(name)) });
      q.on('error', (err) => logger.warn({ err, queue: name }, 'job queue error'));
      queues.set(name, q);
    }
    return q;
  }

  return {
    kind: 'bullmq',

    define(def) {
      defs.set(def.queue, def as unknown as JobDefinition);
    },

    async enqueue(queue, data, o: EnqueueOptions = {}) {
      const delay = o.runAt ? Math.max(0, o.runAt.getTime() - Date.now()) : 0;
      await queueOf(queue).add(queue, data, { ...jobOptions(defs.get(queue)), jobId: o.jobId, delay });
    },

    async startWorkers() {
      if (started) return;
      started = true;
      for (const def of defs.values()) {
        const worker = new Worker(
          def.queue,
          async (job) => {
            const attempts = job.opts.attempts ?? 1;
            const attempt = job.attemptsMade + 1;
            const final = (err: unknown) => isUnrecoverable(err) || attempt >= attempts;
            const run = () => def.process(job.data as JobData, { id: job.id ?? '', queue: def.queue, attempt });
            try {
              await (opts.metrics ? opts.metrics.run(def.queue, final, run) : run());
            } catch (err) {
              if (final(err)) logger.error({ err, queue: def.queue, jobId: job.id, attempt }, 'job failed');
              else logger.warn({ err, queue: def.queue, jobId: job.id, attempt }, 'job failed; will retry');
              throw err;
            }
          },
          { connection: workerConnection, prefix, concurrency: def.concurrency ?? settings.concurrency },
        );
        // Background loops report errors instead of throwing (docs/style.md item 7).
        worker.on('error', (err) => logger.warn({ err, queue: def.queue }, 'job worker error'));
        workers.push(worker);
        if (def.everyMs) {
          await queueOf(def.queue).upsertJobScheduler(def.queue, { every: def.everyMs }, { name: def.queue, data: def.repeatData ?? {}, opts: jobOptions(def) });
        }
      }
    },

    async counts() {
      const out: Record<string, Partial<Record<JobState, number>>> = {};
      for (const name of defs.keys()) out[name] = (await queueOf(name).getJobCounts('waiting', 'delayed', 'active', 'failed', 'completed')) as Partial<Record<JobState, number>>;
      return out;
    },

    close: once(async () => {
      // Workers first: running jobs finish; then the queues' connections.
      await Promise.allSettled(workers.map((w) => w.close()));
      await Promise.allSettled([...queues.values()].map((q) => q.close()));
    }),
  };
}
