// Builds the Express app from its collaborators; main.ts decides where it listens.
import { randomUUID } from 'node:crypto';
import { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import cors from 'cors';
import express, { type Express } from 'express';
import helmet from 'helmet';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { pinoHttp } from 'pino-http';
import type { Config } from '../config.ts';
import type { Services } from '../domain/services.ts';
import type { User } from '../domain/users.ts';
import type { Breaker } from '../resilience.ts';
import { createAuthenticator } from './auth.ts';
import { errorHandler, notFoundHandler } from './errors.ts';
import { addressKey, createLimiterFactory, createLoginGuard, limitBy } from './limits.ts';
import { createMetrics } from './metrics.ts';
import { openApiRouter } from './openapi.ts';
import type { Api } from './route.ts';
import { adminRoutes } from './routes/admin.ts';
import { authRoutes } from './routes/auth.ts';
import { fileRoutes } from './routes/files.ts';
import { healthRouter, type Probe, type RoleChecks } from './routes/health.ts';
import { userRoutes } from './routes/users.ts';
import { walletRoutes } from './routes/wallet.ts';
import { giftRoutes } from './routes/gifts.ts';
import { roomRoutes } from './routes/rooms.ts';
import { rankingRoutes } from './routes/rankings.ts';
import { mediaFileRoutes, recordingRoutes } from './routes/recordings.ts';
import { lotteryRoutes } from './routes/lotteries.ts';
import { createMatchmakeGate, type MatchmakeGate } from './matchmake-gate.ts';
import { compileTrustProxy } from './client-address.ts';
import { createLoadShedder } from './shedding.ts';
import { webRoutes } from './web.ts';

export interface AppDeps {
  config: Config;
  services: Services;
  /** Probed by /readyz. */
  database: Probe;
  logger: Logger;
  redis?: Redis;
  redisBreaker?: Breaker;
  /** The process's metrics registry (jobs report to it too); default a new one. */
  metricsRegistry?: Registry;
  /** Whether each role of this process can serve (/readyz). */
  roles?: RoleChecks;
}

export interface HttpApp {
  app: Express;
  api: Api;
  /** Matchmaking passes the gateway's checks; the rooms role hands its handler over. */
  matchmake: MatchmakeGate;
  close(): void;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

export function createApp(deps: AppDeps): HttpApp {
  const { config, services } = deps;
  const app = express();
  app.disable('x-powered-by');
  // The same compiled rule as the rooms' (http/client-address.ts).
  app.set('trust proxy', compileTrustProxy(config.TRUST_PROXY));
  app.set('query parser', 'simple');

  const metrics = createMetrics(deps.metricsRegistry);
  const shedder = createLoadShedder({ targetMs: config.SHED_TARGET_DELAY_MS, intervalMs: config.SHED_INTERVAL_MS, onShed: () => metrics.shed.inc() });
  const makeLimiter = createLimiterFactory(deps.redis, config.REDIS_PREFIX, deps.redisBreaker);

  app.use(
    pinoHttp({
      logger: deps.logger,
      genReqId: (req, res) => {
        const given = req.headers['x-request-id'];
        const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      // A shed request is counted in metrics; logging each one would add work exactly when there is too much.
      customLogLevel: (_req, res, err) => ((res as express.Response).locals?.shed ? 'debug' : err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'info' : 'debug'),
      redact: ['req.headers.authorization', 'req.headers.cookie'],
    }),
  );
  app.use(helmet({ crossOriginResourcePolicy: { policy: 'cross-origin' } }));
  const origins = config.CORS_ORIGINS.split(',').map((o) => o.trim());
  app.use(cors({ origin: origins.includes('*') ? '*' : origins, exposedHeaders: ['X-Request-Id', 'Retry-After', 'Location'], maxAge: 600 }));
  app.use(metrics.middleware);

  app.use(healthRouter({ database: deps.database, redis: deps.redis, redisBreaker: deps.redisBreaker, metrics: metrics.registry, roles: deps.roles }));

  app.get('/files/:name', (req, res, next) => {
    const file = services.files.pathOf(req.params.name);
    if (!file) return notFoundHandler(req, res, next);
    res.sendFile(file, { maxAge: '365d', immutable: true, headers: { 'Content-Type': 'image/webp', 'X-Content-Type-Options': 'nosniff' } }, (err) => {
      if (err && !res.headersSent) notFoundHandler(req, res, next);
    });
  });
  mediaFileRoutes(app, config);

  const api: Api = {
    router: express.Router(),
    registry: new OpenAPIRegistry(),
    auth: createAuthenticator({ users: services.users, tokens: services.tokens }),
    afterAuth: [],
    routes: [],
  };
  const ipLimiter = makeLimiter({ keyPrefix: 'ip', points: config.RATE_LIMIT_IP_PER_MIN, durationSec: 60 });
  const userLimiter = makeLimiter({ keyPrefix: 'user', points: config.RATE_LIMIT_USER_PER_MIN, durationSec: 60 });
  api.afterAuth.push(limitBy(userLimiter, (req) => (req.user as User | undefined)?.id));
  const matchmake = createMatchmakeGate({
    shedder,
    limiter: makeLimiter({ keyPrefix: 'matchmake', points: config.MATCHMAKE_PER_IP_PER_MIN, durationSec: 60 }),
    pendingPerIp: config.MATCHMAKE_PENDING_PER_IP,
    reservationSec: config.ROOM_SEAT_RESERVATION_SEC,
  });
  app.use(matchmake.middleware);
  api.router.use(shedder.middleware);
  api.router.use(limitBy(ipLimiter, (req) => addressKey(req.ip ?? 'unknown')));
  api.router.use(express.json({ limit: config.BODY_LIMIT_BYTES, strict: true }));
  api.router.use(openApiRouter(api, config.publicUrl));

  const loginGuard = createLoginGuard(makeLimiter, {
    failsPerUser: config.LOGIN_FAILS_PER_USER,
    failsPerIpPerHour: config.LOGIN_FAILS_PER_IP_PER_HOUR,
    failsPerAccount: config.LOGIN_FAILS_PER_ACCOUNT,
    accountWindowSec: config.LOGIN_ACCOUNT_WINDOW_SEC,
    blockSec: config.LOGIN_BLOCK_SEC,
    // An address a login came from stays known as long as the session it got.
    knownIpSec: config.TOKEN_TTL_SEC,
  });
  const registerLimiter = makeLimiter({ keyPrefix: 'register', points: config.REGISTER_PER_IP_PER_HOUR, durationSec: 3600 });
  authRoutes(api, services, { login: loginGuard, register: registerLimiter });
  userRoutes(api, services, config);
  roomRoutes(api, services, config);
  fileRoutes(api, services, config);
  adminRoutes(api, services, config);
  walletRoutes(api, services, config);
  giftRoutes(api, services, config);
  rankingRoutes(api, services, config);
  recordingRoutes(api, services, config);
  lotteryRoutes(api, services, config);

  app.use('/api', api.router);
  webRoutes(app, config);
  app.use(notFoundHandler);
  app.use(errorHandler);

  return {
    app,
    api,
    matchmake,
    close: () => {
      shedder.close();
      matchmake.close();
    },
  };
}
