// Gift animations over the video: a banner per sender and gift that grows into
// a combo ("Combo ×3") while the same gift keeps coming, and a big icon burst
// for expensive gifts.
import type { GiftBroadcast } from '../../../src/client/index.ts';
import { h } from '../dom.ts';
import { tr } from '../i18n.ts';

const SHOW_MS = 4000;
const BIG_GIFT_COINS = 500;
const MAX_BANNERS = 4;

export function createGiftFx(layer: HTMLElement) {
  const banners = new Map<string, { el: HTMLElement; combo: HTMLElement; text: HTMLElement; timer: number }>();

  const bump = (el: HTMLElement) => el.animate([{ transform: 'scale(1.35)' }, { transform: 'scale(1)' }], { duration: 300, easing: 'ease-out' });

  return {
    show(g: GiftBroadcast) {
      const key = `${g.userId}:${g.giftId}`;
      let b = banners.get(key);
      if (!b) {
        while (banners.size >= MAX_BANNERS) {
          const [oldest, ob] = banners.entries().next().value!;
          window.clearTimeout(ob.timer);
          ob.el.remove();
          banners.delete(oldest);
        }
        const text = h('span', { class: 'fx-text' });
        const combo = h('span', { class: 'fx-combo', testid: 'gift-combo' });
        const el = h('div', { class: 'gift-fx', testid: 'gift-fx' }, h('span', { class: 'fx-icon', text: g.icon }), text, combo);
        layer.append(el);
        el.animate([{ transform: 'translateX(-110%)', opacity: 0 }, { transform: 'translateX(0)', opacity: 1 }], { duration: 350, easing: 'ease-out' });
        b = { el, combo, text, timer: 0 };
        banners.set(key, b);
      }
      tr(b.text, 'gift.sent', { name: g.nickname, gift: g.giftName, count: g.comboCount });
      if (g.combo > 1) {
        tr(b.combo, 'gift.combo', { n: g.combo });
        bump(b.combo);
      }
      window.clearTimeout(b.timer);
      const entry = b;
      b.timer = window.setTimeout(() => {
        entry.el.animate([{ opacity: 1 }, { opacity: 0 }], { duration: 300 }).onfinish = () => entry.el.remove();
        banners.delete(key);
      }, SHOW_MS);
      if (g.amount >= BIG_GIFT_COINS) {
        const burst = h('div', { class: 'gift-burst', text: g.icon });
        layer.append(burst);
        burst.animate(
          [
            { transform: 'translate(-50%, -50%) scale(0.2)', opacity: 0 },
            { transform: 'translate(-50%, -50%) scale(1.2)', opacity: 1, offset: 0.3 },
            { transform: 'translate(-50%, -50%) scale(1)', opacity: 0 },
          ],
          { duration: 2000, easing: 'ease-out' },
        ).onfinish = () => burst.remove();
      }
    },
    clear() {
      for (const b of banners.values()) window.clearTimeout(b.timer);
      banners.clear();
      layer.replaceChildren();
    },
  };
}
