// Hash routes (#/room/<id>): deep links work whatever serves the page. A view
// renders into the main element and returns its clean-up (leave rooms, stop
// players and timers), run before the next view.
export type Cleanup = () => void;
export type View = (root: HTMLElement, params: Record<string, string>) => Cleanup | void;

interface Route {
  pattern: RegExp;
  names: string[];
  view: View;
}

export function createRouter(root: HTMLElement, notFound: View) {
  const routes: Route[] = [];
  let cleanup: Cleanup | void;

  const render = () => {
    const path = location.hash.replace(/^#/, '').split('?')[0] || '/';
    cleanup?.();
    cleanup = undefined;
    root.replaceChildren();
    window.scrollTo(0, 0);
    for (const r of routes) {
      const m = r.pattern.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      r.names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1] ?? '')));
      cleanup = r.view(root, params);
      return;
    }
    cleanup = notFound(root, {});
  };

  return {
    /** `/room/:id` style paths. */
    add(path: string, view: View) {
      const names: string[] = [];
      const pattern = new RegExp(`^${path.replace(/:(\w+)/g, (_m, n: string) => (names.push(n), '([^/]+)'))}/?$`);
      routes.push({ pattern, names, view });
      return this;
    },
    start() {
      window.addEventListener('hashchange', render);
      render();
    },
    /** Re-renders the current view (after logging in or out). */
    refresh: render,
  };
}

export const go = (path: string) => {
  if (location.hash === `#${path}`) return;
  location.hash = path;
};
