// The streaming-software panel: RTMP server and stream key with copy buttons,
// OBS and ffmpeg instructions, and key rotation. The server hands out the key
// only at creation and rotation, so it is shown only right after those.
import type { Ingest } from '../../../src/client/index.ts';
import { h, replace } from '../dom.ts';
import { errorText } from '../errors.ts';
import { t, tr, type Key } from '../i18n.ts';
import { api } from '../session.ts';
import { toast } from '../toast.ts';
import { publishWhip, type WhipPublish } from '../whip.ts';

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

/** Going live from this browser: camera + microphone over WHIP, with a local preview. */
function browserPublisher(whipUrl: () => string | null, knownKey: () => string | null): { el: HTMLElement; stop(): void } {
  let session: WhipPublish | null = null;
  const keyInput = h('input', { testid: 'whip-key', attrs: { type: 'password', autocomplete: 'off', spellcheck: 'false' } });
  const preview = h('video', { class: 'whip-preview', testid: 'whip-preview', attrs: { muted: true, autoplay: true, playsinline: true, hidden: true } });
  preview.muted = true;
  const button = tr(h('button', { class: 'btn primary', testid: 'whip-start', attrs: { type: 'button' } }), 'console.whipStart');
  const state = h('span', { class: 'muted', testid: 'whip-state' });
  const set = (live: boolean) => {
    tr(button, live ? 'console.whipStop' : 'console.whipStart');
    button.dataset.testid = live ? 'whip-stop' : 'whip-start';
    tr(state, live ? 'console.whipLive' : 'console.whipIdle');
    preview.hidden = !live;
    if (!live) preview.srcObject = null;
  };
  const stop = () => {
    const s = session;
    session = null;
    set(false);
    void s?.stop();
  };
  button.addEventListener('click', () => {
    if (session) return stop();
    const url = whipUrl();
    const key = keyInput.value.trim() || knownKey();
    if (!url) return toast(t('console.whipOff'), 'error');
    if (!key) return toast(t('console.whipNeedKey'), 'error');
    button.disabled = true;
    navigator.mediaDevices
      .getUserMedia({ video: { width: { ideal: 1280 }, height: { ideal: 720 } }, audio: true })
      .then(async (stream) => {
        preview.srcObject = stream;
        const s = await publishWhip(url, key, stream);
        session = s;
        s.onEnded(() => {
          if (session === s) {
            session = null;
            set(false);
            toast(t('console.whipEnded'));
          }
        });
        set(true);
      })
      .catch((e: unknown) => {
        preview.srcObject = null;
        const code = (e as Error).name === 'NotAllowedError' ? 'camera_denied' : 'other';
        toast(code === 'camera_denied' ? t('console.whipCamera') : errorText(e), 'error');
      })
      .finally(() => (button.disabled = false));
  });
  set(false);
  const el = h(
    'div',
    { class: 'whip', testid: 'whip' },
    tr(h('h3'), 'console.whip'),
    tr(h('p', { class: 'how' }), 'console.whipHow'),
    h('label', { class: 'field' }, tr(h('span'), 'console.whipKey'), keyInput),
    h('div', { class: 'row' }, button, state),
    preview,
  );
  return { el, stop };
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
          key = next.streamKey;
          whipUrl = next.whipUrl;
          render(next);
        },
        (e: unknown) => {
          toast(errorText(e), 'error');
          rotate.disabled = false;
        },
      );
    });
    rows.push(rotate, publisher.el);
    replace(body, ...rows);
  };
  // the key is not shown again, but the server is: a console opened later still tells OBS where to push
  let server: string | null = null;
  let whipUrl: string | null = initial?.whipUrl ?? null;
  let key: string | null = initial?.streamKey ?? null;
  const publisher = browserPublisher(() => whipUrl, () => key);
  render(initial);
  if (!initial)
    api.ingestServer(roomId).then(
      ({ ingest }) => {
        server = ingest.server;
        whipUrl = ingest.whipUrl;
        if (body.querySelector('[data-testid="key-hidden"]')) render(null);
      },
      () => {}, // the rows without the server still explain what to do
    );
  return { el, stop: publisher.stop };
}
