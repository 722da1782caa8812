// Every settings object Liveroom is built with, from the one config. Each
// service and adapter receives the settings it uses, never the whole Config,
// and a value two of them need (a lottery's limits, the gift count, the upload
// size) is read from the config here, once.
//
// A few values are read at each use rather than copied: tests learn the API's
// port after start-up and set config.publicUrl then, and the media ports are
// known only once the media process listens (port 0).
import path from 'node:path';
import type { Config } from './config.ts';
import type { OpenOptions } from './db/connect.ts';
import type { RoomUrls } from './domain/rooms.ts';
import type { ServiceSettings } from './domain/services.ts';
import type { HttpSettings } from './http/app.ts';
import type { AppJobSettings } from './jobs/app-jobs.ts';
import type { JobRunnerSettings } from './jobs/index.ts';
import type { RecordingJobSettings } from './media-control/recording-jobs.ts';
import type { BreakerSettings } from './resilience.ts';

/** The circuit breakers around PostgreSQL and Redis. */
export function breakerSettings(c: Config): BreakerSettings {
  return { timeoutMs: c.BREAKER_TIMEOUT_MS, failures: c.BREAKER_FAILURES, halfOpenAfterMs: c.BREAKER_HALF_OPEN_AFTER_MS };
}

/** Opening the database: PostgreSQL with DATABASE_URL, else PGlite in DATA_DIR/pglite. */
export function databaseSettings(c: Config): OpenOptions {
  return { databaseUrl: c.DATABASE_URL, dataDir: path.join(c.dataDir, 'pglite'), queryTimeoutMs: c.DATABASE_QUERY_TIMEOUT_MS };
}

/**
 * Where clients reach the API and media: configured URLs, else the ports the
 * media node actually listens on (`listening`, from the media supervisor),
 * else the defaults. WHIP and WHEP are served by the media node, next to FLV
 * and HLS, and are null when turned off.
 */
export function roomUrls(c: Config, listening: Partial<RoomUrls> = {}): RoomUrls {
  const u = { publicUrl: c.publicUrl, mediaUrl: c.mediaPublicUrl, rtmpUrl: c.rtmpPublicUrl, ...listening };
  return { ...u, whipUrl: c.WHIP_MAX_SESSIONS > 0 ? `${u.mediaUrl}/whip` : null, whepBase: c.WHEP_MAX_VIEWERS > 0 ? `${u.mediaUrl}/whep` : null };
}

const giftSettings = (c: Config) => ({ streamerSharePercent: c.GIFT_STREAMER_SHARE_PERCENT, maxCount: c.GIFT_MAX_COUNT });

const lotterySettings = (c: Config) => ({
  minDurationSec: c.LOTTERY_MIN_DURATION_SEC,
  maxDurationSec: c.LOTTERY_MAX_DURATION_SEC,
  maxWinners: c.LOTTERY_MAX_WINNERS,
  prizeMaxLength: c.LOTTERY_PRIZE_MAX_LENGTH,
  keywordMaxLength: c.LOTTERY_KEYWORD_MAX_LENGTH,
  entriesPageMax: c.LOTTERY_ENTRIES_PAGE_MAX,
  resultShowSec: c.LOTTERY_RESULT_SHOW_SEC,
});

/** The domain services; `listening` gives the media node's ports once it runs (see roomUrls). */
export function serviceSettings(c: Config, listening: () => Partial<RoomUrls> = () => ({})): ServiceSettings {
  return {
    publicUrl: () => c.publicUrl,
    filesDir: path.join(c.dataDir, 'files'),
    uploads: { maxBytes: c.UPLOAD_MAX_BYTES, maxPixels: c.UPLOAD_MAX_PIXELS, avatarPx: c.AVATAR_SIZE_PX, coverWidthPx: c.COVER_WIDTH_PX },
    ledger: { creditSlots: c.LEDGER_CREDIT_SLOTS, maxGrant: c.GRANT_MAX_AMOUNT },
    wallet: { signupBonus: c.SIGNUP_BONUS, idempotencyTtlSec: c.IDEMPOTENCY_TTL_SEC },
    rooms: { endBlockMs: c.ROOM_END_BLOCK_SEC * 1000, urls: () => roomUrls(c, listening()) },
    passwordPolicy: { minLength: c.PASSWORD_MIN_LENGTH, maxLength: c.PASSWORD_MAX_LENGTH },
    tokens: { secret: c.jwtSecret, ttlSec: c.TOKEN_TTL_SEC },
    gifts: { catalog: c.GIFT_CATALOG, ...giftSettings(c) },
    chat: {
      maxLength: c.CHAT_MAX_LENGTH,
      history: c.CHAT_HISTORY,
      ratePoints: c.CHAT_RATE_POINTS,
      rateWindowSec: c.CHAT_RATE_WINDOW_SEC,
      slowMaxSec: c.CHAT_SLOW_MAX_SEC,
      muteMaxSec: c.CHAT_MUTE_MAX_SEC,
    },
    rankingsSize: c.RANKINGS_SIZE,
    lotteries: { seedSecret: c.lotterySecret, ...lotterySettings(c) },
  };
}

/** The HTTP gateway and its routes. */
export function httpSettings(c: Config): HttpSettings {
  return {
    trustProxy: c.TRUST_PROXY,
    corsOrigins: c.CORS_ORIGINS.split(',').map((o) => o.trim()),
    bodyLimitBytes: c.BODY_LIMIT_BYTES,
    // the OpenAPI document's server: read once, when the app is built
    publicUrl: c.publicUrl,
    redisPrefix: c.REDIS_PREFIX,
    shedding: { targetMs: c.SHED_TARGET_DELAY_MS, intervalMs: c.SHED_INTERVAL_MS },
    rateLimits: { ipPerMin: c.RATE_LIMIT_IP_PER_MIN, userPerMin: c.RATE_LIMIT_USER_PER_MIN, registerPerIpPerHour: c.REGISTER_PER_IP_PER_HOUR },
    login: {
      failsPerUser: c.LOGIN_FAILS_PER_USER,
      failsPerIpPerHour: c.LOGIN_FAILS_PER_IP_PER_HOUR,
      failsPerAccount: c.LOGIN_FAILS_PER_ACCOUNT,
      accountWindowSec: c.LOGIN_ACCOUNT_WINDOW_SEC,
      blockSec: c.LOGIN_BLOCK_SEC,
      // An address a login came from stays known as long as the session it got.
      knownIpSec: c.TOKEN_TTL_SEC,
    },
    matchmaking: { perIpPerMin: c.MATCHMAKE_PER_IP_PER_MIN, pendingPerIp: c.MATCHMAKE_PENDING_PER_IP, reservationSec: c.ROOM_SEAT_RESERVATION_SEC },
    routes: {
      pages: { max: c.PAGE_LIMIT_MAX, default: c.PAGE_LIMIT_DEFAULT },
      uploadMaxBytes: c.UPLOAD_MAX_BYTES,
      grantMaxAmount: c.GRANT_MAX_AMOUNT,
      gifts: giftSettings(c),
      lotteries: lotterySettings(c),
      rankingsSize: c.RANKINGS_SIZE,
    },
    dataDir: c.dataDir,
    web: {
      publicUrl: () => c.publicUrl,
      // with MEDIA_HTTP_PORT=0 (tests) the media port is picked after the app is built
      mediaUrl: !c.MEDIA_PUBLIC_URL && c.MEDIA_HTTP_PORT === 0 ? null : c.mediaPublicUrl,
    },
  };
}

/** The job runner: which back end, and how it retries, keeps and leases jobs. */
export function jobRunnerSettings(c: Config): JobRunnerSettings {
  return {
    redisUrl: c.REDIS_URL,
    queuePrefix: c.JOBS_QUEUE_PREFIX,
    dataDir: c.dataDir,
    jobs: {
      attempts: c.JOBS_ATTEMPTS,
      backoffMs: c.JOBS_BACKOFF_MS,
      concurrency: c.JOBS_CONCURRENCY,
      keepDoneSec: c.JOBS_KEEP_DONE_SEC,
      keepFailedSec: c.JOBS_KEEP_FAILED_SEC,
      pollMs: c.JOBS_POLL_MS,
      leaseSec: c.JOBS_LEASE_SEC,
    },
  };
}

/** Liveroom's own schedules: rankings and the lottery sweep. */
export function appJobSettings(c: Config): AppJobSettings {
  return { rankingsEveryMs: c.RANKINGS_INTERVAL_SEC * 1000, rankingsDebounceMs: c.RANKINGS_DEBOUNCE_MS, lotterySweepEveryMs: c.LOTTERY_SWEEP_SEC * 1000 };
}

/** Turning a recorded broadcast's parts into one MP4. */
export function recordingJobSettings(c: Config): RecordingJobSettings {
  return { dataDir: c.dataDir, ffmpegPath: c.FFMPEG_PATH, attempts: c.JOBS_ATTEMPTS };
}
