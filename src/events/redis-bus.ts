// The event bus over Redis pub/sub, for Liveroom running as several processes:
// the EventBus contract of domain/events.ts, with every process receiving
// every event.
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import type { EventBus } from '../domain/events.ts';

/**
 * Redis pub/sub: every process receives every event. `publisher` is the shared
 * connection; `subscriber` must be a dedicated one (a subscribed Redis
 * connection can do nothing else).
 */
export function createRedisEventBus(opts: { publisher: Redis; subscriber: Redis; prefix?: string; onError?: (e: unknown) => void }): EventBus {
  const prefix = opts.prefix ?? 'lr:events:';
  const local = new EventEmitter();
  local.setMaxListeners(0);
  const counts = new Map<string, number>();
  opts.subscriber.on('message', (channel: string, message: string) => {
    if (!channel.startsWith(prefix)) return;
    try {
      local.emit(channel.slice(prefix.length), JSON.parse(message));
    } catch (e) {
      opts.onError?.(e);
    }
  });
  return {
    async publish(topic, payload) {
      await opts.publisher.publish(prefix + topic, JSON.stringify(payload));
    },
    subscribe(topic, handler) {
      const h = handler as (p: unknown) => void;
      local.on(topic, h);
      const n = (counts.get(topic) ?? 0) + 1;
      counts.set(topic, n);
      if (n === 1) opts.subscriber.subscribe(prefix + topic).catch((e) => opts.onError?.(e));
      return () => {
        local.off(topic, h);
        const left = (counts.get(topic) ?? 1) - 1;
        counts.set(topic, left);
        if (left === 0) opts.subscriber.unsubscribe(prefix + topic).catch((e) => opts.onError?.(e));
      };
    },
    async close() {
      local.removeAllListeners();
      opts.subscriber.disconnect();
    },
  };
}
