import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { createLocalEventBus, type EventBus } from '../src/domain/events.ts';
import { createRedisEventBus } from '../src/events/redis-bus.ts';
import { REDIS_URL } from './helpers/db.ts';

async function redisBus(prefix: string): Promise<EventBus & { raw: Redis[] }> {
  const publisher = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const subscriber = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  await Promise.all([once(publisher, 'ready'), once(subscriber, 'ready')]);
  const bus = createRedisEventBus({ publisher, subscriber, prefix });
  return { ...bus, raw: [publisher], close: async () => { await bus.close(); publisher.disconnect(); } };
}

const variants: [string, () => Promise<{ a: EventBus; b: EventBus }>][] = [
  ['local', async () => { const bus = createLocalEventBus(); return { a: bus, b: bus }; }],
  ['redis', async () => {
    // two buses on distinct connections stand for two processes
    const prefix = `lr:test:${process.pid}:${Date.now()}:`;
    return { a: await redisBus(prefix), b: await redisBus(prefix) };
  }],
];

for (const [name, make] of variants) {
  describe(`event bus (${name})`, () => {
    test('an event published on one side reaches subscribers on the other, in order', async () => {
      const { a, b } = await make();
      const got: string[] = [];
      const done = new Promise<void>((resolve) => {
        b.subscribe('room.updated', (e) => {
          got.push(e.roomId);
          if (got.length === 3) resolve();
        });
      });
      await new Promise((r) => setTimeout(r, 50)); // the Redis SUBSCRIBE round trip
      for (const roomId of ['r1', 'r2', 'r3']) await a.publish('room.updated', { roomId });
      await done;
      assert.deepEqual(got, ['r1', 'r2', 'r3']);
      await a.close();
      if (b !== a) await b.close();
    });

    test('unsubscribe stops delivery', async () => {
      const { a, b } = await make();
      let calls = 0;
      const off = b.subscribe('room.updated', () => calls++);
      const seen = new Promise<void>((resolve) => b.subscribe('room.status', () => resolve()));
      await new Promise((r) => setTimeout(r, 50));
      off();
      await a.publish('room.updated', { roomId: 'x' });
      await a.publish('room.status', { roomId: 'x', status: 'live', at: new Date().toISOString() });
      await seen; // delivered after the room.updated one, so that one had its chance
      assert.equal(calls, 0);
      await a.close();
      if (b !== a) await b.close();
    });
  });
}
