// The room's lottery: the current one in the state (its live entry count
// reloaded at most once a second), its result broadcast once when drawn, and
// the entries made in the room: `lottery:enter` clicks and chat lines with the
// keyword. Who may enter, and how, is decided by the lotteries service
// (domain/lotteries.ts); the room only asks.
import type { Logger } from 'pino';
import type { ChatMessage } from '../domain/chat.ts';
import { DomainError, isDomainError } from '../domain/errors.ts';
import type { EventMap } from '../domain/events.ts';
import { keywordMatches } from '../domain/lottery-keyword.ts';
import type { LotteryView } from '../domain/lotteries.ts';
import type { LotteryResult } from './messages.ts';
import type { LiveRoomState } from './state.ts';
import { throttledRefresh, type ThrottledRefresh } from './throttled-refresh.ts';
import { replyError, type MessageHandlers, type Viewer } from './viewer-messages.ts';

/** The entry count is re-read at most this often, however many entries arrive. */
const LOTTERY_COUNT_REFRESH_MS = 1000;

/** A lottery as the room shows it. */
export type LiveRoomLottery = Pick<
  LotteryView,
  'id' | 'prize' | 'winners' | 'method' | 'keyword' | 'giftId' | 'followersOnly' | 'status' | 'endsAt' | 'drawnAt' | 'entries' | 'winnerIds' | 'winnerUsers' | 'seedHash' | 'seed' | 'entriesHash'
>;

/** What the room needs from lotteries: the rules (who may enter, how) live there. */
export interface LiveRoomLotteries {
  /** The room's open lottery, or its recently drawn one. */
  current(roomId: string): Promise<LiveRoomLottery | undefined>;
  get(lotteryId: string): Promise<LiveRoomLottery>;
  /** `at`: when the entering act (chat message, paid gift) happened. */
  enter(lotteryId: string, user: { id: string } | null, via: 'click' | 'danmaku' | 'gift', at?: Date, proof?: { text?: string; giftId?: string }): Promise<{ entered: boolean }>;
  entryCount(lotteryId: string): Promise<number>;
}

export interface RoomLotteryViewDeps {
  roomId: string;
  /** Without it the room shows no lottery and refuses `lottery:enter`. */
  lotteries: LiveRoomLotteries | undefined;
  state: Pick<LiveRoomState, 'lottery'>;
  /** To everyone in the room. */
  broadcastResult(result: LotteryResult): void;
  /** Every connection of the user `userId`. */
  viewersOf(userId: string): Viewer[];
  logger: Pick<Logger, 'warn'>;
  setTimeout: (fn: () => void, ms: number) => void;
}

export class RoomLotteryView {
  private readonly deps: RoomLotteryViewDeps;
  private readonly count: ThrottledRefresh;
  /** The lottery whose result was broadcast here (a repeated `lottery.drawn` is not broadcast again). */
  private resultSent = '';

  constructor(deps: RoomLotteryViewDeps) {
    this.deps = deps;
    const lottery = deps.state.lottery;
    this.count = throttledRefresh({
      intervalMs: LOTTERY_COUNT_REFRESH_MS,
      setTimeout: deps.setTimeout,
      enabled: () => deps.lotteries !== undefined && lottery.id !== '' && lottery.status === 'open',
      run: () => this.reloadCount(),
    });
  }

  /** `lottery:enter`: a click entry; the entry count follows. */
  readonly handlers = {
    'lottery:enter': async (viewer, msg) => {
      if (!this.deps.lotteries) throw new DomainError('lottery_not_found', 'no lotteries here');
      const r = await this.deps.lotteries.enter(msg.lotteryId, viewer.auth?.user ?? null, 'click');
      viewer.send('lottery:entered', { lotteryId: msg.lotteryId, entered: r.entered });
      if (msg.lotteryId === this.deps.state.lottery.id) this.count.request();
    },
  } satisfies MessageHandlers;

  /** Shows the lottery `id` (or the room's current one) in the state; a fresh draw is broadcast once. */
  async show(id?: string) {
    const { lotteries, roomId } = this.deps;
    if (!lotteries) return;
    try {
      const l = id ? await lotteries.get(id) : await lotteries.current(roomId);
      if (!l) return;
      const s = this.deps.state.lottery;
      // An older lottery's late event must not replace a newer one.
      if (s.id && s.id !== l.id && s.id > l.id) return;
      s.id = l.id;
      s.prize = l.prize;
      s.winners = l.winners;
      s.method = l.method;
      s.keyword = l.keyword ?? '';
      s.giftId = l.giftId ?? '';
      s.followersOnly = l.followersOnly;
      s.endsAt = l.endsAt;
      s.entries = l.entries;
      s.status = l.status;
      s.seedHash = l.seedHash;
      s.winnerIds.clear();
      for (const w of l.winnerIds) s.winnerIds.push(w);
      if (id && l.status === 'drawn' && this.resultSent !== l.id) {
        this.resultSent = l.id;
        this.deps.broadcastResult({
          lotteryId: l.id,
          prize: l.prize,
          winners: l.winnerUsers,
          entries: l.entries,
          seedHash: l.seedHash,
          seed: l.seed ?? '',
          entriesHash: l.entriesHash ?? '',
          drawnAt: l.drawnAt ?? '',
        });
      }
    } catch (err) {
      this.deps.logger.warn({ err, roomId, lotteryId: id }, 'lottery refresh failed');
    }
  }

  /** Someone entered (anywhere): the count follows; a gift entry, made where the gift was paid, is told to its sender here. */
  entered(e: EventMap['lottery.entered']) {
    if (e.lotteryId === this.deps.state.lottery.id) this.count.request();
    if (e.via === 'gift') for (const v of this.deps.viewersOf(e.userId)) v.send('lottery:entered', { lotteryId: e.lotteryId, entered: true });
  }

  /** A paid gift did not enter its sender: they hear why. */
  refused(e: EventMap['lottery.refused']) {
    for (const v of this.deps.viewersOf(e.userId)) replyError(v, new DomainError(e.code, e.message));
  }

  /** A chat line with the open danmaku lottery's keyword (by the lottery's own rule) enters its author. */
  enterByDanmaku(viewer: Viewer, line: ChatMessage) {
    const { lotteries } = this.deps;
    const l = this.deps.state.lottery;
    if (!lotteries || l.status !== 'open' || l.method !== 'danmaku' || !l.keyword) return;
    if (!keywordMatches(line.text, l.keyword)) return;
    const id = l.id;
    lotteries.enter(id, viewer.auth?.user ?? null, 'danmaku', new Date(line.at), { text: line.text }).then(
      (r) => {
        viewer.send('lottery:entered', { lotteryId: id, entered: r.entered });
        this.count.request();
      },
      (err) => {
        if (!isDomainError(err)) return this.deps.logger.warn({ err, roomId: this.deps.roomId, lotteryId: id }, 'lottery entry failed');
        // The chat line itself went through; tell its author why it did not enter them.
        replyError(viewer, new DomainError(err.code, `lottery: ${err.message}`, err.details));
      },
    );
  }

  /** On the patch tick. */
  tick() {
    this.count.tick();
  }

  private async reloadCount() {
    const { lotteries } = this.deps;
    const s = this.deps.state.lottery;
    const id = s.id;
    if (!lotteries) return;
    try {
      const n = await lotteries.entryCount(id);
      if (s.id === id && s.status === 'open') s.entries = n;
    } catch (err) {
      this.deps.logger.warn({ err, roomId: this.deps.roomId }, 'lottery count refresh failed');
    }
  }
}
