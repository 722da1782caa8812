// Starts Liveroom from a config: opens dependencies, builds the enabled roles,
// listens, and returns a handle whose close() shuts everything down once.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { Config } from './config.ts';
import { openDatabase, type Database } from './db/connect.ts';
import { createLocalEventBus, type EventBus } from './domain/events.ts';
import { createServices, type Services } from './domain/services.ts';
import { createRedisEventBus } from './events/redis-bus.ts';
import { createApp, type HttpApp } from './http/app.ts';
import { onClientError } from './http/client-errors.ts';
import { createOpsApp } from './http/ops-app.ts';
import { createJobRunner, defineAppJobs, drawJob, type JobRunner } from './jobs/index.ts';
import { once } from './lib/once.ts';
import { createLogger } from './logger.ts';
import { defineRecordingJobs } from './media-control/recording-jobs.ts';
import { startMediaSupervisor, type MediaSupervisor } from './media-control/supervisor.ts';
import { connectRedis, redisReady } from './redis.ts';
import { createBreaker } from './resilience.ts';
import { appJobSettings, breakerSettings, databaseSettings, httpSettings, jobRunnerSettings, recordingJobSettings, serviceSettings } from './settings.ts';
import { startRooms, type RoomsServer } from './rooms/index.ts';
import { registerRoomsMetrics } from './rooms/metrics.ts';
import type { RoleChecks } from './http/routes/health.ts';

export interface Liveroom {
  config: Config;
  services: Services;
  /** The open database (tests and tools read it directly; the services never hand it out). */
  database: Database;
  server: Server;
  /** Colyseus, when the rooms role runs here. */
  rooms?: RoomsServer;
  /** The supervisor of the media process, when the media role runs here. */
  media?: MediaSupervisor;
  /** Enqueues everywhere; runs workers when the jobs role runs here. */
  jobs: JobRunner;
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
  const breakers = breakerSettings(config);
  const database = opts.database ?? (await openDatabase({ ...databaseSettings(config), breaker: createBreaker('postgres', breakers) }));
  let redis: Redis | undefined;
  if (config.REDIS_URL) {
    redis = connectRedis(config.REDIS_URL, logger);
    await redisReady(redis, 10_000);
  }
  const events: EventBus = redis
    ? createRedisEventBus({
        publisher: redis,
        subscriber: connectRedis(config.REDIS_URL!, logger),
        prefix: `${config.REDIS_PREFIX}events:`,
        onError: (err) => logger.warn({ err }, 'event bus error'),
      })
    : createLocalEventBus();
  const metricsRegistry = new Registry();
  const jobs = await createJobRunner({ settings: jobRunnerSettings(config), database, logger, registry: metricsRegistry });
  let media: MediaSupervisor | undefined;
  // with port 0 the media ports are known once the media process listens
  const services = createServices(serviceSettings(config, () => media?.urls() ?? {}), database, events, {
    scheduleDraw: (lotteryId, at) =>
      jobs.enqueue(...drawJob(lotteryId, at)).catch((err) => logger.warn({ err, lotteryId }, 'draw job not queued; the sweep will draw it')),
  });
  const appJobs = defineAppJobs(jobs, services, appJobSettings(config), logger);
  defineRecordingJobs(jobs, services, recordingJobSettings(config), logger);
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

  const redisBreaker = createBreaker('redis', breakers);
  // Every role this process runs answers /readyz; each is down until it has started (and while media restarts).
  // eslint-disable-next-line prefer-const -- read by the readiness check before it is started
  let rooms: RoomsServer | undefined;
  let jobsStarted = false;
  const roles: RoleChecks = new Map();
  if (config.ROLES.includes('rooms')) roles.set('rooms', () => rooms?.ready() ?? false);
  if (config.ROLES.includes('media')) roles.set('media', () => media?.ready() ?? false);
  if (config.ROLES.includes('jobs')) roles.set('jobs', () => jobsStarted);
  // Without the http role (e.g. `--roles jobs`) only health and metrics are served.
  const http = config.ROLES.includes('http')
    ? createApp({ settings: httpSettings(config), services, database, logger, redis, redisBreaker, metricsRegistry, roles })
    : createOpsApp({ database, redis, redisBreaker, registry: metricsRegistry, roles });
  const server = createServer(http.app);
  server.on('clientError', onClientError);
  server.headersTimeout = 30_000;
  server.requestTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.PORT, config.HOST, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  // PORT=0 picks a port only now: the default public URL (links, the OpenAPI server, the banner) follows it
  if (config.PORT === 0 && !config.PUBLIC_URL) (config as { publicUrl: string }).publicUrl = `http://localhost:${port}`;
  const gate = (http as Partial<HttpApp>).matchmake;
  rooms = config.ROLES.includes('rooms')
    ? await startRooms({
        httpServer: server,
        port,
        config,
        services,
        logger,
        handOverRequests: gate?.setHandler,
        onUpgrade: gate?.claimed,
      })
    : undefined;
  if (rooms) registerRoomsMetrics(metricsRegistry);
  if (config.ROLES.includes('jobs')) {
    await appJobs.start();
    jobsStarted = true;
  }

  const close = once(async () => {
    await media?.close();
    clearInterval(purgeKeys);
    await rooms?.close();
    jobsStarted = false;
    appJobs.stop();
    await jobs.close();
    http.close();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await events.close();
    if (!opts.database) await database.close();
    redis?.disconnect();
  });
  // Media runs in a supervised child process: a crash there never takes the API or rooms down.
  if (config.ROLES.includes('media')) {
    try {
      media = await startMediaSupervisor({ config, services, logger, registry: metricsRegistry, jobs, redis });
    } catch (err) {
      await close();
      throw err;
    }
  }
  logger.info({ port, roles: config.ROLES, jobs: jobs.kind, database: database.kind, redis: Boolean(redis), media: media?.ports() }, 'liveroom listening');
  return { config, services, database, server, rooms, media, jobs, port, url: `http://127.0.0.1:${port}`, logger, close };
}
