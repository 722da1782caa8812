import type { Services } from '../../domain/services.ts';
import { rankingsQuery, rankingsReply } from '../schemas/rankings.ts';
import { route, type Api } from '../route.ts';

export function rankingRoutes(api: Api, services: Services, rankingsSize: number) {
  route(
    api,
    {
      method: 'get', path: '/rankings',
      summary: 'A leaderboard: streamers by followers gained or coins earned, rooms by peak online, over the current UTC hour, day, week, or all time',
      tags: ['rankings'], auth: 'none', query: rankingsQuery(rankingsSize),
      responses: { 200: { description: 'The board, best first (ties by id)', schema: rankingsReply } },
    },
    async ({ query }) => {
      const b = await services.rankings.get(query.board, query.window, query.limit);
      return { body: { board: b.board, window: b.window, updatedAt: b.updatedAt, items: b.items } };
    },
  );
}
