// The room's current lottery (天选时刻): prize, how to enter, a countdown and
// the entry count while open; the winners once drawn. The streamer's console
// shows the same card without the enter button. A gift lottery names the gift
// from the catalog (setGifts, from the catalog the page loaded anyway).
import type { Gift, LiveRoomState, LotteryResult } from '../../../src/client/index.ts';
import { h, replace } from '../dom.ts';
import { tr } from '../i18n.ts';
import { api, currentUser } from '../session.ts';
import { empty } from '../states.ts';

export function createLotteryCard(opts: { enter?: (lotteryId: string) => void }) {
  const body = h('div', { class: 'lottery-body' });
  const el = h('section', { class: 'card lottery', testid: 'lottery' }, tr(h('h2'), 'lottery.title'), body);
  let entered = new Set<string>();
  let results = new Map<string, LotteryResult['winners']>();
  let fetching = new Set<string>();
  let current: LiveRoomState['lottery'] | null = null;
  let giftNames = new Map<string, string>();
  let timer: number | undefined;

  const render = () => {
    window.clearTimeout(timer);
    const l = current;
    if (!l || !l.id) return replace(body, empty('lottery.none'));
    const open = l.status === 'open';
    const left = Math.max(0, Math.ceil((Date.parse(l.endsAt) - Date.now()) / 1000));
    const parts: HTMLElement[] = [tr(h('p', { class: 'prize', testid: 'lottery-prize' }), 'lottery.prize', { prize: l.prize })];
    parts.push(h('p', { class: 'muted' }, tr(h('span'), 'lottery.winners', { n: l.winners }), ' · ', tr(h('span', { testid: 'lottery-entries' }), 'lottery.entries', { n: l.entries })));
    if (l.followersOnly) parts.push(tr(h('p', { class: 'muted' }), 'lottery.followersOnly'));
    if (open) {
      const countdown = left > 0 ? tr(h('p', { class: 'countdown', testid: 'lottery-countdown' }), 'lottery.endsIn', { s: left }) : tr(h('p', { class: 'countdown' }), 'lottery.drawing');
      parts.push(countdown);
      if (entered.has(l.id)) parts.push(tr(h('p', { class: 'entered', testid: 'lottery-entered' }), 'lottery.entered'));
      else if (l.method === 'click' && opts.enter && currentUser() && left > 0)
        parts.push(tr(h('button', { class: 'btn primary', testid: 'lottery-enter', on: { click: () => opts.enter!(l.id) } }), 'lottery.enter'));
      else if (l.method === 'danmaku') parts.push(tr(h('p', { class: 'how', testid: 'lottery-how' }), 'lottery.howDanmaku', { keyword: l.keyword }));
      else if (l.method === 'gift') parts.push(tr(h('p', { class: 'how', testid: 'lottery-how' }), 'lottery.howGift', { gift: giftNames.get(l.giftId) ?? l.giftId }));
      // tick the countdown in place (re-rendering would swap the button under a click)
      const tick = () => {
        const s = Math.max(0, Math.ceil((Date.parse(l.endsAt) - Date.now()) / 1000));
        if (s === 0) return render();
        tr(countdown, 'lottery.endsIn', { s });
        timer = window.setTimeout(tick, 1000);
      };
      if (left > 0) timer = window.setTimeout(tick, 1000);
    } else {
      const winners = results.get(l.id);
      if (!winners && !fetching.has(l.id)) {
        // joined after the draw (no lottery:result broadcast seen): ask the API for the names
        fetching.add(l.id);
        api.getLottery(l.id).then(
          (full) => {
            results.set(full.id, full.winnerUsers);
            render();
          },
          () => {},
        );
      }
      const me = currentUser()?.id;
      parts.push(tr(h('h3'), 'lottery.result'));
      if (winners && winners.length === 0) parts.push(tr(h('p', { class: 'muted' }), 'lottery.noWinners'));
      else if (winners) {
        if (me && winners.some((w) => w.id === me)) parts.push(tr(h('p', { class: 'won', testid: 'lottery-won' }), 'lottery.youWon'));
        parts.push(h('ol', { class: 'winners', testid: 'lottery-winners' }, ...winners.map((w) => h('li', { text: w.nickname }))));
      }
    }
    // The commitment in full from the moment the lottery opens: what a viewer keeps to check the draw later
    // (`npm run lottery:verify -- <id> --seed-hash <this>`, docs/lotteries.md "How a draw can be checked").
    if (l.seedHash) parts.push(tr(h('p', { class: 'hash muted', testid: 'lottery-seed-hash' }), 'lottery.verify', { hash: l.seedHash }));
    replace(body, ...parts);
  };

  let lastKey = '';
  return {
    el,
    update(state: LiveRoomState) {
      const l = state.lottery;
      const key = `${l.id}|${l.status}|${l.entries}|${l.winnerIds.join(',')}`;
      if (key === lastKey) return;
      lastKey = key;
      current = l;
      render();
    },
    entered(lotteryId: string) {
      entered.add(lotteryId);
      render();
    },
    result(r: LotteryResult) {
      results.set(r.lotteryId, r.winners);
      render();
    },
    /** The gift catalog (GET /api/gifts), for the gift's display name. */
    setGifts(items: readonly Gift[]) {
      giftNames = new Map(items.map((g) => [g.id, g.name]));
      if (current?.id && current.status === 'open' && current.method === 'gift') render();
    },
    reset() {
      entered = new Set();
      results = new Map();
      fetching = new Set();
    },
    close() {
      window.clearTimeout(timer);
    },
  };
}
