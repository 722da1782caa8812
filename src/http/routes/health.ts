// Liveness, readiness and metrics, outside /api: never rate-limited or shed.
import express, { type Router } from 'express';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { Breaker } from '../../resilience.ts';

/**
 * The roles this process runs, each with whether it can serve right now
 * (media listening, rooms accepting joins, the job runner started): /readyz
 * is 200 only when every one of them is up, so a probe, a script or an
 * encoder that waits for it never meets a role still starting or restarting.
 */
export type RoleChecks = Map<string, () => boolean>;

/** A dependency /readyz probes (the database): up when ping() answers within 2 s. */
export interface Probe {
  ping(): Promise<unknown>;
}

export function healthRouter(deps: { database: Probe; redis?: Redis; redisBreaker?: Breaker; metrics: Registry; roles?: RoleChecks }): Router {
  const router = express.Router();
  router.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));

  router.get('/readyz', async (_req, res) => {
    const checks: Record<string, 'up' | 'down'> = {};
    const probe = async (name: string, fn: () => Promise<unknown>) => {
      try {
        await Promise.race([fn(), new Promise((_, reject) => setTimeout(reject, 2000, new Error('timeout')).unref())]);
        checks[name] = 'up';
      } catch {
        checks[name] = 'down';
      }
    };
    await Promise.all([
      probe('database', () => deps.database.ping()),
      deps.redis ? probe('redis', () => (deps.redisBreaker ? deps.redisBreaker.execute(() => deps.redis!.ping()) : deps.redis!.ping())) : undefined,
    ]);
    for (const [name, up] of deps.roles ?? []) checks[name] = up() ? 'up' : 'down';
    const ok = Object.values(checks).every((c) => c === 'up');
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'unavailable', checks });
  });

  router.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.contentType).send(await deps.metrics.metrics());
  });
  return router;
}
