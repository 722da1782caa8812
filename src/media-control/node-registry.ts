// Media nodes announce themselves here: who they are, where other nodes and
// clients reach them, their load and the rooms they publish or relay. With
// Redis (a cluster) each node's record is a key that expires three heartbeats
// after its last announcement, so a node that dies or loses Redis drops out by
// itself; without Redis the registry is this process's alone (one node).
import type { Redis } from 'ioredis';

export interface MediaNodeInfo {
  id: string;
  /** Where other media nodes pull from (edges), e.g. http://10.0.0.5:8000. */
  nodeUrl: string;
  /** Where clients play from and push to. */
  mediaUrl: string;
  rtmpUrl: string;
  /** Players on this node over every protocol. */
  viewers: number;
  /** Rooms whose publisher is on this node (it is their origin). */
  liveRooms: string[];
  /** Rooms this node relays from their origin (it is their edge). */
  edgeRooms: string[];
  /** When it announced this (ms since the epoch). */
  at: number;
}

export interface NodeRegistry {
  /** True when the registry is shared with other processes (Redis). */
  shared: boolean;
  /** Announces (or refreshes) a node for `ttlMs`. */
  announce(info: MediaNodeInfo, ttlMs: number): Promise<void>;
  /** Every node whose announcement still holds. */
  nodes(): Promise<MediaNodeInfo[]>;
  get(id: string): Promise<MediaNodeInfo | null>;
  /** A node that stops cleanly leaves at once. */
  withdraw(id: string): Promise<void>;
}

export function redisNodeRegistry(redis: Redis, prefix: string): NodeRegistry {
  const keyOf = (id: string) => `${prefix}media:node:${id}`;
  const index = `${prefix}media:nodes`;
  const parse = (raw: string | null): MediaNodeInfo | null => {
    if (!raw) return null;
    try {
      return JSON.parse(raw) as MediaNodeInfo;
    } catch {
      return null;
    }
  };
  return {
    shared: true,
    async announce(info, ttlMs) {
      await redis.multi().set(keyOf(info.id), JSON.stringify(info), 'PX', ttlMs).sadd(index, info.id).exec();
    },
    async nodes() {
      const ids = await redis.smembers(index);
      if (ids.length === 0) return [];
      const raws = await redis.mget(ids.map(keyOf));
      const out: MediaNodeInfo[] = [];
      const gone: string[] = [];
      raws.forEach((raw, i) => {
        const info = parse(raw);
        if (info) out.push(info);
        else gone.push(ids[i]!);
      });
      // the index keeps ids whose record expired: drop them as they are found
      if (gone.length) await redis.srem(index, ...gone);
      return out;
    },
    async get(id) {
      return parse(await redis.get(keyOf(id)));
    },
    async withdraw(id) {
      await redis.multi().del(keyOf(id)).srem(index, id).exec();
    },
  };
}

export function memoryNodeRegistry(): NodeRegistry {
  const nodes = new Map<string, { info: MediaNodeInfo; expiresAt: number }>();
  const current = () => {
    const now = Date.now();
    for (const [id, n] of nodes) if (n.expiresAt <= now) nodes.delete(id);
    return nodes;
  };
  return {
    shared: false,
    async announce(info, ttlMs) {
      nodes.set(info.id, { info, expiresAt: Date.now() + ttlMs });
    },
    async nodes() {
      return [...current().values()].map((n) => n.info);
    },
    async get(id) {
      return current().get(id)?.info ?? null;
    },
    async withdraw(id) {
      nodes.delete(id);
    },
  };
}
