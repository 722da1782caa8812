import type { Services } from '../../domain/services.ts';
import { idParams } from '../schemas/common.ts';
import { enterReply, entrantsQuery, entrantsReply, lotteryCreateBody, lotteryReply } from '../schemas/lotteries.ts';
import { route, type Api } from '../route.ts';
import type { LotteryLimits } from '../route-settings.ts';

export function lotteryRoutes(api: Api, services: Services, limits: LotteryLimits) {
  route(
    api,
    {
      method: 'post', path: '/rooms/:id/lotteries',
      summary: 'Start a lottery in your room (one open at a time); the reply commits to the draw with seedHash', tags: ['lotteries'],
      auth: 'user', params: idParams,
      body: lotteryCreateBody(limits),
      responses: {
        201: { description: 'Open; drawn at endsAt', schema: lotteryReply },
        403: { description: 'Not your room' },
        404: { description: 'No such room or gift' },
        409: { description: 'lottery_open: the room has an open lottery (`details.lotteryId`)' },
      },
    },
    async ({ params, body, user, ctx }) => ({ status: 201, body: { lottery: await services.lotteries.create(user!, params.id, body, ctx) } }),
  );

  route(
    api,
    {
      method: 'post', path: '/lotteries/:id/entries', summary: 'Enter a click lottery (each user once)', tags: ['lotteries'], auth: 'user', params: idParams,
      responses: {
        201: { description: 'Entered', schema: enterReply },
        200: { description: 'Already entered: counted once', schema: enterReply },
        403: { description: 'followers_only, banned, or cannot_enter_own_lottery' },
        404: { description: 'No such lottery' },
        409: { description: 'lottery_closed, or wrong_entry_method (a danmaku or gift lottery)' },
      },
    },
    async ({ params, user }) => {
      const r = await services.lotteries.enter(params.id, user!, 'click');
      return { status: r.entered ? 201 : 200, body: { lotteryId: params.id, entered: r.entered } };
    },
  );

  route(
    api,
    {
      method: 'get', path: '/lotteries/:id', summary: 'A lottery: status, entry count, and after the draw the winners, seed and entriesHash', tags: ['lotteries'],
      auth: 'none', params: idParams,
      responses: { 200: { description: 'The lottery', schema: lotteryReply }, 404: { description: 'No such lottery' } },
    },
    async ({ params }) => ({ body: { lottery: await services.lotteries.get(params.id) } }),
  );

  route(
    api,
    {
      method: 'get', path: '/lotteries/:id/entries', summary: 'The entrants in byte order of their ids (the order the draw hashes), for verifying a draw', tags: ['lotteries'],
      auth: 'none', params: idParams, query: entrantsQuery(limits.entriesPageMax),
      responses: { 200: { description: 'A page of entrants', schema: entrantsReply }, 404: { description: 'No such lottery' } },
    },
    async ({ params, query }) => ({ body: await services.lotteries.entrants(params.id, query) }),
  );
}
