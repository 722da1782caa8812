// The loading, empty and error states every view shows while it has nothing
// better: one look everywhere, and an error always offers a retry.
import { h } from './dom.ts';
import { errorText } from './errors.ts';
import { t, tr, type Key } from './i18n.ts';

export const loading = () => tr(h('div', { class: 'state loading', testid: 'loading', attrs: { role: 'status', 'aria-busy': 'true' } }), 'state.loading');

export const empty = (key: Key, params?: Record<string, string | number>) => tr(h('div', { class: 'state empty', testid: 'empty' }), key, params);

export function failed(e: unknown, retry?: () => void): HTMLElement {
  const box = h('div', { class: 'state error', testid: 'error', attrs: { role: 'alert' } }, h('p', { text: t('state.error', { message: errorText(e) }) }));
  if (retry) box.append(tr(h('button', { class: 'btn', on: { click: retry } }), 'state.retry'));
  return box;
}
