// The streamer's console: create or edit the room (cover upload), the ingest
// details, live status with viewer counts, ending the broadcast, chat
// moderation, lotteries and earnings. The streamer joins their own live room
// as its moderator, so everything here is live.
import { LiveroomError, type Gift, type Ingest, type LiveRoomConnection, type LiveSession, type LotteryInput, type RoomInfo } from '../../../src/client/index.ts';
import { h, img, replace, formatNumber } from '../dom.ts';
import { codeText, errorText } from '../errors.ts';
import { onLangChange, t, tr, type Key } from '../i18n.ts';
import { createChatPanel } from '../parts/chat.ts';
import { createIngestPanel } from '../parts/ingest.ts';
import { createLotteryCard } from '../parts/lottery-card.ts';
import { uploadImage } from '../parts/upload.ts';
import type { View } from '../router.ts';
import { api, currentUser } from '../session.ts';
import { failed, loading } from '../states.ts';
import { toast } from '../toast.ts';

const POLL_MS = 5000;

export const consoleView: View = (root) => {
  const me = currentUser();
  if (!me) {
    root.append(
      h('div', { class: 'card narrow' }, tr(h('p'), 'console.needLogin'), tr(h('a', { class: 'btn primary', attrs: { href: '#/login?next=/console' } }), 'nav.login')),
    );
    return;
  }
  let closed = false;
  let cleanup: (() => void) | undefined;
  const start = () => {
    replace(root, loading());
    api
      .getUser(me.id)
      .then(async (profile) => {
        if (closed) return;
        if (!profile.roomId) return showCreate();
        const { room } = await api.getRoom(profile.roomId);
        if (closed) return;
        root.replaceChildren();
        cleanup = mountConsole(root, room, null);
      })
      .catch((e: unknown) => !closed && replace(root, failed(e, start)));
  };
  const showCreate = () => {
    root.replaceChildren(
      roomForm(null, (room, ingest) => {
        root.replaceChildren();
        cleanup = mountConsole(root, room, ingest);
      }),
    );
  };
  start();
  return () => {
    closed = true;
    cleanup?.();
  };
};

function field(label: Key, input: HTMLElement): HTMLElement {
  return h('label', { class: 'field' }, tr(h('span'), label), input);
}

/** Create (room = null) or edit a room; calls back with the created/saved room. */
function roomForm(room: RoomInfo | null, done: (room: RoomInfo, ingest: Ingest | null) => void): HTMLElement {
  const title = h('input', { testid: 'room-title-input', attrs: { name: 'title', required: true, maxlength: 80 } });
  title.value = room?.title ?? '';
  const description = h('textarea', { testid: 'room-description', attrs: { name: 'description', rows: 3, maxlength: 4000 } });
  description.value = room?.description ?? '';
  const record = h('input', { testid: 'room-record', attrs: { type: 'checkbox', name: 'record' } });
  record.checked = room?.record ?? false;
  const cover = h('input', { testid: 'cover-input', attrs: { type: 'file', accept: 'image/png,image/jpeg,image/webp,image/gif' } });
  let coverUrl: string | null | undefined = undefined;
  const preview = h('div', { class: 'cover-preview' }, img(room?.coverUrl, '', 'cover'));
  cover.addEventListener('change', () => {
    const f = cover.files?.[0];
    if (!f) return;
    replace(preview, loading());
    uploadImage(f, 'cover').then(
      (file) => {
        coverUrl = file.url;
        replace(preview, img(file.url, '', 'cover'));
      },
      (e: unknown) => {
        replace(preview, img(room?.coverUrl, '', 'cover'));
        toast(errorText(e), 'error');
      },
    );
  });
  const error = h('p', { class: 'form-error', attrs: { role: 'alert' } });
  const submit = tr(h('button', { class: 'btn primary', testid: 'room-submit', attrs: { type: 'submit' } }), room ? 'console.save' : 'console.createSubmit');
  const form = h(
    'form',
    { class: 'card room-form', testid: room ? 'room-edit' : 'room-create' },
    tr(h('h2'), room ? 'console.edit' : 'console.create'),
    field('console.roomTitle', title),
    field('console.description', description),
    field('console.cover', h('div', { class: 'cover-field' }, preview, cover)),
    h('label', { class: 'check' }, record, tr(h('span'), 'console.record')),
    error,
    submit,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    error.textContent = '';
    const body = { title: title.value.trim(), description: description.value, record: record.checked, ...(coverUrl !== undefined ? { coverUrl } : {}) };
    const call = room ? api.updateRoom(room.id, body).then((r) => ({ room: r.room, ingest: null })) : api.createRoom(body);
    call.then(
      (r) => {
        submit.disabled = false;
        if (room) toast(t('console.saved'));
        done(r.room, r.ingest);
      },
      (e: unknown) => {
        submit.disabled = false;
        error.textContent = errorText(e);
      },
    );
  });
  return form;
}


function mountConsole(root: HTMLElement, initial: RoomInfo, ingest: Ingest | null): () => void {
  const ingestPanel = createIngestPanel(initial.id, ingest);
  let room = initial;
  let conn: LiveRoomConnection | undefined;
  let closed = false;
  const timers: number[] = [];
  const me = currentUser()!;

  // --- status header
  const badge = h('span', { class: 'badge', testid: 'console-status' });
  const viewers = h('span', { class: 'muted', testid: 'console-viewers' });
  const endBtn = tr(h('button', { class: 'btn danger', testid: 'end-broadcast', attrs: { type: 'button' } }), 'console.end');
  const showStatus = (status: string, interrupted: boolean, online: number, players: number) => {
    const s = (status === 'live' && interrupted ? 'interrupted' : status) as RoomInfo['status'] | 'interrupted';
    badge.className = `badge ${s}`;
    badge.dataset.status = status;
    tr(badge, `room.status.${s}`);
    tr(viewers, 'console.viewers', { n: players, m: online });
    endBtn.hidden = status !== 'live';
  };
  let online = room.online;
  showStatus(room.status, room.interrupted, room.online, room.viewers);
  endBtn.addEventListener('click', () => {
    if (!confirm(t('console.endConfirm'))) return;
    api.endBroadcast(room.id).then(
      () => toast(t('console.ended')),
      (e: unknown) => toast(errorText(e), 'error'),
    );
  });
  const head = h(
    'section',
    { class: 'card console-head' },
    h('div', { class: 'row' }, tr(h('h1'), 'console.title'), badge, viewers),
    h('div', { class: 'row' }, tr(h('a', { class: 'btn', testid: 'view-room', attrs: { href: `#/room/${encodeURIComponent(room.id)}` } }), 'console.viewRoom'), endBtn),
  );

  // --- earnings and sessions
  const earnings = h('p', { class: 'big', testid: 'earnings' });
  const sessionList = h('ul', { class: 'sessions' });
  const loadEarnings = () =>
    api.wallet().then(
      (w) => tr(earnings, 'console.earningsValue', { n: formatNumber(w.earnings) }),
      () => {},
    );
  let sessions: LiveSession[] = [];
  const renderSessions = () => {
    if (sessions.length === 0) return replace(sessionList, tr(h('li', { class: 'muted' }), 'console.noSessions'));
    replace(
      sessionList,
      ...sessions.map((s) =>
        h('li', {
          text: t('console.session', { start: new Date(s.startedAt).toLocaleString(), peak: s.peakOnline, reason: t(s.endedAt ? `reason.${s.endReason ?? 'streamer_stopped'}` : 'reason.live') }),
        }),
      ),
    );
  };
  const offLang = onLangChange(renderSessions);
  const loadSessions = () =>
    api.roomSessions(room.id, { limit: 5 }).then(
      (p) => {
        sessions = p.items;
        renderSessions();
      },
      () => {},
    );
  void loadEarnings();
  void loadSessions();
  const money = h('section', { class: 'card earnings-card' }, tr(h('h2'), 'console.earnings'), earnings, tr(h('h3'), 'console.sessions'), sessionList);

  // --- moderation
  const chat = createChatPanel({
    send: (text) => conn?.chat(text),
    moderate: {
      selfId: me.id,
      remove: (line) => conn?.deleteMessage(line.id),
      mute: (line) => conn?.mute(line.userId, 600),
      ban: (line) => {
        if (confirm(t('console.banConfirm', { name: line.nickname }))) conn?.ban(line.userId);
      },
    },
  });
  const slow = h('input', { testid: 'slow-seconds', attrs: { type: 'number', min: 0, max: 3600, value: 0, inputmode: 'numeric' } });
  const followersOnly = h('input', { testid: 'followers-only', attrs: { type: 'checkbox' } });
  const slowForm = h('form', { class: 'row' }, field('console.slow', slow), tr(h('button', { class: 'btn small', testid: 'slow-apply', attrs: { type: 'submit' } }), 'console.apply'));
  slowForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    conn?.setSlowMode(Math.max(0, Math.floor(Number(slow.value) || 0)));
  });
  followersOnly.addEventListener('change', () => conn?.setFollowersOnly(followersOnly.checked));
  const slowApply = slowForm.querySelector('button')!;
  // moderation goes over the room connection: usable only while it is up
  const setReady = (ready: boolean) => {
    slow.disabled = slowApply.disabled = followersOnly.disabled = !ready;
    chat.setReady(ready);
  };
  setReady(false);
  const moderation = h(
    'section',
    { class: 'card moderation', testid: 'moderation' },
    tr(h('h2'), 'console.moderation'),
    slowForm,
    h('label', { class: 'check' }, followersOnly, tr(h('span'), 'console.followersOnly')),
  );

  // --- lottery
  const lotteryCard = createLotteryCard({});
  const lotteryForm = createLotteryForm(room.id, (items) => lotteryCard.setGifts(items));

  root.append(
    h(
      'div',
      { class: 'console' },
      head,
      h(
        'div',
        { class: 'console-grid' },
        h('div', { class: 'col' }, ingestPanel.el, roomForm(room, (r) => (room = r)), money),
        h('div', { class: 'col' }, moderation, chat.el, lotteryCard.el, lotteryForm),
      ),
    ),
  );

  // --- live room
  const join = () => {
    api.joinRoom(room.id).then(
      (c) => {
        if (closed) return void c.leave();
        conn = c;
        chat.clear();
        setReady(true);
        c.onDrop(() => setReady(false));
        c.onReconnect(() => setReady(true));
        c.onChat((line) => chat.add(line));
        c.onChatRemoved((line) => chat.remove(line.id));
        c.onChatModeChange((m) => {
          chat.setMode(m);
          slow.value = String(m.slowSec);
          followersOnly.checked = m.followersOnly;
        });
        chat.setMode({ slowSec: c.state.chatMode.slowSec, followersOnly: c.state.chatMode.followersOnly });
        slow.value = String(c.state.chatMode.slowSec);
        followersOnly.checked = c.state.chatMode.followersOnly;
        let lastStatus = c.state.status;
        c.onStateChange((s) => {
          online = s.online;
          showStatus(s.status, s.interrupted, s.online, room.viewers);
          lotteryCard.update(s);
          if (s.status !== lastStatus) {
            lastStatus = s.status;
            void loadSessions();
          }
        });
        showStatus(c.state.status, c.state.interrupted, c.state.online, room.viewers);
        lotteryCard.update(c.state);
        c.on('gift', () => void loadEarnings());
        c.on('lottery:result', (r) => lotteryCard.result(r));
        c.on('error', (e) => toast(codeText(e.code, e.message), 'error'));
        c.on('mod:ok', (m) => toast(t('console.modOk', { action: m.action })));
        c.onLeave(() => {
          conn = undefined;
          setReady(false);
          if (!closed) timers.push(window.setTimeout(join, 2000));
        });
      },
      (e: unknown) => {
        if (closed) return;
        chat.setStatus(errorText(e));
        timers.push(window.setTimeout(join, 3000));
      },
    );
  };
  join();

  // players (FLV/HLS) are counted by the media node and reach the room listing, not the room state
  const poll = () => {
    api.getRoom(room.id).then(
      ({ room: r }) => {
        room = { ...room, viewers: r.viewers, status: r.status, interrupted: r.interrupted };
        showStatus(conn?.state.status ?? r.status, conn?.state.interrupted ?? r.interrupted, conn?.state.online ?? online, r.viewers);
      },
      () => {},
    );
    if (!closed) timers.push(window.setTimeout(poll, POLL_MS));
  };
  timers.push(window.setTimeout(poll, POLL_MS));

  return () => {
    closed = true;
    for (const id of timers) window.clearTimeout(id);
    offLang();
    lotteryCard.close();
    ingestPanel.stop(); // leaving the console ends a broadcast from this browser
    void conn?.leave();
  };
}

function createLotteryForm(roomId: string, onGifts: (items: Gift[]) => void): HTMLElement {
  const prize = h('input', { testid: 'lottery-prize-input', attrs: { required: true, maxlength: 100 } });
  const winners = h('input', { testid: 'lottery-winners-input', attrs: { type: 'number', min: 1, max: 100, value: 1, required: true } });
  const method = h(
    'select',
    { testid: 'lottery-method' },
    ...(['click', 'danmaku', 'gift'] as const).map((m) => tr(h('option', { attrs: { value: m } }), `console.method.${m}`)),
  );
  const keyword = h('input', { testid: 'lottery-keyword', attrs: { maxlength: 32 } });
  const gift = h('select', { testid: 'lottery-gift' });
  api.gifts().then(
    ({ items }) => {
      gift.replaceChildren(...items.map((g) => h('option', { text: `${g.icon} ${g.name}`, attrs: { value: g.id } })));
      onGifts(items);
    },
    () => {},
  );
  const duration = h('input', { testid: 'lottery-duration', attrs: { type: 'number', min: 5, max: 86400, value: 60, required: true } });
  const followersOnly = h('input', { testid: 'lottery-followers', attrs: { type: 'checkbox' } });
  const keywordField = field('console.keyword', keyword);
  const giftField = field('console.gift', gift);
  const showMethod = () => {
    keywordField.hidden = method.value !== 'danmaku';
    giftField.hidden = method.value !== 'gift';
  };
  method.addEventListener('change', showMethod);
  showMethod();
  const error = h('p', { class: 'form-error', attrs: { role: 'alert' } });
  const submit = tr(h('button', { class: 'btn primary', testid: 'lottery-start', attrs: { type: 'submit' } }), 'console.startLottery');
  const form = h(
    'form',
    { class: 'card lottery-form', testid: 'lottery-form' },
    tr(h('h2'), 'console.lottery'),
    field('console.prize', prize),
    h('div', { class: 'row' }, field('console.winners', winners), field('console.duration', duration)),
    field('console.method', method),
    keywordField,
    giftField,
    h('label', { class: 'check' }, followersOnly, tr(h('span'), 'console.lotteryFollowers')),
    error,
    submit,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    error.textContent = '';
    const m = method.value as LotteryInput['method'];
    const input: LotteryInput = {
      prize: prize.value.trim(),
      winners: Number(winners.value),
      method: m,
      durationSec: Number(duration.value),
      followersOnly: followersOnly.checked,
      ...(m === 'danmaku' ? { keyword: keyword.value.trim() } : {}),
      ...(m === 'gift' ? { giftId: gift.value } : {}),
    };
    submit.disabled = true;
    api.createLottery(roomId, input).then(
      () => {
        submit.disabled = false;
        toast(t('console.lotteryStarted'));
      },
      (e: unknown) => {
        submit.disabled = false;
        error.textContent = e instanceof LiveroomError ? codeText(e.code, e.message) : errorText(e);
      },
    );
  });
  return form;
}
