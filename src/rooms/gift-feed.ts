// The gift feed of a room: paid gifts (`room.gift` bus events) as lines in the
// state, where sends of one gift by one user in quick succession are one line,
// a combo with running totals; and the `gift` broadcasts for animations, at
// most GIFT_BROADCASTS_PER_TICK per patch tick (the rest of a burst is in the
// feed already).
import type { EventMap } from '../domain/events.ts';
import type { GiftBroadcast } from './messages.ts';
import { GiftLine, type LiveRoomState } from './state.ts';

type GiftEvent = EventMap['room.gift'];

export interface GiftFeedSettings {
  /** Lines kept (GIFT_FEED_SIZE). */
  giftFeedSize: number;
  giftBroadcastsPerTick: number;
  /** Sends of the same gift by the same user closer than this are one combo. */
  giftComboWindowMs: number;
}

/** The `gift` broadcast of one send, in the combo `line` shows. */
export function giftBroadcast(e: GiftEvent, line: Pick<GiftLine, 'combo' | 'count'>): GiftBroadcast {
  return {
    id: e.giftEventId,
    userId: e.userId,
    nickname: e.nickname,
    giftId: e.giftId,
    giftName: e.giftName,
    icon: e.icon,
    count: e.count,
    amount: e.amount,
    at: e.at,
    combo: line.combo,
    comboCount: line.count,
  };
}

export class GiftFeed {
  private readonly lines: LiveRoomState['gifts'];
  private readonly settings: GiftFeedSettings;
  private readonly now: () => number;
  /** The open combo of each user and gift (`userId:giftId`). */
  private readonly combos = new Map<string, { line: GiftLine; lastAt: number }>();
  private pending: GiftBroadcast[] = [];

  constructor(lines: LiveRoomState['gifts'], settings: GiftFeedSettings, now: () => number = Date.now) {
    this.lines = lines;
    this.settings = settings;
    this.now = now;
  }

  add(e: GiftEvent) {
    const now = this.now();
    const { giftComboWindowMs } = this.settings;
    const key = `${e.userId}:${e.giftId}`;
    const previous = this.combos.get(key);
    // A combo continues while its line is still in the feed and the sends keep coming.
    const combo = previous && now - previous.lastAt <= giftComboWindowMs && this.lines.includes(previous.line) ? previous : undefined;
    let line: GiftLine;
    if (combo) {
      line = combo.line;
      line.count += e.count;
      line.amount += e.amount;
      line.combo += 1;
      line.at = e.at;
      combo.lastAt = now;
    } else {
      line = new GiftLine({ id: e.giftEventId, userId: e.userId, nickname: e.nickname, giftId: e.giftId, giftName: e.giftName, count: e.count, amount: e.amount, combo: 1, at: e.at });
      this.lines.push(line);
      while (this.lines.length > this.settings.giftFeedSize) this.lines.shift();
      this.combos.set(key, { line, lastAt: now });
      for (const [k, c] of this.combos) if (now - c.lastAt > giftComboWindowMs) this.combos.delete(k);
    }
    this.pending.push(giftBroadcast(e, line));
  }

  /** The broadcasts of this tick: the first sends since the last tick, at most giftBroadcastsPerTick; the rest are dropped. */
  takeBroadcasts(): GiftBroadcast[] {
    const due = this.pending.slice(0, this.settings.giftBroadcastsPerTick);
    this.pending = [];
    return due;
  }
}
