import { DomainError } from '../../domain/errors.ts';
import type { Services } from '../../domain/services.ts';
import { addressKey, consumeOrThrow, type createLoginGuard, type Limiter } from '../limits.ts';
import { route, type Api } from '../route.ts';
import { loginBody, loginReply, passwordChangeBody, registerBody, userReply } from '../schemas/users.ts';

export function authRoutes(
  api: Api,
  services: Services,
  guards: { login: ReturnType<typeof createLoginGuard>; register: Limiter },
) {
  route(
    api,
    {
      method: 'post', path: '/auth/register', summary: 'Create an account', tags: ['auth'], auth: 'none', body: registerBody,
      responses: { 201: { description: 'Created', schema: userReply }, 409: { description: 'Username taken' } },
    },
    async ({ body, ctx }) => {
      await consumeOrThrow(guards.register, addressKey(ctx.ip ?? 'unknown'));
      return { status: 201, body: { user: await services.users.register(body, ctx) } };
    },
  );

  route(
    api,
    {
      method: 'post', path: '/auth/login', summary: 'Log in and get a bearer token', tags: ['auth'], auth: 'none', body: loginBody,
      responses: { 200: { description: 'Logged in', schema: loginReply }, 401: { description: 'Wrong username or password' } },
    },
    async ({ req, res, body, ctx }) => {
      const ip = addressKey(ctx.ip ?? 'unknown');
      await guards.login.attempt(body.username, ip);
      const user = await api.auth.login(req, res);
      await guards.login.succeeded(body.username, ip);
      const { token, expiresAt } = await services.tokens.issue(user.id);
      return { body: { token, expiresAt: expiresAt.toISOString(), user } };
    },
  );

  route(
    api,
    { method: 'post', path: '/auth/logout', summary: 'Revoke the current token at once', tags: ['auth'], auth: 'user', responses: { 204: { description: 'Logged out' } } },
    async ({ req, ctx }) => {
      await services.tokens.revoke(req.auth!, ctx);
      // The revocation is stored already (REST refuses the token); rooms hear of it to close its sessions.
      // Not awaited: a hanging Redis must not hold the logout.
      void services.events.publish('auth.revoked', { userId: req.auth!.userId, jti: req.auth!.jti }).catch((err: unknown) => req.log?.warn({ err }, 'revocation event not published'));
      return { status: 204 };
    },
  );

  route(
    api,
    {
      method: 'post', path: '/auth/password', summary: 'Change the password (the current one is required)', tags: ['auth'], auth: 'user', body: passwordChangeBody,
      responses: {
        204: { description: 'Changed; the current token stays valid' },
        400: { description: 'The new password is too weak or the same' },
        403: { description: 'The current password is wrong (wrong_password)' },
        429: { description: 'Too many wrong current passwords' },
      },
    },
    async ({ user: signedIn, body, ctx }) => {
      const user = signedIn!;
      // wrong current passwords count against the same guard as failed logins: a stolen token cannot guess it
      const ip = addressKey(ctx.ip ?? 'unknown');
      await guards.login.attempt(user.username, ip);
      try {
        await services.users.changePassword(user.id, body.currentPassword, body.newPassword, ctx);
      } catch (err) {
        // only a wrong current password is a failed guess; a weak new one is not
        if (!(err instanceof DomainError && err.code === 'wrong_password')) await guards.login.succeeded(user.username, ip);
        throw err;
      }
      await guards.login.succeeded(user.username, ip);
      return { status: 204 };
    },
  );

  route(
    api,
    { method: 'get', path: '/auth/me', summary: 'The current user', tags: ['auth'], auth: 'user', responses: { 200: { description: 'Current user', schema: userReply } } },
    async ({ user }) => ({ body: { user } }),
  );
}
