import type { Services } from '../../domain/services.ts';
import { route, type Api } from '../route.ts';
import type { PageLimits } from '../route-settings.ts';
import { idParams, page, pageQuery } from '../schemas/common.ts';
import { followItem, profile, profilePatchBody, userReply } from '../schemas/users.ts';

export function userRoutes(api: Api, services: Services, pages: PageLimits) {
  const listQuery = pageQuery(pages.max, pages.default);

  route(
    api,
    {
      method: 'patch', path: '/users/me', summary: 'Change your nickname or avatar', tags: ['users'], auth: 'user', body: profilePatchBody,
      responses: { 200: { description: 'Updated', schema: userReply } },
    },
    async ({ body, user, ctx }) => ({ body: { user: await services.profiles.update(user!.id, body, ctx) } }),
  );

  route(
    api,
    {
      method: 'get', path: '/users/:id', summary: 'Public profile', tags: ['users'], auth: 'none', params: idParams,
      responses: { 200: { description: 'Profile', schema: profile }, 404: { description: 'No such user' } },
    },
    async ({ params }) => ({ body: await services.users.profile(params.id) }),
  );

  route(
    api,
    {
      method: 'put', path: '/users/:id/follow', summary: 'Follow a user (idempotent)', tags: ['users'], auth: 'user', params: idParams,
      responses: { 204: { description: 'Following' }, 404: { description: 'No such user' } },
    },
    async ({ params, user, ctx }) => {
      await services.follows.follow(user!.id, params.id, ctx);
      return { status: 204 };
    },
  );

  route(
    api,
    {
      method: 'delete', path: '/users/:id/follow', summary: 'Unfollow a user (idempotent)', tags: ['users'], auth: 'user', params: idParams,
      responses: { 204: { description: 'Not following' }, 404: { description: 'No such user' } },
    },
    async ({ params, user, ctx }) => {
      await services.follows.unfollow(user!.id, params.id, ctx);
      return { status: 204 };
    },
  );

  for (const direction of ['followers', 'following'] as const) {
    route(
      api,
      {
        method: 'get', path: `/users/:id/${direction}`, summary: `Who ${direction === 'followers' ? 'follows this user' : 'this user follows'}, newest first`,
        tags: ['users'], auth: 'none', params: idParams, query: listQuery,
        responses: { 200: { description: 'A page of users', schema: page(followItem) }, 404: { description: 'No such user' } },
      },
      async ({ params, query }) => ({ body: await services.follows[direction](params.id, query) }),
    );
  }
}
