// Starts Liveroom from a config: opens dependencies, builds the enabled roles,
// listens, and returns a handle whose close() shuts everything down once.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import { once, openDatabase, type Database } from './db/connect.ts';
import { createLocalEventBus, createRedisEventBus, type EventBus } from './domain/events.ts';
import { createServices, type Services } from './domain/services.ts';
import { createApp } from './http/app.ts';
import { createLogger } from './logger.ts';
import { connectRedis, redisReady } from './redis.ts';
import { createBreaker } from './resilience.ts';
import { startRooms, type RoomsServer } from './rooms/index.ts';

export interface Liveroom {
  config: Config;
  services: Services;
  server: Server;
  /** Colyseus, when the rooms role runs here. */
  rooms?: RoomsServer;
  port: number;
  url: string;
  logger: Logger;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Tests pass an already-open database (e.g. a PGlite template copy). */
  database?: Database;
  logger?: Logger;
}

export async function startLiveroom(config: Config, opts: StartOptions = {}): Promise<Liveroom> {
  const logger = opts.logger ?? createLogger(config.LOG_LEVEL);
  const breakerSettings = {
    timeoutMs: config.BREAKER_TIMEOUT_MS,
    failures: config.BREAKER_FAILURES,
    halfOpenAfterMs: config.BREAKER_HALF_OPEN_AFTER_MS,
  };
  const database =
    opts.database ??
    (await openDatabase({
      databaseUrl: config.DATABASE_URL,
      dataDir: path.join(config.dataDir, 'pglite'),
      breaker: createBreaker('postgres', breakerSettings),
    }));
  let redis: Redis | undefined;
  if (config.REDIS_URL) {
    redis = connectRedis(config.REDIS_URL, logger);
    await redisReady(redis, 10_000);
  }
  const events: EventBus = redis
    ? createRedisEventBus({
        publisher: redis,
        subscriber: connectRedis(config.REDIS_URL!, logger),
        onError: (err) => logger.warn({ err }, 'event bus error'),
      })
    : createLocalEventBus();
  const services = createServices(config, database, events);
  // Forget Idempotency-Keys past their TTL (at least 24 h); any process may do it, deletes are idempotent.
  const purgeKeys = setInterval(() => {
    services.wallet.purgeIdempotencyKeys().then(
      (n) => n > 0 && logger.info({ purged: n }, 'idempotency keys purged'),
      (err) => logger.warn({ err }, 'idempotency key purge failed'),
    );
  }, config.IDEMPOTENCY_PURGE_EVERY_SEC * 1000);
  purgeKeys.unref();

  if (config.ADMIN_USERNAME) {
    const { created } = await services.users.ensureAdmin(config.ADMIN_USERNAME, config.ADMIN_PASSWORD, { actorId: null, ip: null });
    logger.info({ username: config.ADMIN_USERNAME, created }, 'admin bootstrap');
  }

  const http = createApp({ config, services, logger, redis, redisBreaker: createBreaker('redis', breakerSettings) });
  const server = createServer(http.app);
  server.headersTimeout = 30_000;
  server.requestTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.PORT, config.HOST, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const rooms = config.ROLES.includes('rooms') ? await startRooms({ httpServer: server, port, config, services, logger }) : undefined;
  logger.info({ port, roles: config.ROLES, database: database.kind, redis: Boolean(redis) }, 'liveroom listening');

  const close = once(async () => {
    clearInterval(purgeKeys);
    await rooms?.close();
    http.close();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await events.close();
    if (!opts.database) await database.close();
    redis?.disconnect();
  });
  return { config, services, server, rooms, port, url: `http://127.0.0.1:${port}`, logger, close };
}
