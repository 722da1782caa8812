// Zod schemas of the audit log (admin).
import { z } from 'zod';
import { pageQuery } from './common.ts';

export const auditQuery = (maxLimit: number, defaultLimit: number) =>
  pageQuery(maxLimit, defaultLimit).extend({
    actor: z.string().max(64).regex(/^[\x21-\x7e]*$/, 'actor must be printable ASCII').optional(),
    action: z.string().max(64).regex(/^[\x21-\x7e]*$/, 'action must be printable ASCII').optional(),
  });
export const auditItem = z.object({
  id: z.string(),
  at: z.string(),
  actorId: z.string().nullable(),
  action: z.string(),
  target: z.string().nullable(),
  ip: z.string().nullable(),
  details: z.record(z.string(), z.unknown()).nullable(),
});
