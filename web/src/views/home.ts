// Home: the rooms (live first, busiest first) refreshed every few seconds, and
// the leaderboards.
import type { RoomInfo } from '../../../src/client/index.ts';
import { h, replace } from '../dom.ts';
import { tr } from '../i18n.ts';
import type { View } from '../router.ts';
import { roomCard } from '../parts/room-card.ts';
import { rankingsPanel } from '../parts/rankings.ts';
import { api } from '../session.ts';
import { empty, failed, loading } from '../states.ts';

const REFRESH_MS = 5000;

export const homeView: View = (root) => {
  const grid = h('div', { class: 'room-grid', testid: 'rooms' }, loading());
  let timer: number | undefined;
  let stopped = false;
  let shown = false;

  const load = async () => {
    window.clearTimeout(timer);
    try {
      const page = await api.listRooms({ limit: 48 });
      if (stopped) return;
      shown = true;
      render(page.items);
    } catch (e) {
      // keep the last list on a failed refresh; only an empty page shows the error
      if (!stopped && !shown) replace(grid, failed(e, () => void load()));
    } finally {
      if (!stopped) timer = window.setTimeout(() => void load(), REFRESH_MS);
    }
  };
  const render = (rooms: RoomInfo[]) => {
    if (rooms.length === 0) return replace(grid, empty('home.empty'));
    replace(grid, ...rooms.map(roomCard));
  };

  const rankings = rankingsPanel();
  root.append(h('div', { class: 'home' }, h('section', { class: 'rooms' }, tr(h('h1'), 'home.rooms'), grid), rankings.el));
  void load();
  const online = () => void load();
  window.addEventListener('online', online);
  return () => {
    stopped = true;
    window.clearTimeout(timer);
    window.removeEventListener('online', online);
    rankings.close();
  };
};
