// Danmaku: chat lines flying right to left over the video, each on the lane
// that frees up first so lines do not overlap. Text goes in with textContent.
import { h } from '../dom.ts';

const LANE_PX = 30;
const SPEED_PX_PER_S = 140;
const MAX_ON_SCREEN = 60;

export interface Danmaku {
  add(text: string, mine?: boolean): void;
  setEnabled(on: boolean): void;
  readonly enabled: boolean;
}

export function createDanmaku(layer: HTMLElement): Danmaku {
  let enabled = true;
  /** When each lane's last line has fully entered the screen (ms, performance.now()). */
  const laneFreeAt: number[] = [];

  return {
    get enabled() {
      return enabled;
    },
    setEnabled(on) {
      enabled = on;
      layer.hidden = !on;
      if (!on) layer.replaceChildren();
    },
    add(text, mine = false) {
      if (!enabled || layer.childElementCount >= MAX_ON_SCREEN) return;
      const width = layer.clientWidth || 640;
      // the top ~70% of the picture: captions and the streamer's face stay readable
      const lanes = Math.max(1, Math.floor((layer.clientHeight * 0.7) / LANE_PX));
      const now = performance.now();
      let lane = 0;
      for (let i = 0; i < lanes; i++) {
        if ((laneFreeAt[i] ?? 0) <= now) {
          lane = i;
          break;
        }
        if ((laneFreeAt[i] ?? 0) < (laneFreeAt[lane] ?? 0)) lane = i;
      }
      const el = h('span', { class: mine ? 'dm mine' : 'dm', text });
      el.style.top = `${lane * LANE_PX + 6}px`;
      layer.append(el);
      const w = el.offsetWidth;
      const duration = ((width + w) / SPEED_PX_PER_S) * 1000;
      laneFreeAt[lane] = now + (w / SPEED_PX_PER_S) * 1000 + 300;
      const anim = el.animate([{ transform: `translateX(${width}px)` }, { transform: `translateX(${-w}px)` }], { duration, easing: 'linear' });
      anim.onfinish = () => el.remove();
      anim.oncancel = () => el.remove();
    },
  };
}
