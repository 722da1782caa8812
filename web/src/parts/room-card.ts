// One room in the home grid: preview, live badge, title, streamer, online count.
import type { RoomInfo } from '../../../src/client/index.ts';
import { h, img } from '../dom.ts';
import { tr } from '../i18n.ts';

export function roomCard(room: RoomInfo): HTMLElement {
  const status = room.status === 'live' && room.interrupted ? 'interrupted' : room.status;
  return h(
    'a',
    { class: `room-card ${room.status}`, testid: 'room-card', attrs: { href: `#/room/${encodeURIComponent(room.id)}`, 'data-room-id': room.id } },
    h(
      'div',
      { class: 'thumb' },
      img(room.previewUrl, room.title, 'preview'),
      tr(h('span', { class: `badge ${status}` }), `room.status.${status}`),
      room.status === 'live' ? tr(h('span', { class: 'online', testid: 'card-online' }), 'room.online', { n: room.online }) : null,
    ),
    h(
      'div',
      { class: 'meta' },
      img(room.streamer.avatarUrl, room.streamer.nickname, 'avatar'),
      h('div', { class: 'lines' }, h('strong', { class: 'title', text: room.title }), h('span', { class: 'streamer', text: room.streamer.nickname })),
    ),
  );
}
