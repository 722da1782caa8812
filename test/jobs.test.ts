// The job runner in both modes, on the real servers: BullMQ on Redis (a fresh
// key prefix per test, deleted afterwards) and the in-process runner on the
// `jobs` table (PostgreSQL and PGlite). Delayed jobs run once at their time,
// survive a restart of the runner, failures retry with exponential backoff,
// UnrecoverableError stops retries, schedules repeat, and /metrics counts it all.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { loadConfig } from '../src/config.ts';
import type { Database } from '../src/db/connect.ts';
import { createJobRunner, UnrecoverableError, type JobRunner } from '../src/jobs/index.ts';
import { jobRunnerSettings } from '../src/settings.ts';
import { createLogger } from '../src/logger.ts';
import { dbKinds, openTestDatabase, REDIS_URL, type DbKind } from './helpers/db.ts';
import { dropPrefix, newPrefix, redisAvailable, sample } from './helpers/jobs.ts';
import { eventually } from './helpers/wait.ts';

type Mode = { name: string; redis: boolean; db: DbKind };
const modes: Mode[] = (await dbKinds()).map((db) => ({ name: `in-process (${db})`, redis: false, db }));
if (await redisAvailable()) modes.push({ name: 'bullmq', redis: true, db: (await dbKinds())[0]! });

for (const mode of modes) {
  describe(`jobs: ${mode.name}`, () => {
    let database: Database;
    let dataDir: string;
    const prefixes: string[] = [];
    const runners: JobRunner[] = [];
    const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');

    before(async () => {
      database = await openTestDatabase(mode.db);
      dataDir = await mkdtemp(path.join(tmpdir(), 'liveroom-jobs-'));
    });
    after(async () => {
      await Promise.allSettled(runners.map((r) => r.close()));
      await database.close();
      await rm(dataDir, { recursive: true, force: true });
      for (const p of prefixes) await dropPrefix(p);
    });

    /** A runner as the app builds it, on a prefix of its own unless given one (a "restart" reuses it). */
    async function runner(prefix?: string) {
      const p = prefix ?? newPrefix();
      if (!prefixes.includes(p)) prefixes.push(p);
      const config = loadConfig({
        DATA_DIR: dataDir,
        JWT_SECRET: 'test-secret-test-secret-test-secret-0123',
        JOBS_QUEUE_PREFIX: p,
        JOBS_BACKOFF_MS: '100',
        JOBS_ATTEMPTS: '3',
        ...(mode.redis ? { REDIS_URL } : {}),
      });
      const registry = new Registry();
      const r = await createJobRunner({ settings: jobRunnerSettings(config), database, logger, registry });
      runners.push(r);
      assert.equal(r.kind, mode.redis ? 'bullmq' : 'local');
      return { runner: r, registry, prefix: p };
    }
    const queueName = () => `q${randomBytes(4).toString('hex')}`;

    test('a delayed job runs once, not before its time; a second enqueue with its id is ignored', async () => {
      const { runner: r } = await runner();
      const queue = queueName();
      const runs: { id: string; at: number }[] = [];
      r.define<{ id: string }>({ queue, process: async (d) => void runs.push({ id: d.id, at: Date.now() }) });
      await r.startWorkers();
      const runAt = new Date(Date.now() + 700);
      await r.enqueue(queue, { id: 'a' }, { jobId: 'job-a', runAt });
      await r.enqueue(queue, { id: 'a' }, { jobId: 'job-a', runAt });
      await r.enqueue(queue, { id: 'later' }, { jobId: 'job-later', runAt: new Date(runAt.getTime() + 500) });
      await eventually(() => runs.some((x) => x.id === 'later'), 'the later job');
      const a = runs.filter((x) => x.id === 'a');
      assert.equal(a.length, 1, 'ran exactly once');
      assert.ok(a[0]!.at >= runAt.getTime() - 5, `ran ${runAt.getTime() - a[0]!.at} ms early`);
    });

    test('a delayed job survives a restart of the runner and runs once after its time', async () => {
      const first = await runner();
      const queue = queueName();
      const runs: number[] = [];
      first.runner.define({ queue, process: async () => void runs.push(Date.now()) });
      await first.runner.startWorkers();
      const runAt = new Date(Date.now() + 1500);
      await first.runner.enqueue(queue, {}, { jobId: 'restart-me', runAt });
      await first.runner.close();
      assert.equal(runs.length, 0);

      const second = await runner(first.prefix);
      second.runner.define({ queue, process: async () => void runs.push(Date.now()) });
      await second.runner.startWorkers();
      await eventually(() => runs.length === 1, 'the job after the restart');
      assert.ok(runs[0]! >= runAt.getTime() - 5);
      // Let a sentinel run after it: by then a duplicate would have run too.
      let sentinel = false;
      const q2 = queueName();
      second.runner.define({ queue: q2, process: async () => void (sentinel = true) });
      await second.runner.close();
      const third = await runner(first.prefix);
      third.runner.define({ queue, process: async () => void runs.push(Date.now()) });
      third.runner.define({ queue: q2, process: async () => void (sentinel = true) });
      await third.runner.startWorkers();
      await third.runner.enqueue(q2, {}, { runAt: new Date(Date.now() + 300) });
      await eventually(() => sentinel, 'sentinel');
      assert.equal(runs.length, 1, 'not run again after a second restart');
    });

    test('close() takes no more work: nothing runs after it resolves, and a job it did not run runs once after a restart', async () => {
      const first = await runner();
      const queue = queueName();
      let phase: 'open' | 'closed' | 'restarted' = 'open';
      const runs: string[] = [];
      const process = async () => void runs.push(phase);
      first.runner.define({ queue, process });
      await first.runner.startWorkers();
      await first.runner.enqueue(queue, {}, { jobId: 'close-race' });
      // close while the runner is picking the job up (its claim in flight)
      await new Promise((resolve) => setTimeout(resolve, 0));
      await first.runner.close();
      phase = 'closed';
      // a job taken before the close and run after it would show up by now
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual(runs, runs.filter((p) => p === 'open'), 'no job ran after close() resolved');

      const second = await runner(first.prefix);
      second.runner.define({ queue, process });
      phase = 'restarted';
      await second.runner.startWorkers();
      await eventually(() => runs.length === 1, 'the job, before the close or after the restart');
      // once: a sentinel enqueued after it has run, and the job has not run again
      let sentinel = false;
      const q2 = queueName();
      second.runner.define({ queue: q2, process: async () => void (sentinel = true) });
      await second.runner.close();
      const third = await runner(first.prefix);
      third.runner.define({ queue, process });
      third.runner.define({ queue: q2, process: async () => void (sentinel = true) });
      await third.runner.startWorkers();
      await third.runner.enqueue(q2, {}, { runAt: new Date(Date.now() + 300) });
      await eventually(() => sentinel, 'sentinel');
      assert.equal(runs.length, 1, 'run exactly once');
    });

    test('a failing job retries with exponential backoff, then succeeds; metrics count each attempt', async () => {
      const { runner: r, registry } = await runner();
      const queue = queueName();
      const attempts: { attempt: number; at: number }[] = [];
      r.define({
        queue,
        process: async (_d, ctx) => {
          attempts.push({ attempt: ctx.attempt, at: Date.now() });
          if (ctx.attempt < 3) throw new Error(`transient failure ${ctx.attempt}`);
        },
      });
      await r.startWorkers();
      await r.enqueue(queue, {});
      await eventually(() => attempts.length === 3, 'three attempts');
      assert.deepEqual(attempts.map((a) => a.attempt), [1, 2, 3]);
      const gap1 = attempts[1]!.at - attempts[0]!.at;
      const gap2 = attempts[2]!.at - attempts[1]!.at;
      assert.ok(gap1 >= 95, `first retry after ${gap1} ms (backoff 100)`);
      assert.ok(gap2 >= 195, `second retry after ${gap2} ms (backoff 200)`);
      let text = '';
      await eventually(async () => {
        text = await registry.metrics();
        return sample(text, 'liveroom_jobs_total', { queue, result: 'completed' }) === 1;
      }, 'completed counted');
      assert.equal(sample(text, 'liveroom_jobs_total', { queue, result: 'retried' }), 2);
      assert.equal(sample(text, 'liveroom_jobs_total', { queue, result: 'failed' }), 0);
      assert.match(text, new RegExp(`liveroom_job_duration_seconds_count\\{queue="${queue}"\\} 3`));
    });

    test('UnrecoverableError fails the job at once; it shows as failed in the counts', async () => {
      const { runner: r, registry } = await runner();
      const queue = queueName();
      let calls = 0;
      r.define({
        queue,
        process: async () => {
          calls++;
          throw new UnrecoverableError('bad input');
        },
      });
      await r.startWorkers();
      await r.enqueue(queue, { bad: true });
      await eventually(async () => (await r.counts())[queue]?.failed === 1, 'job failed');
      assert.equal(calls, 1);
      const text = await registry.metrics();
      assert.equal(sample(text, 'liveroom_jobs_total', { queue, result: 'failed' }), 1);
      assert.equal(sample(text, 'liveroom_jobs', { queue, state: 'failed' }), 1);
    });

    test('a schedule repeats while workers run', async () => {
      const { runner: r } = await runner();
      const queue = queueName();
      const runs: number[] = [];
      r.define({ queue, everyMs: 250, process: async () => void runs.push(Date.now()) });
      await r.startWorkers();
      await eventually(() => runs.length >= 3, 'three scheduled runs');
    });
  });
}
