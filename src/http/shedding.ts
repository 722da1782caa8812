// Load shedding by CoDel's rule: shed only a *standing* queue, never a burst.
//
// The queueing delay of a Node process is the event loop's delay: how late a
// timer runs is how long work waited behind other work. A burst (300 gifts
// at once, a GC pause, PGlite compiling its WebAssembly) makes the loop late
// for a moment and drains by itself; answering it with 503s would refuse
// load the server was about to absorb. So, as in CoDel, the signal is the
// *minimum* delay of each short window (the delay no timer escaped, i.e. the
// queue that never emptied) and shedding starts only once that minimum has
// stayed above the target for a whole interval. Then an admitted fraction of
// requests is cut multiplicatively while the queue stands and raised again as
// it drains (AIMD), so the load admitted settles at what the process can do
// instead of swinging between all and nothing. Health checks are never shed.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { RequestHandler } from 'express';

export interface ShedSettings {
  /** Target queueing delay: a standing delay above it is overload. */
  targetMs: number;
  /** How long the delay must stay above target before anything is shed. */
  intervalMs: number;
  /** Length of one measurement window (its minimum delay is one sample). */
  windowMs?: number;
}

export interface LoadShedder {
  middleware: RequestHandler;
  close(): void;
}

const SHED_BODY = Buffer.from(JSON.stringify({ error: { code: 'overloaded', message: 'the server is overloaded; retry shortly' } }));
const SHED_HEADERS = {
  'Content-Type': 'application/json; charset=utf-8',
  'Content-Length': String(SHED_BODY.length),
  'Retry-After': '1',
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
};

const MIN_ADMITTED = 0.05; // never shut the door completely: the admitted few show when load is back to normal
const DECREASE = 0.7;
const INCREASE = 0.1;

export function createLoadShedder(opts: ShedSettings & { onShed?: () => void }): LoadShedder {
  const windowMs = opts.windowMs ?? 100;
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  let aboveSince: number | null = null;
  let admit = 1;
  let credit = 0;
  let last = performance.now();

  const timer = setInterval(() => {
    const now = performance.now();
    // A window with no sample was spent blocked: its lateness is the delay.
    const lag = histogram.count > 0 ? histogram.min / 1e6 : Math.max(0, now - last - windowMs);
    last = now;
    histogram.reset();
    if (lag > opts.targetMs) {
      aboveSince ??= now;
      if (admit < 1) admit = Math.max(MIN_ADMITTED, admit * DECREASE);
      else if (now - aboveSince >= opts.intervalMs) admit = DECREASE;
    } else {
      aboveSince = null;
      if (admit < 1) admit = Math.min(1, admit + INCREASE);
    }
  }, windowMs);
  timer.unref();

  // Deterministic admission of a fraction: every request adds `admit` of credit, a whole credit lets one through.
  const shouldShed = () => {
    if (admit >= 1) return false;
    credit += admit;
    if (credit >= 1) {
      credit -= 1;
      return false;
    }
    return true;
  };

  return {
    // Answered here, before logging and the error pipeline: a shed request must cost far less than a
    // served one, or refusing it frees nothing.
    middleware: (_req, res, next) => {
      if (!shouldShed()) return next();
      opts.onShed?.();
      res.writeHead(503, SHED_HEADERS).end(SHED_BODY);
    },
    close: () => {
      clearInterval(timer);
      histogram.disable();
    },
  };
}
