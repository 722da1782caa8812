// The signed-in user's profile: avatar upload, nickname, follower counts and
// coins, and a way to their room.
import { h, img, replace, formatNumber } from '../dom.ts';
import { errorText } from '../errors.ts';
import { t, tr, type Key } from '../i18n.ts';
import { uploadImage } from '../parts/upload.ts';
import type { View } from '../router.ts';
import { api, currentUser, updateUser } from '../session.ts';
import { failed, loading } from '../states.ts';
import { toast } from '../toast.ts';

const stat = (label: Key, value: number, testid: string) => h('div', { class: 'stat', testid }, h('strong', { text: formatNumber(value) }), tr(h('span', { class: 'muted' }), label));

export const profileView: View = (root) => {
  const me = currentUser();
  if (!me) {
    root.append(h('div', { class: 'card narrow' }, tr(h('p'), 'state.needLogin'), tr(h('a', { class: 'btn primary', attrs: { href: '#/login?next=/profile' } }), 'nav.login')));
    return;
  }
  let closed = false;
  const load = () => {
    replace(root, loading());
    Promise.all([api.getUser(me.id), api.wallet()]).then(
      ([profile, wallet]) => {
        if (closed) return;
        const avatar = h('div', { class: 'avatar-box', testid: 'avatar' }, img(profile.avatarUrl, profile.nickname, 'avatar large'));
        const file = h('input', { testid: 'avatar-input', attrs: { type: 'file', accept: 'image/png,image/jpeg,image/webp,image/gif' } });
        tr(file, 'profile.upload', undefined, 'aria-label');
        file.addEventListener('change', () => {
          const f = file.files?.[0];
          if (!f) return;
          replace(avatar, loading());
          uploadImage(f, 'avatar')
            .then(async (uploaded) => {
              const { user } = await api.me();
              updateUser(user);
              replace(avatar, img(user.avatarUrl ?? uploaded.url, user.nickname, 'avatar large'));
              toast(t('profile.uploaded'));
            })
            .catch((e: unknown) => {
              replace(avatar, img(profile.avatarUrl, profile.nickname, 'avatar large'));
              toast(errorText(e), 'error');
            });
        });
        const nickname = h('input', { testid: 'nickname-input', attrs: { maxlength: 32, required: true } });
        nickname.value = profile.nickname;
        const nickForm = h(
          'form',
          { class: 'row' },
          h('label', { class: 'field' }, tr(h('span'), 'profile.nickname'), nickname),
          tr(h('button', { class: 'btn primary', testid: 'nickname-save', attrs: { type: 'submit' } }), 'profile.save'),
        );
        nickForm.addEventListener('submit', (ev) => {
          ev.preventDefault();
          api.updateMe({ nickname: nickname.value.trim() }).then(
            ({ user }) => {
              updateUser(user);
              toast(t('profile.saved'));
            },
            (e: unknown) => toast(errorText(e), 'error'),
          );
        });
        replace(
          root,
          h(
            'div',
            { class: 'card profile', testid: 'profile' },
            tr(h('h1'), 'profile.title'),
            h('div', { class: 'profile-head' }, avatar, h('div', {}, h('strong', { class: 'name', text: profile.nickname }), h('p', { class: 'muted', text: `@${profile.username}` }), h('label', { class: 'btn small upload' }, tr(h('span'), 'profile.upload'), file))),
            h('div', { class: 'stats' }, stat('profile.followers', profile.followers, 'stat-followers'), stat('profile.following', profile.following, 'stat-following'), stat('profile.balance', wallet.balance, 'stat-balance'), stat('profile.earnings', wallet.earnings, 'stat-earnings')),
            nickForm,
            profile.roomId ? tr(h('a', { class: 'btn', attrs: { href: `#/room/${encodeURIComponent(profile.roomId)}` } }), 'profile.myRoom') : null,
          ),
        );
      },
      (e: unknown) => !closed && replace(root, failed(e, load)),
    );
  };
  load();
  return () => {
    closed = true;
  };
};
