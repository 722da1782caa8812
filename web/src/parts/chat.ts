// The chat panel: the room's last lines (kept in step with the room state,
// deletions included) and the input. With `moderate`, each line from someone
// else gets delete / mute / ban buttons (the streamer's console).
import type { ChatLine } from '../../../src/client/index.ts';
import { h, replace } from '../dom.ts';
import { tr } from '../i18n.ts';
import { empty } from '../states.ts';

const MAX_LINES = 200;

export interface ChatPanelOptions {
  /** Sends a line; absent when the viewer may not chat (anonymous). */
  send?: (text: string) => void;
  moderate?: { selfId: string; remove(line: ChatLine): void; mute(line: ChatLine): void; ban(line: ChatLine): void };
  maxLength?: number;
}

export function createChatPanel(opts: ChatPanelOptions) {
  const list = h('ol', { class: 'chat-lines', testid: 'chat-lines', attrs: { 'aria-live': 'polite' } });
  const emptyState = empty('chat.empty');
  const mode = h('p', { class: 'chat-mode muted', testid: 'chat-mode' });
  const status = h('span', { class: 'chat-status muted' });
  const box = h('div', { class: 'chat-scroll' }, emptyState, list);
  const rows = new Map<string, HTMLElement>();

  const atBottom = () => box.scrollHeight - box.scrollTop - box.clientHeight < 40;

  let form: HTMLElement;
  const controls: (HTMLInputElement | HTMLButtonElement)[] = [];
  if (opts.send) {
    const input = h('input', {
      testid: 'chat-input',
      attrs: { name: 'chat', autocomplete: 'off', maxlength: opts.maxLength ?? 200, enterkeyhint: 'send' },
    });
    tr(input, 'chat.placeholder', undefined, 'placeholder');
    tr(input, 'chat.placeholder', undefined, 'aria-label');
    const sendBtn = tr(h('button', { class: 'btn primary', testid: 'chat-send', attrs: { type: 'submit' } }), 'chat.send');
    // disabled until the room connection is there: a line typed before would be lost
    input.disabled = sendBtn.disabled = true;
    controls.push(input, sendBtn);
    const f = h('form', { class: 'chat-form' }, input, sendBtn);
    f.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      opts.send!(text);
      input.value = '';
    });
    form = f;
  } else {
    form = h('p', { class: 'chat-form muted' }, tr(h('a', { class: 'link', attrs: { href: `#/login?next=${encodeURIComponent(location.hash.slice(1))}` } }), 'chat.loginToChat'));
  }

  const el = h('section', { class: 'card chat', testid: 'chat' }, h('header', { class: 'row' }, tr(h('h2'), 'chat.title'), status), mode, box, form);

  return {
    el,
    add(line: ChatLine) {
      if (rows.has(line.id)) return;
      const stick = atBottom();
      const row = h(
        'li',
        { class: 'chat-line', testid: 'chat-line', attrs: { 'data-id': line.id, 'data-user': line.userId } },
        h('span', { class: 'nick', text: line.nickname }),
        h('span', { class: 'text', testid: 'chat-text', text: line.text }),
      );
      const m = opts.moderate;
      if (m && line.userId !== m.selfId) {
        row.append(
          h(
            'span',
            { class: 'mod' },
            tr(h('button', { class: 'btn tiny', testid: 'mod-delete', on: { click: () => m.remove(line) } }), 'console.delete'),
            tr(h('button', { class: 'btn tiny', testid: 'mod-mute', on: { click: () => m.mute(line) } }), 'console.mute'),
            tr(h('button', { class: 'btn tiny danger', testid: 'mod-ban', on: { click: () => m.ban(line) } }), 'console.ban'),
          ),
        );
      }
      rows.set(line.id, row);
      list.append(row);
      while (list.childElementCount > MAX_LINES) {
        const first = list.firstElementChild as HTMLElement;
        rows.delete(first.dataset.id ?? '');
        first.remove();
      }
      emptyState.hidden = true;
      if (stick) box.scrollTop = box.scrollHeight;
    },
    remove(id: string) {
      rows.get(id)?.remove();
      rows.delete(id);
      emptyState.hidden = rows.size > 0;
    },
    setMode(m: { slowSec: number; followersOnly: boolean }) {
      // translated spans, so a language switch rewrites them too
      const parts: HTMLElement[] = [];
      if (m.slowSec > 0) parts.push(tr(h('span'), 'chat.slow', { n: m.slowSec }));
      if (m.followersOnly) parts.push(tr(h('span'), 'chat.followersOnly'));
      replace(mode, ...parts.flatMap((p, i) => (i > 0 ? [' · ', p] : [p])));
      mode.hidden = parts.length === 0;
    },
    /** Whether the room connection is up (the input works only then). */
    setReady(ready: boolean) {
      for (const c of controls) c.disabled = !ready;
    },
    /** A connection note in the header (reconnecting…), or nothing. */
    setStatus(text: string) {
      status.textContent = text;
    },
    /** A refusal or system line, shown in the list (not a chat line). */
    notice(text: string) {
      const stick = atBottom();
      list.append(h('li', { class: 'chat-notice', testid: 'chat-notice', text }));
      if (stick) box.scrollTop = box.scrollHeight;
    },
    clear() {
      replace(list);
      rows.clear();
      emptyState.hidden = false;
    },
  };
}
