// The gift panel: the catalog as buttons, a count, and the wallet balance,
// which drops as soon as the server confirms the payment. Each send carries a
// fresh Idempotency-Key, so a retried request is paid once.
import type { Gift } from '../../../src/client/index.ts';
import { h, replace } from '../dom.ts';
import { errorText } from '../errors.ts';
import { tr } from '../i18n.ts';
import { api, currentUser } from '../session.ts';
import { failed, loading } from '../states.ts';
import { toast } from '../toast.ts';

export function createGiftPanel(roomId: string, opts: { isOwnRoom: boolean; onCatalog?: (items: Gift[]) => void }) {
  const balance = h('span', { class: 'balance', testid: 'balance' });
  const count = h('select', { testid: 'gift-count', attrs: { 'aria-label': 'count' } }, ...[1, 10, 66, 188].map((n) => h('option', { text: String(n), attrs: { value: n } })));
  tr(count, 'gift.count', undefined, 'aria-label');
  const buttons = h('div', { class: 'gift-list' }, loading());
  const el = h('section', { class: 'card gifts', testid: 'gifts' }, h('header', { class: 'row' }, tr(h('h2'), 'gift.title'), balance), buttons);
  let coins: number | null = null;

  const showBalance = () => {
    if (coins === null) balance.textContent = '';
    else tr(balance, 'gift.balance', { n: coins });
    balance.dataset.value = coins === null ? '' : String(coins);
  };

  const send = async (gift: Gift, button: HTMLButtonElement) => {
    button.disabled = true;
    try {
      const reply = await api.sendGift(roomId, { giftId: gift.id, count: Number(count.value) }, crypto.randomUUID());
      coins = reply.balance;
      showBalance();
    } catch (e) {
      toast(errorText(e), 'error');
    } finally {
      button.disabled = false;
    }
  };

  const load = async () => {
    replace(buttons, loading());
    try {
      const [{ items }, wallet] = await Promise.all([api.gifts(), currentUser() ? api.wallet() : Promise.resolve(null)]);
      coins = wallet?.balance ?? null;
      showBalance();
      opts.onCatalog?.(items);
      const canSend = Boolean(currentUser()) && !opts.isOwnRoom;
      replace(
        buttons,
        ...items.map((g) => {
          const b = h(
            'button',
            { class: 'gift', testid: `gift-${g.id}`, attrs: { type: 'button', title: `${g.name} · ${g.price}`, disabled: !canSend } },
            h('span', { class: 'icon', text: g.icon }),
            h('span', { class: 'name', text: g.name }),
            h('span', { class: 'price', text: String(g.price) }),
          );
          b.addEventListener('click', () => void send(g, b));
          return b;
        }),
        canSend ? count : null,
        !currentUser() ? tr(h('a', { class: 'link', attrs: { href: `#/login?next=${encodeURIComponent(location.hash.slice(1))}` } }), 'gift.loginToGift') : null,
      );
    } catch (e) {
      replace(buttons, failed(e, () => void load()));
    }
  };
  void load();
  return { el };
}
