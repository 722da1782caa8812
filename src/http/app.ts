// Builds the Express app from its collaborators; main.ts decides where it listens.
import { randomUUID } from 'node:crypto';
import { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import cors from 'cors';
import express, { type Express } from 'express';
import helmet from 'helmet';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { serializeError } from '../logger.ts';
import { pinoHttp } from 'pino-http';
import type { Services } from '../domain/services.ts';
import type { User } from '../domain/users.ts';
import type { Breaker } from '../resilience.ts';
import { createAuthenticator } from './auth.ts';
import { errorHandler, notFoundHandler } from './errors.ts';
import { addressKey, createLimiterFactory, createLoginGuard, limitBy, type LoginGuardSettings } from './limits.ts';
import { createMetrics } from './metrics.ts';
import { openApiRouter } from './openapi.ts';
import type { Api } from './route.ts';
import type { RouteSettings } from './route-settings.ts';
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
import { compileTrustProxy } from '../lib/client-address.ts';
import { createLoadShedder, type ShedSettings } from './shedding.ts';
import { webRoutes, type WebSettings } from './web.ts';

/** What the gateway is built with; src/settings.ts makes it from the config. */
export interface HttpSettings {
  /** Express `trust proxy`, as config.ts parses TRUST_PROXY. */
  trustProxy: string | number | boolean;
  corsOrigins: string[];
  bodyLimitBytes: number;
  /** The server the OpenAPI document names. */
  publicUrl: string;
  /** Prefix of the rate-limit keys in Redis. */
  redisPrefix: string;
  shedding: ShedSettings;
  rateLimits: { ipPerMin: number; userPerMin: number; registerPerIpPerHour: number };
  login: LoginGuardSettings;
  matchmaking: { perIpPerMin: number; pendingPerIp: number; reservationSec: number };
  routes: RouteSettings;
  /** DATA_DIR: live previews and recordings are served from it. */
  dataDir: string;
  web: WebSettings;
}

export interface AppDeps {
  settings: HttpSettings;
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
  const { settings, services } = deps;
  const app = express();
  app.disable('x-powered-by');
  // The same compiled rule as the rooms' (lib/client-address.ts).
  app.set('trust proxy', compileTrustProxy(settings.trustProxy));
  app.set('query parser', 'simple');

  const metrics = createMetrics(deps.metricsRegistry);
  const shedder = createLoadShedder({ ...settings.shedding, onShed: () => metrics.shed.inc() });
  const makeLimiter = createLimiterFactory(deps.redis, settings.redisPrefix, deps.redisBreaker);

  const origins = settings.corsOrigins;
  // CORS first, so that a browser can read even a shed reply; then shedding, before any other work.
  app.use(cors({ origin: origins.includes('*') ? '*' : origins, exposedHeaders: ['X-Request-Id', 'Retry-After', 'Location'], maxAge: 600 }));
  app.use('/api', shedder.middleware);
  app.use(
    pinoHttp({
      logger: deps.logger,
      // the app's error serializer (no bound values of a failed query), not pino-http's own
      serializers: { err: serializeError },
      genReqId: (req, res) => {
        const given = req.headers['x-request-id'];
        const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'info' : 'debug'),
      redact: ['req.headers.authorization', 'req.headers.cookie'],
    }),
  );
  app.use(helmet({ crossOriginResourcePolicy: { policy: 'cross-origin' } }));
  app.use(metrics.middleware);

  app.use(healthRouter({ database: deps.database, redis: deps.redis, redisBreaker: deps.redisBreaker, metrics: metrics.registry, roles: deps.roles }));

  app.get('/files/:name', (req, res, next) => {
    const file = services.files.pathOf(req.params.name);
    if (!file) return notFoundHandler(req, res, next);
    res.sendFile(file, { maxAge: '365d', immutable: true, headers: { 'Content-Type': 'image/webp', 'X-Content-Type-Options': 'nosniff' } }, (err) => {
      if (err && !res.headersSent) notFoundHandler(req, res, next);
    });
  });
  mediaFileRoutes(app, settings.dataDir);

  const api: Api = {
    router: express.Router(),
    registry: new OpenAPIRegistry(),
    auth: createAuthenticator({ users: services.users, tokens: services.tokens }),
    afterAuth: [],
    routes: [],
  };
  const ipLimiter = makeLimiter({ keyPrefix: 'ip', points: settings.rateLimits.ipPerMin, durationSec: 60 });
  const userLimiter = makeLimiter({ keyPrefix: 'user', points: settings.rateLimits.userPerMin, durationSec: 60 });
  api.afterAuth.push(limitBy(userLimiter, (req) => (req.user as User | undefined)?.id));
  const matchmake = createMatchmakeGate({
    shedder,
    limiter: makeLimiter({ keyPrefix: 'matchmake', points: settings.matchmaking.perIpPerMin, durationSec: 60 }),
    pendingPerIp: settings.matchmaking.pendingPerIp,
    reservationSec: settings.matchmaking.reservationSec,
  });
  app.use(matchmake.middleware);
  api.router.use(limitBy(ipLimiter, (req) => addressKey(req.ip ?? 'unknown')));
  api.router.use(express.json({ limit: settings.bodyLimitBytes, strict: true }));
  api.router.use(openApiRouter(api, settings.publicUrl));

  const loginGuard = createLoginGuard(makeLimiter, settings.login);
  const registerLimiter = makeLimiter({ keyPrefix: 'register', points: settings.rateLimits.registerPerIpPerHour, durationSec: 3600 });
  authRoutes(api, services, { login: loginGuard, register: registerLimiter });
  const { routes } = settings;
  userRoutes(api, services, routes.pages);
  roomRoutes(api, services, routes.pages);
  fileRoutes(api, services, routes.uploadMaxBytes);
  adminRoutes(api, services, routes.pages);
  walletRoutes(api, services, routes);
  giftRoutes(api, services, routes);
  rankingRoutes(api, services, routes.rankingsSize);
  recordingRoutes(api, services, routes.pages);
  lotteryRoutes(api, services, routes.lotteries);

  app.use('/api', api.router);
  webRoutes(app, settings.web);
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
