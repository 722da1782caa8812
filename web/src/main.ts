// Boots the page: header (navigation, language switch, account), the offline
// banner, and the routes.
import { h, img, replace } from './dom.ts';
import { currentLang, onLangChange, setLang, t, tr } from './i18n.ts';
import { createRouter, go } from './router.ts';
import { currentUser, logout, onUserChange, restoreSession } from './session.ts';
import { empty } from './states.ts';
import { toast } from './toast.ts';
import { homeView } from './views/home.ts';
import { roomView } from './views/room.ts';
import { loginView, registerView } from './views/auth.ts';
import { profileView } from './views/profile.ts';
import { consoleView } from './views/console.ts';

function header(top: HTMLElement): void {
  const account = h('nav', { class: 'account' });
  const renderAccount = () => {
    const u = currentUser();
    if (!u) {
      replace(account, tr(h('a', { class: 'link', attrs: { href: '#/login' } }), 'nav.login'), tr(h('a', { class: 'btn small', attrs: { href: '#/register' } }), 'nav.register'));
      return;
    }
    replace(
      account,
      h('a', { class: 'me', testid: 'me', attrs: { href: '#/profile' } }, img(u.avatarUrl, u.nickname, 'avatar small'), h('span', { text: u.nickname })),
      tr(
        h('button', {
          class: 'link',
          testid: 'logout',
          on: {
            click: () => {
              logout().then(
                () => go('/'),
                () => go('/'),
              );
            },
          },
        }),
        'nav.logout',
      ),
    );
  };
  onUserChange(renderAccount);
  renderAccount();
  const langButton = tr(
    h('button', { class: 'btn ghost small', testid: 'lang', on: { click: () => setLang(currentLang() === 'en' ? 'zh' : 'en') } }),
    'nav.lang',
  );
  const label = () => langButton.setAttribute('aria-label', t('nav.langLabel'));
  label();
  onLangChange(label);
  replace(
    top,
    h('a', { class: 'brand', attrs: { href: '#/' } }, h('span', { class: 'logo', text: '▶' }), tr(h('span'), 'app.name')),
    h('nav', { class: 'main-nav' }, tr(h('a', { attrs: { href: '#/' } }), 'nav.home'), tr(h('a', { testid: 'nav-console', attrs: { href: '#/console' } }), 'nav.console')),
    h('div', { class: 'spacer' }),
    langButton,
    account,
  );
}

function offlineBanner(): void {
  const banner = document.getElementById('offline-banner')!;
  tr(banner, 'state.offline');
  const update = () => (banner.hidden = navigator.onLine);
  window.addEventListener('offline', update);
  window.addEventListener('online', () => {
    update();
    toast(t('state.backOnline'));
  });
  update();
}

async function main(): Promise<void> {
  header(document.getElementById('top')!);
  offlineBanner();
  await restoreSession();
  const router = createRouter(document.getElementById('view')!, (root) => {
    root.append(empty('state.notFound'));
  });
  router
    .add('/', homeView)
    .add('/room/:id', roomView)
    .add('/login', loginView)
    .add('/register', registerView)
    .add('/profile', profileView)
    .add('/console', consoleView)
    .start();
  // views that depend on who is signed in are rebuilt when that changes
  let last = currentUser()?.id;
  onUserChange((u) => {
    if (u?.id === last) return;
    last = u?.id;
    if (!/^#\/(login|register)/.test(location.hash)) router.refresh();
  });
}

void main();
