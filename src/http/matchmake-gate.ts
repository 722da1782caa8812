// Colyseus's matchmaking routes (`POST /matchmake/...`, which reserve a seat
// for a WebSocket to claim) pass through the gateway like `/api`: load
// shedding, a per-address rate limit, and a bound on the reservations one
// address holds unclaimed. Without it one address with no account could
// reserve thousands of seats a second and crowd real viewers out of a room.
//
// A reservation counts as claimed when a WebSocket upgrade to a room comes
// from the same address; one not claimed lapses after the seat reservation
// time (Colyseus frees the seat then too). The count is per process: in a
// cluster a client may claim its seat on another process, and its
// reservations here then lapse on their own, so the bound still holds.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import { DomainError } from '../domain/errors.ts';
import { addressKey, consumeOrThrow, type Limiter } from './limits.ts';
import type { LoadShedder } from './shedding.ts';

export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface MatchmakeGate {
  /** Express middleware for `/matchmake`: the checks, then the rooms role's handler (404 without one). */
  middleware: RequestHandler;
  /** The rooms role hands over Colyseus's request handler once it runs. */
  setHandler(handler: NodeHandler | undefined): void;
  /** A WebSocket upgrade to a room from this address claims one of its reservations. */
  claimed(ip: string): void;
  /** Unclaimed reservations held by an address (for tests and metrics). */
  pending(ip: string): number;
  close(): void;
}

export function createMatchmakeGate(opts: {
  shedder: Pick<LoadShedder, 'middleware'>;
  limiter: Limiter;
  pendingPerIp: number;
  reservationSec: number;
}): MatchmakeGate {
  let handler: NodeHandler | undefined;
  // address -> expiry times (ms) of its unclaimed reservations, oldest first
  const held = new Map<string, number[]>();

  const live = (key: string, now = Date.now()) => {
    const times = held.get(key);
    if (!times) return [];
    while (times.length > 0 && times[0]! <= now) times.shift();
    if (times.length === 0) held.delete(key);
    return times;
  };
  const sweep = setInterval(() => {
    for (const key of held.keys()) live(key);
  }, opts.reservationSec * 1000);
  sweep.unref();

  // Colyseus's handler hands a path it has no route for back to Express: pass such a request on, once.
  const seen = new WeakSet<object>();
  const pass = (req: IncomingMessage, res: ServerResponse) => {
    seen.add(req);
    handler!(req, res);
  };

  const reserve: RequestHandler = (req, res, next) => {
    const key = addressKey(req.ip ?? 'unknown');
    consumeOrThrow(opts.limiter, key).then(() => {
      if (live(key).length >= opts.pendingPerIp) {
        throw new DomainError('rate_limited', 'too many seats reserved and not yet joined from this address', { retryAfterSec: opts.reservationSec });
      }
      res.once('finish', () => {
        if (res.statusCode !== 200) return;
        const times = held.get(key) ?? [];
        times.push(Date.now() + opts.reservationSec * 1000);
        held.set(key, times);
      });
      pass(req, res);
    }, next).catch(next);
  };

  return {
    middleware: (req, res, next) => {
      if (!handler || seen.has(req) || !req.path.startsWith('/matchmake/')) return next();
      // Only the calls that reserve a seat are limited; CORS preflights pass.
      if (req.method !== 'POST') return pass(req, res);
      opts.shedder.middleware(req, res, (err?: unknown) => (err ? next(err) : reserve(req, res, next)));
    },
    setHandler: (h) => {
      handler = h;
    },
    claimed: (ip) => {
      const times = live(addressKey(ip));
      times.shift();
    },
    pending: (ip) => live(addressKey(ip)).length,
    close: () => clearInterval(sweep),
  };
}
