// Short notices at the bottom of the screen (saved, copied, refused).
import { h } from './dom.ts';

export function toast(text: string, kind: 'info' | 'error' = 'info'): void {
  const box = document.getElementById('toasts');
  if (!box) return;
  const el = h('div', { class: `toast ${kind}`, text, attrs: { role: kind === 'error' ? 'alert' : 'status' } });
  box.append(el);
  window.setTimeout(() => el.remove(), kind === 'error' ? 6000 : 3000);
}
