// Log-in and sign-up forms. After either, the user goes back to where they
// came from (?next=...) or home.
import { h } from '../dom.ts';
import { errorText } from '../errors.ts';
import { tr, type Key } from '../i18n.ts';
import type { View } from '../router.ts';
import { go } from '../router.ts';
import { login, register } from '../session.ts';

function field(label: Key, input: HTMLInputElement): HTMLElement {
  return h('label', { class: 'field' }, tr(h('span'), label), input);
}

/** Where to go after signing in: `#/login?next=/console`. */
const nextPath = () => {
  const q = location.hash.split('?')[1] ?? '';
  const next = new URLSearchParams(q).get('next');
  return next && next.startsWith('/') ? next : '/';
};

function authForm(root: HTMLElement, mode: 'login' | 'register'): void {
  const username = h('input', { testid: 'username', attrs: { name: 'username', autocomplete: 'username', required: true, minlength: 3, maxlength: 32 } });
  const password = h('input', {
    testid: 'password',
    attrs: { name: 'password', type: 'password', autocomplete: mode === 'login' ? 'current-password' : 'new-password', required: true },
  });
  const nickname = h('input', { testid: 'nickname', attrs: { name: 'nickname', autocomplete: 'nickname', maxlength: 32 } });
  const error = h('p', { class: 'form-error', testid: 'form-error', attrs: { role: 'alert' } });
  const submit = tr(h('button', { class: 'btn primary', testid: 'submit', attrs: { type: 'submit' } }), mode === 'login' ? 'auth.submitLogin' : 'auth.submitRegister');
  const form = h(
    'form',
    { class: 'card auth', attrs: { novalidate: false } },
    tr(h('h1'), mode === 'login' ? 'auth.login' : 'auth.register'),
    field('auth.username', username),
    field('auth.password', password),
    mode === 'register' ? field('auth.nickname', nickname) : null,
    error,
    submit,
    tr(h('a', { class: 'link', attrs: { href: mode === 'login' ? '#/register' : '#/login' } }), mode === 'login' ? 'auth.noAccount' : 'auth.haveAccount'),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    error.textContent = '';
    const done = mode === 'login' ? login(username.value.trim(), password.value) : register(username.value.trim(), password.value, nickname.value.trim() || undefined);
    done.then(
      () => go(nextPath()),
      (e: unknown) => {
        error.textContent = errorText(e);
        submit.disabled = false;
      },
    );
  });
  root.append(form);
  username.focus();
}

export const loginView: View = (root) => authForm(root, 'login');
export const registerView: View = (root) => authForm(root, 'register');
