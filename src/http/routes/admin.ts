import type { Services } from '../../domain/services.ts';
import { route, type Api } from '../route.ts';
import type { PageLimits } from '../route-settings.ts';
import { auditItem, auditQuery } from '../schemas/audit.ts';
import { page } from '../schemas/common.ts';

export function adminRoutes(api: Api, services: Services, pages: PageLimits) {
  route(
    api,
    {
      method: 'get', path: '/admin/audit-log', summary: 'The audit log, newest first (admin)', tags: ['admin'], auth: 'admin',
      query: auditQuery(pages.max, pages.default),
      responses: { 200: { description: 'A page of audit entries', schema: page(auditItem) } },
    },
    async ({ query }) => ({ body: await services.audit.list(query) }),
  );
}
