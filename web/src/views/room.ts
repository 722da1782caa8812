// A room's viewer page: the player with danmaku and gift animations over it,
// the room bar (title, streamer, online count, follow), the gift panel, the
// lottery, top fans and chat. The live room connection drives everything
// live; if it drops, the SDK reconnects and the page rejoins after that.
import { LiveroomError, type LiveRoomConnection, type RoomInfo } from '../../../src/client/index.ts';
import { h, img, replace } from '../dom.ts';
import { codeText, errorText } from '../errors.ts';
import { t, tr, type Key } from '../i18n.ts';
import { createChatPanel } from '../parts/chat.ts';
import { createDanmaku } from '../parts/danmaku.ts';
import { createGiftFx } from '../parts/gift-fx.ts';
import { createGiftPanel } from '../parts/gift-panel.ts';
import { createLotteryCard } from '../parts/lottery-card.ts';
import { createTopFans } from '../parts/top-fans.ts';
import { createPlayer, type PlayerState } from '../player.ts';
import type { View } from '../router.ts';
import { api, currentUser } from '../session.ts';
import { empty, failed, loading } from '../states.ts';
import { toast } from '../toast.ts';

const OVERLAY: Record<PlayerState, Key | null> = {
  connecting: 'player.connecting',
  playing: null,
  reconnecting: 'player.reconnecting',
  offline: 'player.offline',
  ended: 'player.ended',
  unsupported: 'player.unsupported',
};

export const roomView: View = (root, { id }) => {
  let closed = false;
  let cleanup: (() => void) | undefined;
  const start = () => {
    replace(root, loading());
    api.getRoom(id!).then(
      ({ room }) => {
        if (closed) return;
        root.replaceChildren();
        cleanup = mountRoom(root, room);
      },
      (e: unknown) => {
        if (closed) return;
        // 400: not even the shape of a room id
        if (e instanceof LiveroomError && (e.status === 404 || e.status === 400)) replace(root, empty('room.notFound'));
        else replace(root, failed(e, start));
      },
    );
  };
  start();
  return () => {
    closed = true;
    cleanup?.();
  };
};

function mountRoom(root: HTMLElement, room: RoomInfo): () => void {
  const me = currentUser();
  const isOwner = me?.id === room.streamer.id;
  let conn: LiveRoomConnection | undefined;
  let closed = false;
  let rejoinTimer: number | undefined;

  // --- player and what flies over it
  const video = h('video', { class: 'video', testid: 'video', attrs: { muted: true, playsinline: true, autoplay: true } });
  const overlay = h('div', { class: 'player-overlay', testid: 'player-overlay', attrs: { role: 'status' } });
  const danmakuLayer = h('div', { class: 'danmaku-layer', testid: 'danmaku', attrs: { 'aria-hidden': 'true' } });
  const fxLayer = h('div', { class: 'fx-layer', testid: 'gift-fx-layer', attrs: { 'aria-hidden': 'true' } });
  const unmute = tr(h('button', { class: 'btn small', testid: 'unmute', on: { click: () => ((video.muted = false), (unmute.hidden = true)) } }), 'player.unmute');
  const dmToggle = tr(h('button', { class: 'btn small ghost', testid: 'danmaku-toggle', attrs: { 'aria-pressed': 'true' } }), 'player.danmakuOn');
  const danmaku = createDanmaku(danmakuLayer);
  dmToggle.addEventListener('click', () => {
    danmaku.setEnabled(!danmaku.enabled);
    dmToggle.setAttribute('aria-pressed', String(danmaku.enabled));
    tr(dmToggle, danmaku.enabled ? 'player.danmakuOn' : 'player.danmakuOff');
  });
  const fx = createGiftFx(fxLayer);
  const playerBox = h('div', { class: 'player', testid: 'player' }, video, danmakuLayer, fxLayer, overlay, h('div', { class: 'player-controls' }, unmute, dmToggle));
  // `#/room/<id>?flv=ws` plays WS-FLV instead of HTTP-FLV, `?player=hls` plays HLS, `?player=webrtc` plays WHEP
  const query = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const flvTransport = query.get('flv') === 'ws' ? 'ws' : 'http';
  const preferHls = query.get('player') === 'hls';
  const preferWebrtc = query.get('player') === 'webrtc';
  const player = createPlayer(
    video,
    (s, tech) => {
      playerBox.dataset.state = s;
      playerBox.dataset.tech = tech ?? '';
      const key = OVERLAY[s];
      overlay.hidden = key === null;
      if (key) tr(overlay, key);
    },
    { flvTransport, preferHls, preferWebrtc },
  );

  let status = room.status;
  let interrupted = room.interrupted;
  const applyStatus = (wentLive: boolean) => {
    badge.className = `badge ${status === 'live' && interrupted ? 'interrupted' : status}`;
    tr(badge, `room.status.${status === 'live' && interrupted ? 'interrupted' : status}`);
    if (status === 'live') player.live(room.playback, wentLive);
    else player.stop(status === 'ended' ? 'ended' : 'offline');
  };

  // --- room bar
  const badge = h('span', { class: 'badge', testid: 'room-status' });
  const title = h('h1', { class: 'room-title', testid: 'room-title', text: room.title });
  const online = tr(h('span', { class: 'online', testid: 'online' }), 'room.online', { n: room.online });
  const followers = h('span', { class: 'muted', testid: 'followers' });
  const followBtn = h('button', { class: 'btn primary small', testid: 'follow', attrs: { hidden: !me || isOwner } });
  let following = false;
  const showFollow = () => {
    tr(followBtn, following ? 'room.following' : 'room.follow');
    followBtn.classList.toggle('primary', !following);
    followBtn.setAttribute('aria-pressed', String(following));
  };
  showFollow();
  const loadFollowers = () =>
    api.getUser(room.streamer.id).then(
      (p) => tr(followers, 'room.followers', { n: p.followers }),
      () => {},
    );
  void loadFollowers();
  if (me && !isOwner) {
    api.following(me.id, { limit: 100 }).then(
      (page) => {
        following = page.items.some((u) => u.id === room.streamer.id);
        showFollow();
      },
      () => {},
    );
  }
  followBtn.addEventListener('click', () => {
    followBtn.disabled = true;
    (following ? api.unfollow(room.streamer.id) : api.follow(room.streamer.id)).then(
      () => {
        following = !following;
        showFollow();
        void loadFollowers();
        followBtn.disabled = false;
      },
      (e: unknown) => {
        toast(errorText(e), 'error');
        followBtn.disabled = false;
      },
    );
  });
  const bar = h(
    'div',
    { class: 'room-bar' },
    img(room.streamer.avatarUrl, room.streamer.nickname, 'avatar'),
    h('div', { class: 'lines' }, h('div', { class: 'row' }, badge, title), h('div', { class: 'row muted' }, h('span', { class: 'streamer', text: room.streamer.nickname }), followers, online)),
    followBtn,
  );

  // --- side panels
  const chat = createChatPanel({ send: me ? (text) => conn?.chat(text) : undefined });
  const lottery = createLotteryCard({ enter: (lotteryId) => conn?.enterLottery(lotteryId) });
  // the gift panel's catalog names the gift of a gift lottery
  const gifts = createGiftPanel(room.id, { isOwnRoom: isOwner, onCatalog: (items) => lottery.setGifts(items) });
  const fans = createTopFans();
  const description = room.description ? h('p', { class: 'description muted', text: room.description }) : null;

  root.append(
    h(
      'div',
      { class: 'room-page' },
      h('div', { class: 'stage' }, playerBox, bar, description, gifts.el),
      h('div', { class: 'side' }, lottery.el, chat.el, fans.el),
    ),
  );
  applyStatus(false);

  // --- the live room
  // banned: out of the room, so no status reaches this page any more; the player stops and says why
  const showBanned = () => {
    chat.notice(t('room.banned'));
    player.stop('offline');
    tr(overlay, 'room.banned');
    overlay.hidden = false;
  };
  const wire = (c: LiveRoomConnection) => {
    let ready = false;
    c.onChat((line) => {
      chat.add(line);
      if (ready) danmaku.add(line.text, line.userId === me?.id);
    });
    ready = true;
    c.onChatRemoved((line) => chat.remove(line.id));
    c.listen('online', (n) => tr(online, 'room.online', { n }));
    c.listen('title', (v) => (title.textContent = v));
    c.onChatModeChange((m) => chat.setMode(m));
    chat.setMode({ slowSec: c.state.chatMode.slowSec, followersOnly: c.state.chatMode.followersOnly });
    const onState = () => {
      const wentLive = c.state.status === 'live' && (status !== 'live' || (interrupted && !c.state.interrupted));
      if (c.state.status !== status || c.state.interrupted !== interrupted) {
        status = c.state.status as RoomInfo['status'];
        interrupted = c.state.interrupted;
        applyStatus(wentLive);
      }
      lottery.update(c.state);
      fans.render(c.state);
    };
    c.onStateChange(onState);
    onState();
    c.on('gift', (g) => fx.show(g));
    c.on('lottery:entered', (e) => lottery.entered(e.lotteryId));
    c.on('lottery:result', (r) => lottery.result(r));
    c.on('error', (e) => chat.notice(codeText(e.code, e.message)));
    c.on('system', (m) => chat.notice(m.text));
    c.on('mod:ok', () => {});
    c.onDrop(() => {
      chat.setStatus(t('player.reconnecting'));
      chat.setReady(false);
    });
    c.onReconnect(() => {
      chat.setStatus('');
      chat.setReady(true);
    });
    c.onLeave((code) => {
      if (closed) return;
      conn = undefined;
      chat.setReady(false);
      if (code === 4403) return showBanned();
      chat.setStatus(t('player.reconnecting'));
      rejoinTimer = window.setTimeout(join, 2000);
    });
  };
  const join = () => {
    api.joinRoom(room.id).then(
      (c) => {
        if (closed) return void c.leave();
        conn = c;
        chat.clear();
        chat.setStatus('');
        wire(c);
        chat.setReady(true);
      },
      (e: unknown) => {
        if (closed) return;
        if (e instanceof LiveroomError && e.code === 'banned') return showBanned();
        chat.setStatus(errorText(e));
        rejoinTimer = window.setTimeout(join, 3000);
      },
    );
  };
  join();
  const online$ = () => {
    if (!conn) join();
  };
  window.addEventListener('online', online$);

  return () => {
    closed = true;
    window.clearTimeout(rejoinTimer);
    window.removeEventListener('online', online$);
    player.destroy();
    fx.clear();
    lottery.close();
    void conn?.leave();
  };
}
