// The `rankings` room: every leaderboard in its state, updated when a
// snapshot changes (`rankings.updated` on the event bus, from whichever
// process computed it). Read-only for clients; anyone may join.
import { Room } from '@colyseus/core';
import type { Logger } from 'pino';
import type { EventBus } from '../domain/events.ts';
import type { Board, BoardSnapshot, RankWindow } from '../domain/rankings.ts';
import { boardKey, RankBoard, RankingsState, RankItem } from './rankings-state.ts';

export interface RankingsRoomDeps {
  rankings: {
    all(limit: number): Promise<BoardSnapshot[]>;
    get(board: Board, window: RankWindow, limit: number): Promise<BoardSnapshot>;
  };
  events: Pick<EventBus, 'subscribe'>;
  logger: Logger;
  /** Entries per board in the state (RANKINGS_ROOM_ITEMS). */
  items: number;
  seatReservationSec: number;
}

export class RankingsRoom extends Room<{ state: InstanceType<typeof RankingsState> }> {
  declare deps: RankingsRoomDeps;
  private off: (() => void) | undefined;
  /** Boards being reloaded, and boards that changed again meanwhile. */
  private loading = new Set<string>();
  private again = new Set<string>();

  async onCreate() {
    this.seatReservationTimeout = this.deps.seatReservationSec;
    const state = new RankingsState();
    for (const b of await this.deps.rankings.all(this.deps.items)) state.boards.set(boardKey(b.board, b.window), toBoard(b));
    this.state = state;
    this.off = this.deps.events.subscribe('rankings.updated', (e) => {
      for (const b of e.boards) void this.reload(b.board as Board, b.window as RankWindow);
    });
  }

  onJoin() {}

  onDispose() {
    this.off?.();
    this.off = undefined;
  }

  private async reload(board: Board, window: RankWindow) {
    const key = boardKey(board, window);
    if (this.loading.has(key)) return void this.again.add(key);
    this.loading.add(key);
    try {
      do {
        this.again.delete(key);
        const snap = await this.deps.rankings.get(board, window, this.deps.items);
        if (!this.off) return; // disposed meanwhile
        const target = this.state.boards.get(key);
        if (!target) this.state.boards.set(key, toBoard(snap));
        else {
          target.updatedAt = snap.updatedAt;
          target.items.clear();
          for (const i of snap.items) target.items.push(new RankItem(i));
        }
      } while (this.again.has(key));
    } catch (err) {
      this.deps.logger.warn({ err, board, window }, 'rankings reload failed');
    } finally {
      this.loading.delete(key);
    }
  }
}

function toBoard(b: BoardSnapshot) {
  const board = new RankBoard({ board: b.board, window: b.window, updatedAt: b.updatedAt });
  for (const i of b.items) board.items.push(new RankItem(i));
  return board;
}

/** The room class registered with Colyseus, closing over its collaborators. */
export function rankingsRoomClass(deps: RankingsRoomDeps): typeof RankingsRoom {
  return class extends RankingsRoom {
    deps = deps;
  };
}
