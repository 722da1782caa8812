import type { Services } from '../../domain/services.ts';
import { idempotencyKey, replayHeaders } from '../idempotency.ts';
import { route, type Api } from '../route.ts';
import type { RouteSettings } from '../route-settings.ts';
import { idempotencyHeader, page } from '../schemas/common.ts';
import { balanceReply, grantBody, ledgerItem, ledgerQuery, ledgerReport, walletReply } from '../schemas/wallet.ts';

export function walletRoutes(api: Api, services: Services, settings: Pick<RouteSettings, 'pages' | 'grantMaxAmount'>) {
  route(
    api,
    {
      method: 'get', path: '/wallet', summary: 'Your coin balance (and gift earnings)', tags: ['wallet'], auth: 'user',
      responses: { 200: { description: 'Balances', schema: walletReply } },
    },
    async ({ user }) => ({ body: await services.wallet.balances(user!.id) }),
  );

  route(
    api,
    {
      method: 'get', path: '/wallet/ledger', summary: 'Your wallet (or earnings) entries, newest first', tags: ['wallet'], auth: 'user',
      query: ledgerQuery(settings.pages.max, settings.pages.default),
      responses: { 200: { description: 'A page of entries', schema: page(ledgerItem) } },
    },
    async ({ user, query }) => ({ body: await services.wallet.history(user!.id, query.account, query) }),
  );

  route(
    api,
    {
      method: 'post', path: '/admin/wallet/grant', summary: 'Grant coins to a user from the issuance account (admin)', tags: ['admin', 'wallet'],
      auth: 'admin', body: grantBody(settings.grantMaxAmount), headers: idempotencyHeader,
      responses: {
        201: { description: 'Granted; the user\'s new balance', schema: balanceReply },
        404: { description: 'No such user' },
        409: { description: 'Idempotency-Key reused with other parameters' },
      },
    },
    async ({ req, body, ctx }) => {
      const key = idempotencyKey(req.headers['idempotency-key'], 'POST /admin/wallet/grant');
      const granted = await services.wallet.grant(services.users, body, key, { ...ctx, actorId: ctx.actorId! });
      return { status: 201, body: { balance: granted.balance }, headers: replayHeaders(granted.replayed) };
    },
  );

  route(
    api,
    {
      method: 'get', path: '/admin/ledger/check', summary: 'Verify the ledger: balanced transfers, no negative balance, cached = entries (admin)',
      tags: ['admin', 'wallet'], auth: 'admin',
      responses: { 200: { description: 'The report; `ok` is false when there are violations', schema: ledgerReport } },
    },
    async () => ({ body: await services.wallet.check() }),
  );
}
