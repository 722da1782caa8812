// The leaderboards from the `rankings` room: every board is in its state and
// patched as it changes, so this only re-renders on patches.
import type { Rankings, RankingsConnection } from '../../../src/client/index.ts';
import { h, replace, formatNumber } from '../dom.ts';
import { tr } from '../i18n.ts';
import { api } from '../session.ts';
import { empty, failed, loading } from '../states.ts';

const BOARDS: Rankings['board'][] = ['streamer_revenue', 'streamer_followers', 'room_audience'];
const WINDOWS: Rankings['window'][] = ['hour', 'day', 'week', 'all'];

export function rankingsPanel(): { el: HTMLElement; close(): void } {
  const body = h('div', { class: 'boards' }, loading());
  let win: Rankings['window'] = 'day';
  let conn: RankingsConnection | undefined;
  let closed = false;
  const tabs = h(
    'div',
    { class: 'tabs', attrs: { role: 'tablist' } },
    ...WINDOWS.map((w) =>
      tr(
        h('button', {
          class: w === win ? 'tab active' : 'tab',
          attrs: { role: 'tab', 'aria-selected': String(w === win), 'data-window': w },
          on: {
            click: () => {
              win = w;
              for (const b of tabs.querySelectorAll('button')) {
                b.classList.toggle('active', b.dataset.window === w);
                b.setAttribute('aria-selected', String(b.dataset.window === w));
              }
              render();
            },
          },
        }),
        `window.${w}`,
      ),
    ),
  );

  const render = () => {
    if (!conn) return;
    replace(
      body,
      ...BOARDS.map((board) => {
        const items = conn!.board(board, win);
        return h(
          'section',
          { class: 'board', testid: `board-${board}` },
          tr(h('h3'), `board.${board}`),
          items.length === 0
            ? empty('home.rankingsEmpty')
            : h(
                'ol',
                {},
                ...items.slice(0, 10).map((it, i) =>
                  h('li', { class: i < 3 ? `top top${i + 1}` : '' }, h('span', { class: 'rank', text: String(i + 1) }), h('span', { class: 'name', text: it.name }), h('span', { class: 'score', text: formatNumber(it.score) })),
                ),
              ),
        );
      }),
    );
  };

  const connect = () => {
    replace(body, loading());
    api.joinRankings().then(
      (c) => {
        if (closed) return void c.leave();
        conn = c;
        c.onChange(render);
        // a dropped rankings connection shows the error with a retry
        c.room.onLeave(() => {
          if (!closed) replace(body, failed(new Error(''), connect));
          conn = undefined;
        });
        render();
      },
      (e: unknown) => {
        if (!closed) replace(body, h('div', {}, tr(h('p', { class: 'muted' }), 'home.rankingsError'), failed(e, connect)));
      },
    );
  };
  connect();

  const el = h('aside', { class: 'card rankings', testid: 'rankings' }, tr(h('h2'), 'home.rankings'), tabs, body);
  return {
    el,
    close() {
      closed = true;
      void conn?.leave();
    },
  };
}
