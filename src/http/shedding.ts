// Load shedding: when the event loop lags past a threshold the process is
// overloaded; answering 503 at once (clients retry) beats making every
// request slow. Health checks are never shed.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { RequestHandler } from 'express';
import { DomainError } from '../domain/errors.ts';

export interface LoadShedder {
  middleware: RequestHandler;
  /** Current lag estimate in ms (p99 over the last window). */
  lagMs(): number;
  close(): void;
}

export function createLoadShedder(opts: { maxLagMs: number; windowMs?: number; onShed?: () => void }): LoadShedder {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  let lag = 0;
  const timer = setInterval(() => {
    lag = histogram.percentile(99) / 1e6;
    histogram.reset();
  }, opts.windowMs ?? 500);
  timer.unref();
  return {
    middleware: (_req, _res, next) => {
      if (lag <= opts.maxLagMs) return next();
      opts.onShed?.();
      next(new DomainError('overloaded', 'the server is overloaded; retry shortly', { retryAfterSec: 1 }));
    },
    lagMs: () => lag,
    close: () => {
      clearInterval(timer);
      histogram.disable();
    },
  };
}
