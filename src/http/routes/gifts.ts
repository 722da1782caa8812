import type { Services } from '../../domain/services.ts';
import { idempotencyKey, replayHeaders } from '../idempotency.ts';
import { route, type Api } from '../route.ts';
import type { RouteSettings } from '../route-settings.ts';
import { idempotencyHeader, idParams } from '../schemas/common.ts';
import { giftList, sendGiftBody, sendGiftReply, topFansQuery, topFansReply } from '../schemas/gifts.ts';

export function giftRoutes(api: Api, services: Services, settings: Pick<RouteSettings, 'pages' | 'gifts'>) {
  route(
    api,
    {
      method: 'get', path: '/gifts', summary: 'The gift catalog (prices in coins)', tags: ['gifts'], auth: 'none',
      responses: { 200: { description: 'Gifts', schema: giftList } },
    },
    async () => ({ body: { items: services.gifts.catalog.list() } }),
  );

  route(
    api,
    {
      method: 'post', path: '/rooms/:id/gifts',
      summary: `Send a gift: debits you, credits the streamer ${settings.gifts.streamerSharePercent}% (rounded down) and the platform the rest`,
      tags: ['gifts'], auth: 'user', params: idParams, body: sendGiftBody(settings.gifts.maxCount), headers: idempotencyHeader,
      responses: {
        201: { description: 'Paid; your new balance and the gift event id', schema: sendGiftReply },
        402: { description: 'insufficient_funds: your balance does not cover it; nothing moved' },
        403: { description: 'cannot_gift_own_room' },
        404: { description: 'No such room or gift' },
        409: { description: 'Idempotency-Key reused with other parameters' },
      },
    },
    async ({ req, params, body, user, ctx }) => {
      const key = idempotencyKey(req.headers['idempotency-key'], 'POST /rooms/:id/gifts');
      const sent = await services.gifts.send({
        roomId: params.id, giftId: body.giftId, count: body.count, sender: { id: user!.id, nickname: user!.nickname }, idempotency: key, ip: ctx.ip,
      });
      return { status: 201, body: { balance: sent.balance, giftEventId: sent.giftEventId }, headers: replayHeaders(sent.replayed) };
    },
  );

  route(
    api,
    {
      method: 'get', path: '/rooms/:id/top-fans', summary: 'The room\'s biggest gifters from the ledger: last 24 h (day) or ever (all)', tags: ['gifts'],
      auth: 'none', params: idParams, query: topFansQuery(settings.pages.max),
      responses: { 200: { description: 'Top fans by coins spent', schema: topFansReply }, 404: { description: 'No such room' } },
    },
    async ({ params, query }) => ({ body: { items: await services.gifts.topFans(params.id, query.window, query.limit) } }),
  );
}
