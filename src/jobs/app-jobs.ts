// Liveroom's own jobs on the job runner: what each queue does and when it
// runs. Processors are thin: they check their data and call one domain
// function (docs/style.md item 2); bad data is an UnrecoverableError (no retries).
import type { Logger } from 'pino';
import { BOARDS, type Board } from '../domain/rankings.ts';
import type { Services } from '../domain/services.ts';
import { UnrecoverableError, type JobRunner } from './runner.ts';

export const QUEUES = { rankings: 'rankings', lotteryDraw: 'lottery-draw', lotterySweep: 'lottery-sweep' } as const;

/** The durable job that draws a lottery at its end; one per lottery (the job id), so enqueueing twice is harmless. */
export const drawJob = (lotteryId: string, at: Date) =>
  [QUEUES.lotteryDraw, { lotteryId }, { jobId: `draw-${lotteryId}`, runAt: at }] as const;

export interface AppJobs {
  /** The jobs role: workers, schedules, and recomputing boards soon after gifts and follows. */
  start(): Promise<void>;
  stop(): void;
}

export interface AppJobSettings {
  /** Every board is recomputed this often, whatever happens. */
  rankingsEveryMs: number;
  /** A gift or follow asks for a refresh at the end of the current slot of this length. */
  rankingsDebounceMs: number;
  /** How often due lotteries whose draw job was lost are drawn. */
  lotterySweepEveryMs: number;
}

export function defineAppJobs(runner: JobRunner, services: Services, settings: AppJobSettings, logger: Logger): AppJobs {
  runner.define<{ boards?: unknown }>({
    queue: QUEUES.rankings,
    everyMs: settings.rankingsEveryMs,
    repeatData: {},
    // A later run recomputes from scratch: a failed one need not be retried for long.
    attempts: 2,
    // One refresh at a time per process: a storm's refreshes queue up (one per board kind per slot) instead of piling onto the database.
    concurrency: 1,
    process: async (data) => {
      const boards = data.boards ?? BOARDS;
      if (!Array.isArray(boards) || !boards.every((b) => (BOARDS as readonly unknown[]).includes(b)))
        throw new UnrecoverableError(`rankings: unknown boards ${JSON.stringify(boards)}`);
      await services.rankings.refresh(boards as Board[]);
    },
  });

  runner.define<{ lotteryId?: unknown }>({
    queue: QUEUES.lotteryDraw,
    process: async (data) => {
      if (typeof data.lotteryId !== 'string') throw new UnrecoverableError('lottery-draw: lotteryId missing');
      const r = await services.lotteries.draw(data.lotteryId);
      if (r.state === 'missing') throw new UnrecoverableError(`lottery-draw: no lottery ${data.lotteryId}`);
      // Early (clocks of two machines disagree): fail, so the retry's backoff brings it back after the end.
      if (r.state === 'not_due') throw new Error(`lottery ${data.lotteryId} ends at ${r.endsAt.toISOString()}; not due yet`);
    },
  });
  runner.define({
    queue: QUEUES.lotterySweep,
    everyMs: settings.lotterySweepEveryMs,
    repeatData: {},
    attempts: 1,
    process: async () => {
      const n = await services.lotteries.drawDue();
      if (n > 0) logger.warn({ drawn: n }, 'lotteries drawn by the sweep (their draw jobs were late or lost)');
    },
  });

  // "Soon" = the end of the current RANKINGS_DEBOUNCE_MS slot; one job per board kind per slot,
  // whichever process (or how many events) asked for it: the job id names the slot.
  const debounceMs = settings.rankingsDebounceMs;
  const lastSlot = new Map<string, number>();
  function soon(board: Board) {
    const slot = Math.ceil(Date.now() / debounceMs);
    if (lastSlot.get(board) === slot) return;
    lastSlot.set(board, slot);
    runner
      .enqueue(QUEUES.rankings, { boards: [board] }, { jobId: `rankings-${board}-${slot}`, runAt: new Date(slot * debounceMs) })
      .catch((err) => logger.warn({ err, board }, 'rankings refresh not queued'));
  }

  const offs: (() => void)[] = [];
  return {
    async start() {
      await runner.startWorkers();
      // Lotteries that ended while no worker ran are drawn now, not at the next sweep.
      await services.lotteries.drawDue().catch((err) => logger.warn({ err }, 'lottery catch-up failed'));
      offs.push(
        services.events.subscribe('room.gift', () => soon('streamer_revenue')),
        services.events.subscribe('follow.changed', () => soon('streamer_followers')),
        services.events.subscribe('room.status', () => soon('room_audience')),
      );
    },
    stop() {
      for (const off of offs.splice(0)) off();
    },
  };
}
