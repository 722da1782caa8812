// The audit log: who did what to whom, from where. Append-only by design:
// this module only inserts and reads.
import { and, desc, eq, lt, type SQL } from 'drizzle-orm';
import type { Executor } from '../db/connect.ts';
import { auditLog } from '../db/schema.ts';
import { DomainError } from './errors.ts';
import { decodeCursor, toPage, type Page } from './pagination.ts';

export interface AuditEntry {
  actorId: string | null;
  action: string;
  target?: string | null;
  ip?: string | null;
  details?: Record<string, unknown>;
}

export interface AuditRecord {
  id: string;
  at: string;
  actorId: string | null;
  action: string;
  target: string | null;
  ip: string | null;
  details: Record<string, unknown> | null;
}

export async function recordAudit(exec: Executor, entry: AuditEntry): Promise<void> {
  await exec.insert(auditLog).values({
    actorId: entry.actorId,
    action: entry.action,
    target: entry.target ?? null,
    ip: entry.ip ?? null,
    details: entry.details ?? null,
  });
}

export async function listAudit(
  exec: Executor,
  q: { actor?: string; action?: string; cursor?: string; limit: number },
): Promise<Page<AuditRecord>> {
  const after = decodeCursor(q.cursor, 1);
  const where: SQL[] = [];
  if (q.actor) where.push(eq(auditLog.actorId, q.actor));
  if (q.action) where.push(eq(auditLog.action, q.action));
  if (after) {
    const id = Number(after[0]);
    if (!Number.isSafeInteger(id)) throw new DomainError('validation_failed', 'cursor is not valid', { field: 'cursor' });
    where.push(lt(auditLog.id, id));
  }
  const rows = await exec
    .select()
    .from(auditLog)
    .where(and(...where))
    .orderBy(desc(auditLog.id))
    .limit(q.limit + 1);
  return toPage(
    rows,
    q.limit,
    (r) => [r.id],
    (r) => ({
      id: String(r.id),
      at: r.at.toISOString(),
      actorId: r.actorId,
      action: r.action,
      target: r.target,
      ip: r.ip,
      details: r.details ?? null,
    }),
  );
}
