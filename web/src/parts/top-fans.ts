// The room's top fans of the last 24 hours, from the room state.
import type { LiveRoomState } from '../../../src/client/index.ts';
import { h, replace, formatNumber } from '../dom.ts';
import { tr } from '../i18n.ts';
import { empty } from '../states.ts';

export function createTopFans() {
  const list = h('ol', { class: 'fans' });
  const el = h('section', { class: 'card top-fans', testid: 'top-fans' }, tr(h('h2'), 'fans.title'), list);
  let last = '';
  return {
    el,
    render(state: LiveRoomState) {
      const fans = state.topFans.map((f) => ({ userId: f.userId, nickname: f.nickname, amount: f.amount }));
      const key = JSON.stringify(fans);
      if (key === last) return;
      last = key;
      if (fans.length === 0) return replace(list, empty('fans.empty'));
      replace(
        list,
        ...fans.map((f, i) => h('li', { class: i < 3 ? `top top${i + 1}` : '' }, h('span', { class: 'rank', text: String(i + 1) }), h('span', { class: 'name', text: f.nickname }), h('span', { class: 'score', text: formatNumber(f.amount) }))),
      );
    },
  };
}
