// Lotteries in rooms ("天选时刻"): the streamer opens one (one open lottery per
// room) with a prize, a number of winners, a duration and how to enter —
// `click` (a room message or the REST call), `danmaku` (a chat message with
// the keyword) or `gift` (sending the named gift) — optionally for followers
// only. Every entry rule is checked here; each user enters once. At `endsAt` a
// durable job calls draw(), which freezes the entrants, derives the winners
// from the committed seed (domain/lottery-draw.ts) and reveals the seed. The
// seed is HMAC(LOTTERY_SECRET, id), written to the database only at the draw;
// its hash is in the reply, the room state and the append-only `lottery.create`
// audit entry from the start, so a draw redone later with another seed cannot
// pass for the one committed to. Once: the draw holds the lottery row's lock
// and does nothing for a lottery already drawn, so a re-run job (a restart, a
// retry, the sweep) is harmless.
import { and, asc, desc, eq, gt, inArray, lte, sql } from 'drizzle-orm';
import type { Db } from '../db/connect.ts';
import { LOTTERY_METHODS, lotteries, lotteryEntries, users } from '../db/schema.ts';
import { recordAudit } from './audit.ts';
import { DomainError, isDomainError, isUniqueViolation } from './errors.ts';
import type { EventBus } from './events.ts';
import { newId } from './ids.ts';
import { DRAW_ALGORITHM, draw as drawFrom, seedFor, seedHashOf } from './lottery-draw.ts';
import { keywordMatches } from './lottery-keyword.ts';
import { normalizeText, textFault } from './text.ts';

export type LotteryMethod = (typeof LOTTERY_METHODS)[number];

export interface LotteryView {
  id: string;
  roomId: string;
  streamerId: string;
  prize: string;
  /** How many winners will be drawn. */
  winners: number;
  method: LotteryMethod;
  keyword: string | null;
  giftId: string | null;
  followersOnly: boolean;
  status: 'open' | 'drawn';
  createdAt: string;
  endsAt: string;
  drawnAt: string | null;
  /** Entrants so far (frozen at the draw). */
  entries: number;
  /** In draw order; empty until drawn. */
  winnerIds: string[];
  winnerUsers: { id: string; nickname: string }[];
  /** hex(sha256(seed)): the commitment, public from the start. */
  seedHash: string;
  /** Revealed at the draw. */
  seed: string | null;
  entriesHash: string | null;
  algorithm: string;
}

export interface LotteryInput {
  prize: string;
  winners: number;
  method: LotteryMethod;
  keyword?: string;
  giftId?: string;
  followersOnly?: boolean;
  durationSec: number;
}

export interface LotterySettings {
  minDurationSec: number;
  maxDurationSec: number;
  maxWinners: number;
  prizeMaxLength: number;
  keywordMaxLength: number;
  entriesPageMax: number;
  /** A drawn lottery is a room's current one for this long (or until the next opens). */
  resultShowSec: number;
}

export interface LotteriesDeps {
  db: Db;
  events: EventBus;
  rooms: { summary(id: string): Promise<{ id: string; streamerId: string } | undefined> };
  follows: { isFollowing(followerId: string, followeeId: string): Promise<boolean> };
  bans: { isBanned(roomId: string, userId: string): Promise<boolean> };
  gifts: { has(giftId: string): boolean };
  /** The key lottery seeds are derived from (config lotterySecret): the seed exists nowhere before the draw. */
  seedSecret: string;
  /** Makes sure draw(id) runs at `at` (a durable job). */
  scheduleDraw(lotteryId: string, at: Date): Promise<void>;
  settings: LotterySettings;
  onError?(e: unknown): void;
  now?: () => number;
}

type Row = typeof lotteries.$inferSelect;

export type DrawOutcome = { state: 'drawn'; lottery: LotteryView } | { state: 'already_drawn' } | { state: 'not_due'; endsAt: Date } | { state: 'missing' };

export function createLotteries(deps: LotteriesDeps) {
  const { db, settings } = deps;
  const now = deps.now ?? Date.now;

  async function entryCount(lotteryId: string): Promise<number> {
    const [r] = await db.select({ n: sql<number>`count(*)::int` }).from(lotteryEntries).where(eq(lotteryEntries.lotteryId, lotteryId));
    return Number(r?.n ?? 0);
  }

  async function toView(row: Row): Promise<LotteryView> {
    const drawn = row.status === 'drawn';
    const winnerIds = drawn ? (row.winnerIds ?? []) : [];
    const names = winnerIds.length
      ? await db.select({ id: users.id, nickname: users.nickname }).from(users).where(inArray(users.id, winnerIds))
      : [];
    const nick = new Map(names.map((n) => [n.id, n.nickname]));
    return {
      id: row.id,
      roomId: row.roomId,
      streamerId: row.streamerId,
      prize: row.prize,
      winners: row.winners,
      method: row.method,
      keyword: row.keyword,
      giftId: row.giftId,
      followersOnly: row.followersOnly,
      status: row.status,
      createdAt: row.createdAt.toISOString(),
      endsAt: row.endsAt.toISOString(),
      drawnAt: row.drawnAt?.toISOString() ?? null,
      entries: drawn ? (row.entryCount ?? 0) : await entryCount(row.id),
      winnerIds,
      winnerUsers: winnerIds.map((id) => ({ id, nickname: nick.get(id) ?? '' })),
      seedHash: row.seedHash,
      // The commitment is only worth something while the seed stays secret.
      seed: drawn ? row.seed : null,
      entriesHash: drawn ? row.entriesHash : null,
      algorithm: DRAW_ALGORITHM,
    };
  }

  async function find(id: string): Promise<Row | undefined> {
    const [row] = await db.select().from(lotteries).where(eq(lotteries.id, id)).limit(1);
    return row;
  }

  function checkInput(input: LotteryInput): { prize: string; keyword: string | null; giftId: string | null } {
    const invalid = (field: string, message: string) => new DomainError('validation_failed', `${field}: ${message}`, { field });
    const prize = normalizeText(input.prize);
    if (prize.length === 0 || [...prize].length > settings.prizeMaxLength) throw invalid('prize', `1 to ${settings.prizeMaxLength} characters`);
    const prizeFault = textFault(prize);
    if (prizeFault) throw invalid('prize', prizeFault);
    if (!Number.isInteger(input.winners) || input.winners < 1 || input.winners > settings.maxWinners)
      throw invalid('winners', `an integer from 1 to ${settings.maxWinners}`);
    if (!Number.isInteger(input.durationSec) || input.durationSec < settings.minDurationSec || input.durationSec > settings.maxDurationSec)
      throw invalid('durationSec', `an integer from ${settings.minDurationSec} to ${settings.maxDurationSec}`);
    let keyword: string | null = null;
    let giftId: string | null = null;
    if (input.method === 'danmaku') {
      keyword = normalizeText(input.keyword ?? '');
      if (keyword.length === 0 || [...keyword].length > settings.keywordMaxLength)
        throw invalid('keyword', `a danmaku lottery needs a keyword of 1 to ${settings.keywordMaxLength} characters`);
      const keywordFault = textFault(keyword);
      if (keywordFault) throw invalid('keyword', keywordFault);
    } else if (input.keyword !== undefined) throw invalid('keyword', 'only a danmaku lottery has a keyword');
    if (input.method === 'gift') {
      if (!input.giftId) throw invalid('giftId', 'a gift lottery needs the gift to send');
      if (!deps.gifts.has(input.giftId)) throw new DomainError('gift_not_found', 'no such gift', { giftId: input.giftId });
      giftId = input.giftId;
    } else if (input.giftId !== undefined) throw invalid('giftId', 'only a gift lottery has a giftId');
    return { prize, keyword, giftId };
  }

  /** Draws the lottery if it is open and due. Exactly one call ever draws it. */
  async function drawLottery(id: string): Promise<DrawOutcome> {
    const at = new Date(now());
    // Only `tx` inside: PGlite has one connection, so a query on `db` here would wait for this transaction forever.
    const outcome = await db.transaction(async (tx): Promise<Exclude<DrawOutcome, { state: 'drawn' }> | { state: 'drawn'; row: Row }> => {
      // The row lock waits for entries being written (they hold KEY SHARE on it) and keeps new ones out.
      const [row] = await tx.select().from(lotteries).where(eq(lotteries.id, id)).for('update');
      if (!row) return { state: 'missing' };
      if (row.status !== 'open') return { state: 'already_drawn' };
      if (row.endsAt.getTime() > at.getTime()) return { state: 'not_due', endsAt: row.endsAt };
      // A lottery opened before seeds were derived keeps the random seed it was stored with.
      const seed = row.seed ?? seedFor(deps.seedSecret, id);
      // Never publish a draw that does not follow from the commitment (LOTTERY_SECRET changed since it opened):
      // the error leaves it open and is logged by the job, to be drawn once the key is restored.
      if (seedHashOf(seed) !== row.seedHash) throw new Error(`lottery ${id}: its seed does not match its seedHash; was LOTTERY_SECRET (or JWT_SECRET) changed since it opened?`);
      const entrants = (await tx.select({ userId: lotteryEntries.userId }).from(lotteryEntries).where(eq(lotteryEntries.lotteryId, id))).map((e) => e.userId);
      const result = drawFrom(seed, entrants, row.winners);
      const [updated] = await tx
        .update(lotteries)
        .set({ status: 'drawn', drawnAt: at, seed, entriesHash: result.entriesHash, entryCount: result.sorted.length, winnerIds: result.winnerIds })
        .where(eq(lotteries.id, id))
        .returning();
      await recordAudit(tx, {
        actorId: null,
        action: 'lottery.draw',
        target: id,
        ip: null,
        details: { roomId: row.roomId, entries: result.sorted.length, winnerIds: result.winnerIds, entriesHash: result.entriesHash, seed, seedHash: row.seedHash },
      });
      return { state: 'drawn', row: updated! };
    });
    if (outcome.state !== 'drawn') return outcome;
    await deps.events.publish('lottery.drawn', { roomId: outcome.row.roomId, lotteryId: id });
    return { state: 'drawn', lottery: await toView(outcome.row) };
  }

  const service = {
    entryCount,

    async get(id: string): Promise<LotteryView> {
      const row = await find(id);
      if (!row) throw new DomainError('lottery_not_found', 'no such lottery');
      return toView(row);
    },

    /** The room's open lottery, else its last drawn one if drawn within resultShowSec. */
    async current(roomId: string): Promise<LotteryView | undefined> {
      const [row] = await db.select().from(lotteries).where(eq(lotteries.roomId, roomId)).orderBy(desc(lotteries.createdAt)).limit(1);
      if (!row) return undefined;
      if (row.status === 'drawn' && (row.drawnAt?.getTime() ?? 0) < now() - settings.resultShowSec * 1000) return undefined;
      return toView(row);
    },

    async create(actor: { id: string }, roomId: string, input: LotteryInput, ctx: { ip: string | null }): Promise<LotteryView> {
      const room = await deps.rooms.summary(roomId);
      if (!room) throw new DomainError('room_not_found', 'no such room');
      if (room.streamerId !== actor.id) throw new DomainError('forbidden', 'only the streamer of this room can start a lottery');
      const { prize, keyword, giftId } = checkInput(input);
      const id = newId();
      const seedHash = seedHashOf(seedFor(deps.seedSecret, id));
      const createdAt = new Date(now());
      const endsAt = new Date(createdAt.getTime() + input.durationSec * 1000);
      const insert = () =>
        db.transaction(async (tx) => {
          await tx.insert(lotteries).values({
            id, roomId, streamerId: room.streamerId, prize, winners: input.winners, method: input.method, keyword, giftId,
            followersOnly: input.followersOnly ?? false, seed: null, seedHash, createdAt, endsAt,
          });
          // The commitment in the append-only log, in the same transaction: rewriting the row's seedHash later shows.
          await recordAudit(tx, {
            actorId: actor.id, action: 'lottery.create', target: id, ip: ctx.ip,
            details: { roomId, method: input.method, winners: input.winners, endsAt: endsAt.toISOString(), seedHash, algorithm: DRAW_ALGORITHM },
          });
        });
      try {
        await insert();
      } catch (e) {
        if (!isUniqueViolation(e)) throw e;
        const [open] = await db.select().from(lotteries).where(and(eq(lotteries.roomId, roomId), eq(lotteries.status, 'open'))).limit(1);
        // One that is over but whose draw has not run yet is drawn now; then this one may open.
        if (!open || open.endsAt.getTime() > now() || (await drawLottery(open.id)).state === 'not_due')
          throw new DomainError('lottery_open', 'this room already has an open lottery', { lotteryId: open?.id });
        await insert();
      }
      // The lottery is committed: a failed enqueue is logged, and the sweep job draws it when due.
      await deps.scheduleDraw(id, endsAt).catch((e) => deps.onError?.(e));
      await deps.events.publish('lottery.created', { roomId, lotteryId: id });
      return toView((await find(id))!);
    },

    /**
     * Enters `user` by `via` (the route the entry came by). `at` is when the
     * entering act happened (a gift's payment, a chat message); default now.
     * Entering twice changes nothing (`entered: false`). `proof`: the chat
     * text (danmaku) or the gift sent (gift) that the entry comes from.
     */
    async enter(
      lotteryId: string,
      user: { id: string } | null,
      via: LotteryMethod,
      at = new Date(now()),
      proof: { text?: string; giftId?: string } = {},
    ): Promise<{ entered: boolean }> {
      if (!user) throw new DomainError('unauthorized', 'sign in to enter lotteries');
      const row = await find(lotteryId);
      if (!row) throw new DomainError('lottery_not_found', 'no such lottery');
      if (row.status !== 'open' || row.endsAt.getTime() <= at.getTime()) throw new DomainError('lottery_closed', 'this lottery is over');
      if (row.method !== via) {
        const how = row.method === 'click' ? 'with the enter button' : row.method === 'danmaku' ? `by saying "${row.keyword}" in the chat` : `by sending the gift ${row.giftId}`;
        throw new DomainError('wrong_entry_method', `enter this lottery ${how}`, { method: row.method });
      }
      if (via === 'danmaku' && !keywordMatches(proof.text ?? '', row.keyword ?? ''))
        throw new DomainError('wrong_entry_method', `say "${row.keyword}" in the chat to enter`, { method: row.method });
      if (via === 'gift' && proof.giftId !== row.giftId)
        throw new DomainError('wrong_entry_method', `send the gift ${row.giftId} to enter`, { method: row.method });
      if (row.streamerId === user.id) throw new DomainError('cannot_enter_own_lottery', 'you cannot enter your own lottery');
      if (await deps.bans.isBanned(row.roomId, user.id)) throw new DomainError('banned', 'you are banned from this room');
      if (row.followersOnly && !(await deps.follows.isFollowing(user.id, row.streamerId)))
        throw new DomainError('followers_only', 'this lottery is for followers of the streamer');
      // KEY SHARE on the lottery row: a draw in progress (FOR UPDATE) makes this wait, then see it drawn.
      const inserted = (await db.execute(sql`
        INSERT INTO lottery_entries (lottery_id, user_id, via, created_at)
        SELECT l.id, ${user.id}, ${via}, ${at.toISOString()} FROM lotteries l
        WHERE l.id = ${lotteryId} AND l.status = 'open' AND l.ends_at > ${at.toISOString()}
        FOR KEY SHARE
        ON CONFLICT (lottery_id, user_id) DO NOTHING
        RETURNING user_id`)) as unknown as { rows: unknown[] };
      if (inserted.rows.length > 0) {
        await deps.events.publish('lottery.entered', { roomId: row.roomId, lotteryId, userId: user.id, via });
        return { entered: true };
      }
      const [already] = await db
        .select({ u: lotteryEntries.userId })
        .from(lotteryEntries)
        .where(and(eq(lotteryEntries.lotteryId, lotteryId), eq(lotteryEntries.userId, user.id)))
        .limit(1);
      if (already) return { entered: false };
      throw new DomainError('lottery_closed', 'this lottery is over');
    },

    /**
     * A paid gift: enters its sender into the room's open gift lottery of that
     * gift, if there is one. Runs where the gift was paid, whether or not a
     * process holds the live room; a refusal is published for the room to tell.
     */
    async enterByGift(roomId: string, userId: string, giftId: string, at: Date): Promise<{ lotteryId: string; entered: boolean } | null> {
      const [open] = await db
        .select({ id: lotteries.id })
        .from(lotteries)
        .where(and(eq(lotteries.roomId, roomId), eq(lotteries.status, 'open'), eq(lotteries.method, 'gift'), eq(lotteries.giftId, giftId)))
        .limit(1);
      if (!open) return null;
      try {
        return { lotteryId: open.id, ...(await service.enter(open.id, { id: userId }, 'gift', at, { giftId })) };
      } catch (e) {
        if (!isDomainError(e)) throw e;
        await deps.events.publish('lottery.refused', { roomId, lotteryId: open.id, userId, code: e.code, message: `lottery: ${e.message}` });
        return { lotteryId: open.id, entered: false };
      }
    },

    /** Entrant ids in byte order (the order the draw hashes), a page at a time. */
    async entrants(lotteryId: string, q: { cursor?: string; limit: number }): Promise<{ items: { userId: string; via: LotteryMethod; at: string }[]; nextCursor: string | null }> {
      if (!(await find(lotteryId))) throw new DomainError('lottery_not_found', 'no such lottery');
      const limit = Math.min(q.limit, settings.entriesPageMax);
      const rows = await db
        .select()
        .from(lotteryEntries)
        .where(and(eq(lotteryEntries.lotteryId, lotteryId), q.cursor ? gt(sql`${lotteryEntries.userId} COLLATE "C"`, q.cursor) : undefined))
        .orderBy(asc(sql`${lotteryEntries.userId} COLLATE "C"`))
        .limit(limit + 1);
      const more = rows.length > limit;
      const page = more ? rows.slice(0, limit) : rows;
      return {
        items: page.map((r) => ({ userId: r.userId, via: r.via, at: r.createdAt.toISOString() })),
        nextCursor: more ? page[page.length - 1]!.userId : null,
      };
    },

    draw: drawLottery,

    /** Draws every open lottery past its end (the safety net for a lost or late draw job). */
    async drawDue(): Promise<number> {
      const due = await db
        .select({ id: lotteries.id })
        .from(lotteries)
        .where(and(eq(lotteries.status, 'open'), lte(lotteries.endsAt, new Date(now()))));
      let n = 0;
      for (const d of due) if ((await drawLottery(d.id)).state === 'drawn') n++;
      return n;
    },
  };
  return service;
}

export type LotteriesService = ReturnType<typeof createLotteries>;
