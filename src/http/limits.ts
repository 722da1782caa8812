// Rate limits (rate-limiter-flexible): in memory by default, in Redis when
// REDIS_URL is set so all processes share the counts. A Redis outage falls
// back to the in-memory limiter (the library's insurance limiter) rather than
// failing every request or letting everything through.
import type { RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { DomainError } from '../domain/errors.ts';

export interface LimiterOptions {
  keyPrefix: string;
  points: number;
  durationSec: number;
  blockSec?: number;
}

export type LimiterFactory = (opts: LimiterOptions) => RateLimiterAbstract;

export function createLimiterFactory(redis?: Redis): LimiterFactory {
  return (opts) => {
    const base = {
      keyPrefix: `lr:rl:${opts.keyPrefix}`,
      points: opts.points,
      duration: opts.durationSec,
      blockDuration: opts.blockSec ?? 0,
    };
    if (!redis) return new RateLimiterMemory(base);
    return new RateLimiterRedis({ ...base, storeClient: redis, insuranceLimiter: new RateLimiterMemory(base) });
  };
}

export const retryAfterSec = (res: RateLimiterRes) => Math.max(1, Math.ceil(res.msBeforeNext / 1000));

export function rateLimited(res: RateLimiterRes): DomainError {
  return new DomainError('rate_limited', 'too many requests; slow down', { retryAfterSec: retryAfterSec(res) });
}

/** Consumes one point for the key; a rejection becomes a 429 with Retry-After. */
export async function consumeOrThrow(limiter: RateLimiterAbstract, key: string, points = 1): Promise<void> {
  try {
    await limiter.consume(key, points);
  } catch (e) {
    if (e instanceof RateLimiterRes) throw rateLimited(e);
    throw e;
  }
}

export function limitBy(limiter: RateLimiterAbstract, keyOf: (req: Parameters<RequestHandler>[0]) => string | undefined): RequestHandler {
  return (req, _res, next) => {
    const key = keyOf(req);
    if (key === undefined) return next();
    consumeOrThrow(limiter, key).then(() => next(), next);
  };
}

/**
 * Login protection in the shape the library recommends: consecutive failures
 * per username+IP block that pair for a while (an attacker elsewhere cannot
 * lock the real user out), and failures per IP per hour slow a spray. Blocks
 * always expire.
 */
export function createLoginGuard(make: LimiterFactory, s: { failsPerUser: number; failsPerIpPerHour: number; blockSec: number }) {
  const byUserIp = make({ keyPrefix: 'login_user_ip', points: s.failsPerUser, durationSec: 3600, blockSec: s.blockSec });
  const byIp = make({ keyPrefix: 'login_ip', points: s.failsPerIpPerHour, durationSec: 3600, blockSec: s.blockSec });
  const userKey = (username: string, ip: string) => `${username.toLowerCase()}_${ip}`;
  return {
    async check(username: string, ip: string): Promise<void> {
      const [u, i] = await Promise.all([byUserIp.get(userKey(username, ip)), byIp.get(ip)]);
      const blocked = [u, i].find((r) => r && r.remainingPoints <= 0);
      if (blocked) throw new DomainError('rate_limited', 'too many failed logins; try again later', { retryAfterSec: retryAfterSec(blocked) });
    },
    async failed(username: string, ip: string): Promise<void> {
      await Promise.allSettled([byUserIp.consume(userKey(username, ip)), byIp.consume(ip)]);
    },
    async succeeded(username: string, ip: string): Promise<void> {
      await byUserIp.delete(userKey(username, ip));
    },
  };
}
