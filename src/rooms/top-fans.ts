// The room's top-fans board: reloaded after gifts, at most once a second
// however many gifts arrive.
import type { Logger } from 'pino';
import { TopFan, type LiveRoomState } from './state.ts';
import { throttledRefresh, type ThrottledRefresh } from './throttled-refresh.ts';

const TOP_FANS_REFRESH_MS = 1000;

/** The biggest gifters of a room, most coins first. */
export type TopFansSource = (roomId: string, limit: number) => Promise<{ userId: string; nickname: string; amount: number }[]>;

export function topFansBoard(deps: {
  roomId: string;
  /** Without it the board stays empty. */
  topFans: TopFansSource | undefined;
  /** Fans shown (TOP_FANS_SIZE). */
  size: number;
  state: Pick<LiveRoomState, 'topFans'>;
  logger: Pick<Logger, 'warn'>;
  setTimeout: (fn: () => void, ms: number) => void;
}): ThrottledRefresh {
  const { topFans, state } = deps;
  if (!topFans) return { request() {}, tick() {} };
  return throttledRefresh({
    intervalMs: TOP_FANS_REFRESH_MS,
    setTimeout: deps.setTimeout,
    async run() {
      try {
        const fans = await topFans(deps.roomId, deps.size);
        state.topFans.clear();
        for (const f of fans) state.topFans.push(new TopFan({ userId: f.userId, nickname: f.nickname, amount: f.amount }));
      } catch (err) {
        deps.logger.warn({ err, roomId: deps.roomId }, 'top fans refresh failed');
      }
    },
  });
}
