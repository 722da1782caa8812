// The HTTP app of a process that runs no `http` role (e.g. `--roles jobs`):
// only /healthz, /readyz and /metrics, so it can be probed and scraped.
import express, { type Express } from 'express';
import type { Redis } from 'ioredis';
import { collectDefaultMetrics, type Registry } from 'prom-client';
import type { Breaker } from '../resilience.ts';
import { notFoundHandler } from './errors.ts';
import { healthRouter, type Probe, type RoleChecks } from './routes/health.ts';

export function createOpsApp(deps: { database: Probe; redis?: Redis; redisBreaker?: Breaker; registry: Registry; roles?: RoleChecks }): { app: Express; close(): void } {
  const app = express();
  app.disable('x-powered-by');
  collectDefaultMetrics({ register: deps.registry, prefix: 'liveroom_' });
  app.use(healthRouter({ database: deps.database, redis: deps.redis, redisBreaker: deps.redisBreaker, metrics: deps.registry, roles: deps.roles }));
  app.use(notFoundHandler);
  return { app, close() {} };
}
