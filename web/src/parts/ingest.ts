// The streaming-software panel: RTMP server and stream key with copy buttons,
// OBS and ffmpeg instructions, and key rotation. The server hands out the key
// only at creation and rotation, so it is shown only right after those.
import type { Ingest } from '../../../src/client/index.ts';
import { h, replace } from '../dom.ts';
import { errorText } from '../errors.ts';
import { t, tr, type Key } from '../i18n.ts';
import { api } from '../session.ts';
import { toast } from '../toast.ts';

async function copy(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // no clipboard API (http page, or denied): fall back to a selected textarea
    const area = h('textarea', { class: 'offscreen' });
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand('copy');
    area.remove();
  }
  toast(t('console.copied'));
}

function copyRow(label: Key, value: string, testid: string, secret = false): HTMLElement {
  const field = h('code', { class: secret ? 'value secret' : 'value', testid, text: value });
  return h(
    'div',
    { class: 'copy-row' },
    tr(h('span', { class: 'label' }), label),
    field,
    tr(h('button', { class: 'btn small', testid: `copy-${testid}`, attrs: { type: 'button' }, on: { click: () => void copy(value) } }), 'console.copy'),
  );
}

export function createIngestPanel(roomId: string, initial: Ingest | null) {
  const body = h('div', { class: 'ingest-body' });
  const el = h('section', { class: 'card ingest', testid: 'ingest' }, tr(h('h2'), 'console.ingest'), body);

  const render = (ingest: Ingest | null) => {
    const rows: HTMLElement[] = [];
    if (ingest) {
      rows.push(
        copyRow('console.server', ingest.server, 'rtmp-server'),
        copyRow('console.key', ingest.streamKey, 'stream-key', true),
        copyRow('console.fullUrl', ingest.rtmpUrl, 'rtmp-url', true),
        tr(h('p', { class: 'notice' }), 'console.keyOnce'),
      );
    } else {
      if (server) rows.push(copyRow('console.server', server, 'rtmp-server'));
      rows.push(tr(h('p', { class: 'muted', testid: 'key-hidden' }), 'console.keyHidden'));
    }
    const url = ingest?.rtmpUrl ?? `${server ?? 'rtmp://<server>/live'}/<stream key>`;
    rows.push(
      tr(h('p', { class: 'how' }), 'console.obs'),
      h('div', { class: 'how' }, tr(h('span'), 'console.ffmpeg'), h('pre', { class: 'cmd', text: `ffmpeg -re -i input.mp4 -c:v libx264 -preset veryfast -tune zerolatency -g 50 -c:a aac -f flv "${url}"` })),
    );
    const rotate = tr(h('button', { class: 'btn danger', testid: 'rotate-key', attrs: { type: 'button' } }), 'console.rotate');
    rotate.addEventListener('click', () => {
      if (!confirm(t('console.rotateConfirm'))) return;
      rotate.disabled = true;
      api.rotateStreamKey(roomId).then(
        ({ ingest: next }) => {
          toast(t('console.rotated'));
          render(next);
        },
        (e: unknown) => {
          toast(errorText(e), 'error');
          rotate.disabled = false;
        },
      );
    });
    rows.push(rotate);
    replace(body, ...rows);
  };
  // the key is not shown again, but the server is: a console opened later still tells OBS where to push
  let server: string | null = null;
  render(initial);
  if (!initial)
    api.ingestServer(roomId).then(
      ({ ingest }) => {
        server = ingest.server;
        if (body.querySelector('[data-testid="key-hidden"]')) render(null);
      },
      () => {}, // the rows without the server still explain what to do
    );
  return { el };
}
