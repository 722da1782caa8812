// Rate limits (rate-limiter-flexible): in memory by default, in Redis when
// REDIS_URL is set so all processes share the counts. Calls to Redis go
// through the Redis circuit breaker; when Redis is down or hangs, each
// limiter falls back to its own in-memory copy at once, rather than failing
// every request, letting everything through, or holding requests.
import { isIPv6 } from 'node:net';
import type { RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { DomainError } from '../domain/errors.ts';
import type { Breaker } from '../resilience.ts';

export interface LimiterOptions {
  keyPrefix: string;
  points: number;
  durationSec: number;
  blockSec?: number;
}

/** The part of rate-limiter-flexible's limiters that Liveroom uses. */
export interface Limiter {
  consume(key: string, points?: number): Promise<RateLimiterRes>;
  get(key: string): Promise<RateLimiterRes | null>;
  reward(key: string, points?: number): Promise<RateLimiterRes>;
  delete(key: string): Promise<boolean>;
}

export type LimiterFactory = (opts: LimiterOptions) => Limiter;

export function createLimiterFactory(redis?: Redis, redisPrefix = 'lr:', breaker?: Breaker): LimiterFactory {
  return (opts) => {
    const base = {
      keyPrefix: `${redisPrefix}rl:${opts.keyPrefix}`,
      points: opts.points,
      duration: opts.durationSec,
      blockDuration: opts.blockSec ?? 0,
    };
    const memory = new RateLimiterMemory(base);
    if (!redis) return memory;
    // rejectIfRedisNotReady: while the connection is down a call fails at once (and counts against the breaker).
    const shared = new RateLimiterRedis({ ...base, storeClient: redis, rejectIfRedisNotReady: true });
    return breakerGuarded(shared, memory, breaker);
  };
}

/** Runs each call on Redis through the breaker; a failed or refused-by-breaker call runs on the in-memory limiter. */
function breakerGuarded(shared: Limiter, fallback: Limiter, breaker?: Breaker): Limiter {
  async function run<T>(call: (l: Limiter) => Promise<T>): Promise<T> {
    if (!breaker) return call(shared).catch((e) => (e instanceof RateLimiterRes ? Promise.reject(e) : call(fallback)));
    if (breaker.isOpen()) return call(fallback);
    // A rate-limit refusal is an answer, not a Redis failure: carry it past the breaker as a value.
    let outcome: { refused: RateLimiterRes } | { value: T };
    try {
      outcome = await breaker.execute(() =>
        call(shared).then(
          (value) => ({ value }),
          (e: unknown) => (e instanceof RateLimiterRes ? { refused: e } : Promise.reject(e)),
        ),
      );
    } catch {
      return call(fallback);
    }
    if ('refused' in outcome) throw outcome.refused;
    return outcome.value;
  }
  return {
    consume: (key, points) => run((l) => l.consume(key, points)),
    get: (key) => run((l) => l.get(key)),
    reward: (key, points) => run((l) => l.reward(key, points)),
    delete: (key) => run((l) => l.delete(key)),
  };
}

/**
 * The rate-limit key of a client address: IPv4 as is, IPv6 by its /64 (one
 * host usually holds a whole /64, so keying by the full address would give it
 * 2^64 budgets), an IPv4-mapped IPv6 address as its IPv4.
 */
export function addressKey(ip: string): string {
  if (!isIPv6(ip)) return ip;
  const addr = ip.split('%')[0]!.toLowerCase();
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(addr);
  if (mapped) return mapped[1]!;
  let groups = addr.split(':');
  if (addr.includes('::')) {
    const [head = '', tail = ''] = addr.split('::');
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const tailGroups = t.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0);
    groups = [...h, ...Array<string>(Math.max(0, 8 - h.length - tailGroups)).fill('0'), ...t];
  }
  return `${groups.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}

export const retryAfterSec = (res: RateLimiterRes) => Math.max(1, Math.ceil(res.msBeforeNext / 1000));

export function rateLimited(res: RateLimiterRes): DomainError {
  return new DomainError('rate_limited', 'too many requests; slow down', { retryAfterSec: retryAfterSec(res) });
}

/** Consumes one point for the key; a rejection becomes a 429 with Retry-After. */
export async function consumeOrThrow(limiter: Limiter, key: string, points = 1): Promise<void> {
  try {
    await limiter.consume(key, points);
  } catch (e) {
    if (e instanceof RateLimiterRes) throw rateLimited(e);
    throw e;
  }
}

export function limitBy(limiter: Limiter, keyOf: (req: Parameters<RequestHandler>[0]) => string | undefined): RequestHandler {
  return (req, _res, next) => {
    const key = keyOf(req);
    if (key === undefined) return next();
    consumeOrThrow(limiter, key).then(() => next(), next);
  };
}

/**
 * Login protection, three counters (rate-limiter-flexible's login recipe):
 * - consecutive failures per username+IP block that pair for blockSec (an
 *   attacker elsewhere cannot lock the real user out);
 * - failures per IP per hour stop a spray over many accounts;
 * - failures per account from any IP per accountWindowSec slow a distributed
 *   guess at one account to a few tries a window; the real user waits at
 *   most one window.
 * Every attempt is counted before the password is checked, so a burst of
 * parallel guesses cannot all slip past the limits; a success gives its point
 * back (and resets the consecutive count). No block outlives its window.
 *
 * The per-account counter does not apply from an address this account logged
 * in from within knownIpSec (the session length): otherwise a few wrong guesses a window from a
 * couple of addresses would keep the real user locked out for as long as the
 * attacker cares to go on. Guesses from such an address still meet the
 * per-username+IP and per-IP counters.
 */
export interface LoginGuardSettings {
  failsPerUser: number;
  failsPerIpPerHour: number;
  failsPerAccount: number;
  accountWindowSec: number;
  blockSec: number;
  knownIpSec: number;
}

export function createLoginGuard(make: LimiterFactory, s: LoginGuardSettings) {
  const byUserIp = make({ keyPrefix: 'login_user_ip', points: s.failsPerUser, durationSec: 3600, blockSec: s.blockSec });
  const byIp = make({ keyPrefix: 'login_ip', points: s.failsPerIpPerHour, durationSec: 3600 });
  const byAccount = make({ keyPrefix: 'login_account', points: s.failsPerAccount, durationSec: s.accountWindowSec });
  // Successful logins per username+IP; any count means "known address" until the window ends.
  // Capped at 24 days: the in-memory store expires keys with setTimeout, which fires at once past 2^31 ms.
  const knownSec = Math.min(s.knownIpSec, 24 * 24 * 3600);
  const knownIps = knownSec > 0 ? make({ keyPrefix: 'login_known_ip', points: Number.MAX_SAFE_INTEGER, durationSec: knownSec }) : undefined;
  const isKnown = async (username: string, ip: string) => {
    if (!knownIps) return false;
    const res = await knownIps.get(`${username.toLowerCase()}_${ip}`).catch(() => null);
    return (res?.consumedPoints ?? 0) > 0;
  };
  const keys = (username: string, ip: string, known: boolean) => {
    const account = username.toLowerCase();
    const all = [
      [byUserIp, `${account}_${ip}`],
      [byIp, ip],
      [byAccount, account],
    ] as const;
    return known ? all.slice(0, 2) : all;
  };
  return {
    /** Counts a login attempt; throws rate_limited (429 with Retry-After) when any counter is exhausted. */
    async attempt(username: string, ip: string): Promise<void> {
      const pairs = keys(username, ip, await isKnown(username, ip));
      const results = await Promise.allSettled(pairs.map(([limiter, key]) => limiter.consume(key)));
      const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      if (refused.length === 0) return;
      // The password is not checked on a refused attempt: give back what the other counters took.
      await Promise.allSettled(pairs.map(([limiter, key], i) => (results[i]!.status === 'fulfilled' ? limiter.reward(key, 1) : undefined)));
      const limited = refused.filter((e): e is RateLimiterRes => e instanceof RateLimiterRes);
      if (limited.length === 0) throw refused[0];
      const longest = limited.reduce((a, b) => (b.msBeforeNext > a.msBeforeNext ? b : a));
      throw new DomainError('rate_limited', 'too many failed logins; try again later', { retryAfterSec: retryAfterSec(longest) });
    },
    async succeeded(username: string, ip: string): Promise<void> {
      // From a known address the account counter took nothing: give nothing back (a reward would bank extra guesses).
      const pairs = keys(username, ip, await isKnown(username, ip));
      const [[userIp, userIpKey], [ipLimiter, ipKey], account] = pairs;
      await Promise.allSettled([
        userIp.delete(userIpKey),
        ipLimiter.reward(ipKey, 1),
        account ? account[0].reward(account[1], 1) : undefined,
        knownIps?.consume(userIpKey),
      ]);
    },
  };
}
