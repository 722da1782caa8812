// Helpers for tests of the job runner and what runs on it: whether Redis is
// there (under CI its absence is a failure), fresh BullMQ key prefixes, and
// removing them afterwards.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { inCI, REDIS_URL } from './db.ts';

let up: Promise<boolean> | undefined;
export function redisAvailable(): Promise<boolean> {
  up ??= (async () => {
    const r = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      await r.connect();
      await r.ping();
      return true;
    } catch (e) {
      if (inCI) throw new Error(`Redis at ${REDIS_URL} is required under CI: ${(e as Error).message}`);
      return false;
    } finally {
      r.disconnect();
    }
  })();
  return up;
}

export const newPrefix = (what = 'lrtest') => `${what}-${randomBytes(6).toString('hex')}`;

/** Deletes every key under a prefix (BullMQ keys are `<prefix>:<queue>:...`). */
export async function dropPrefix(prefix: string): Promise<void> {
  const r = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

/** Environment for a test app in BullMQ mode: its own queue and Redis prefixes, generous rate limits (Redis-backed, shared). */
export function bullmqEnv(prefix: string): Record<string, string> {
  return {
    REDIS_URL,
    JOBS_QUEUE_PREFIX: prefix,
    REDIS_PREFIX: `${prefix}:r:`,
    REGISTER_PER_IP_PER_HOUR: '100000',
    RATE_LIMIT_IP_PER_MIN: '100000',
    RATE_LIMIT_USER_PER_MIN: '100000',
  };
}

/** The value of a sample in Prometheus text (0 when absent). */
export function sample(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{')) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}
