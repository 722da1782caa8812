// Global leaderboards, computed from PostgreSQL and kept as snapshots:
//
// - streamer_followers: followers gained in the window (follows made in it and
//   still standing); for `all`, the follower count. Streamers only (users with a room).
// - streamer_revenue: coins credited to the streamer's earnings by gifts in the
//   window (their share, from the ledger's entries).
// - room_audience: the highest peak online of a room's broadcasts that overlap
//   the window (live_sessions.peak_online, kept by the rooms service).
//
// Windows are calendar periods in UTC that roll over at their boundary: the
// current hour, the current day, the current ISO week (from Monday 00:00) and
// all time. Ties are broken by id (byte order), so a board is a pure function
// of the data. A compute that changes a board publishes `rankings.updated`.
import { createHash } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import type { Db, Executor } from '../db/connect.ts';
import { RANKING_BOARDS, RANKING_WINDOWS, rankingSnapshots } from '../db/schema.ts';
import { toInt } from '../db/sql-runner.ts';
import type { EventBus } from './events.ts';

export type Board = (typeof RANKING_BOARDS)[number];
export type RankWindow = (typeof RANKING_WINDOWS)[number];
export const BOARDS = RANKING_BOARDS;
export const WINDOWS = RANKING_WINDOWS;

export interface RankItem {
  id: string;
  name: string;
  score: number;
}

export interface BoardSnapshot {
  board: Board;
  window: RankWindow;
  /** When the board was last computed. */
  updatedAt: string;
  /** Start of the UTC period it covers; null for `all`. */
  periodStart: string | null;
  items: RankItem[];
}

export interface RankingsDeps {
  db: Db;
  events: EventBus;
  /** Entries kept per board. */
  size: number;
  now?: () => Date;
}

const HOUR_MS = 3600_000;
const DAY_MS = 24 * HOUR_MS;

/** The start of the UTC period of `window` that contains `now`; null for `all`. */
export function periodStart(window: RankWindow, now: Date): Date | null {
  const t = now.getTime();
  switch (window) {
    case 'hour':
      return new Date(Math.floor(t / HOUR_MS) * HOUR_MS);
    case 'day':
      return new Date(Math.floor(t / DAY_MS) * DAY_MS);
    case 'week': {
      const day = new Date(Math.floor(t / DAY_MS) * DAY_MS);
      const sinceMonday = (day.getUTCDay() + 6) % 7;
      return new Date(day.getTime() - sinceMonday * DAY_MS);
    }
    case 'all':
      return null;
  }
}

const digestOf = (periodStart: Date | null, items: RankItem[]) =>
  createHash('sha256').update(JSON.stringify([periodStart?.toISOString() ?? null, items])).digest('hex');

export function createRankings(deps: RankingsDeps) {
  const { db } = deps;
  const clock = deps.now ?? (() => new Date());

  const rows = async (q: ReturnType<typeof sql>, exec: Executor): Promise<RankItem[]> => {
    const r = (await exec.execute(q)) as unknown as { rows: { id: string; name: string | null; score: unknown }[] };
    return r.rows.map((x) => ({ id: x.id, name: x.name ?? '', score: toInt(x.score) }));
  };

  /** The board as of `now`, straight from the data. */
  async function compute(board: Board, window: RankWindow, now: Date, exec: Executor = db): Promise<RankItem[]> {
    const start = periodStart(window, now)?.toISOString() ?? null;
    const end = now.toISOString();
    const limit = deps.size;
    switch (board) {
      case 'streamer_followers':
        if (start === null)
          return rows(sql`
            SELECT u.id, u.nickname AS name, u.followers_count AS score
            FROM users u JOIN rooms r ON r.streamer_id = u.id
            WHERE u.followers_count > 0
            ORDER BY score DESC, u.id COLLATE "C" LIMIT ${limit}`, exec);
        return rows(sql`
          SELECT u.id, u.nickname AS name, count(*) AS score
          FROM follows f JOIN users u ON u.id = f.followee_id JOIN rooms r ON r.streamer_id = u.id
          WHERE f.created_at >= ${start} AND f.created_at <= ${end}
          GROUP BY u.id, u.nickname
          ORDER BY score DESC, u.id COLLATE "C" LIMIT ${limit}`, exec);
      case 'streamer_revenue':
        return rows(sql`
          SELECT t.recipient_id AS id, u.nickname AS name, sum(e.amount) AS score
          FROM transfers t
          JOIN entries e ON e.transfer_id = t.id AND e.account_id = 'earnings:' || t.recipient_id
          JOIN users u ON u.id = t.recipient_id
          WHERE t.kind = 'gift' AND t.at <= ${end} ${start === null ? sql`` : sql`AND t.at >= ${start}`}
          GROUP BY t.recipient_id, u.nickname
          HAVING sum(e.amount) > 0
          ORDER BY score DESC, t.recipient_id COLLATE "C" LIMIT ${limit}`, exec);
      case 'room_audience':
        return rows(sql`
          SELECT r.id, r.title AS name, max(s.peak_online) AS score
          FROM live_sessions s JOIN rooms r ON r.id = s.room_id
          WHERE s.started_at <= ${end} ${start === null ? sql`` : sql`AND (s.ended_at IS NULL OR s.ended_at >= ${start})`}
          GROUP BY r.id, r.title
          HAVING max(s.peak_online) > 0
          ORDER BY score DESC, r.id COLLATE "C" LIMIT ${limit}`, exec);
    }
  }

  const toSnapshot = (r: typeof rankingSnapshots.$inferSelect, limit: number): BoardSnapshot => ({
    board: r.board,
    window: r.window,
    updatedAt: r.computedAt.toISOString(),
    periodStart: r.periodStart?.toISOString() ?? null,
    items: r.items.slice(0, limit),
  });

  /**
   * Computes and stores one board as of `now`; true when it changed. Boards only move forward: two refreshes
   * of one board (jobs of consecutive debounce slots on several workers, a read that found it stale) take the
   * board's row in turn, and one whose `now` is older than the stored board's changes nothing, so an older
   * compute never overwrites a newer one, whichever finishes last.
   */
  async function store(board: Board, window: RankWindow, now: Date): Promise<boolean> {
    const start = periodStart(window, now);
    return db.transaction(async (tx) => {
      const where = and(eq(rankingSnapshots.board, board), eq(rankingSnapshots.window, window));
      await tx.insert(rankingSnapshots).values({ board, window, periodStart: start, items: [], digest: '', computedAt: now }).onConflictDoNothing();
      const [before] = await tx.select({ digest: rankingSnapshots.digest, computedAt: rankingSnapshots.computedAt }).from(rankingSnapshots).where(where).for('update');
      if (before && before.computedAt.getTime() > now.getTime()) return false;
      const items = await compute(board, window, now, tx);
      const digest = digestOf(start, items);
      await tx.update(rankingSnapshots).set({ periodStart: start, items, digest, computedAt: now }).where(where);
      return before?.digest !== digest;
    });
  }

  async function publish(changed: { board: string; window: string }[], now: Date) {
    if (changed.length > 0) await deps.events.publish('rankings.updated', { boards: changed, at: now.toISOString() });
  }

  /** The stored board; computed first when missing or from a period that has ended (the next scheduled run may not have come yet). */
  async function get(board: Board, window: RankWindow, limit: number, now = clock()): Promise<BoardSnapshot> {
    const read = () =>
      db
        .select()
        .from(rankingSnapshots)
        .where(and(eq(rankingSnapshots.board, board), eq(rankingSnapshots.window, window)))
        .limit(1);
    let [row] = await read();
    const start = periodStart(window, now)?.getTime() ?? null;
    if (!row || (row.periodStart?.getTime() ?? null) !== start) {
      if (await store(board, window, now)) await publish([{ board, window }], now);
      [row] = await read();
    }
    return toSnapshot(row!, limit);
  }

  return {
    compute,
    get,

    /** Recomputes the given boards (default all) for every window; publishes the ones that changed. */
    async refresh(boards: readonly Board[] = BOARDS, now = clock()): Promise<{ board: Board; window: RankWindow }[]> {
      const changed: { board: Board; window: RankWindow }[] = [];
      for (const board of boards) for (const window of WINDOWS) if (await store(board, window, now)) changed.push({ board, window });
      await publish(changed, now);
      return changed;
    },

    /** Every stored board (for the rankings room); missing ones are computed. */
    async all(limit: number, now = clock()): Promise<BoardSnapshot[]> {
      const stored = await db.select().from(rankingSnapshots);
      const out: BoardSnapshot[] = [];
      for (const board of BOARDS)
        for (const window of WINDOWS) {
          const row = stored.find((r) => r.board === board && r.window === window);
          const start = periodStart(window, now)?.getTime() ?? null;
          out.push(row && (row.periodStart?.getTime() ?? null) === start ? toSnapshot(row, limit) : await get(board, window, limit, now));
        }
      return out;
    },
  };
}

export type RankingsService = ReturnType<typeof createRankings>;
