// Building DOM without HTML strings: every piece of text goes in through
// textContent (or a text node), so user data can never become markup.
export type Child = Node | string | number | null | undefined | false;

export interface Props {
  class?: string;
  /** Plain text content (never parsed as HTML). */
  text?: string;
  /** data-testid, for the browser tests. */
  testid?: string;
  /** Event listeners: `on: { click: fn }`. */
  on?: Partial<{ [K in keyof HTMLElementEventMap]: (ev: HTMLElementEventMap[K]) => void }>;
  /** Other attributes (set with setAttribute; `false`/`undefined` leaves them out). */
  attrs?: Record<string, string | number | boolean | undefined>;
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props.class) el.className = props.class;
  if (props.testid) el.dataset.testid = props.testid;
  if (props.attrs) {
    for (const [k, v] of Object.entries(props.attrs)) {
      if (v === undefined || v === false) continue;
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  if (props.on) {
    for (const [type, fn] of Object.entries(props.on)) el.addEventListener(type, fn as EventListener);
  }
  if (props.text !== undefined) el.textContent = props.text;
  append(el, ...children);
  return el;
}

export function append(el: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

/** Replaces an element's children. */
export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, ...children);
}

/** An <img> that hides itself when the image cannot load (a missing preview or avatar). */
export function img(src: string | null | undefined, alt: string, cls: string): HTMLElement {
  if (!src) return h('div', { class: `${cls} placeholder`, attrs: { role: 'img', 'aria-label': alt } });
  const i = h('img', { class: cls, attrs: { src, alt, loading: 'lazy', decoding: 'async' } });
  i.addEventListener('error', () => i.replaceWith(h('div', { class: `${cls} placeholder`, attrs: { role: 'img', 'aria-label': alt } })), { once: true });
  return i;
}

export const formatNumber = (n: number) => new Intl.NumberFormat().format(n);
