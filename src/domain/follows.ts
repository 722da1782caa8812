// Follows: idempotent follow/unfollow with counters that stay exact under
// concurrency (a counter moves only when a follow row really appears or goes).
import { and, desc, eq, lt, or, sql } from 'drizzle-orm';
import type { Db, Tx } from '../db/connect.ts';
import { follows, users } from '../db/schema.ts';
import { recordAudit } from './audit.ts';
import { DomainError } from './errors.ts';
import { decodeCursor, toPage, type Page } from './pagination.ts';
import type { RequestContext, User, UsersService } from './users.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const isCursorTime = (s: string) =>
  /^(19[7-9]\d|[2-9]\d{3})-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(s) && !Number.isNaN(Date.parse(s)) && new Date(s).toISOString() === s;

export interface FollowItem extends User {
  followedAt: string;
}

export type FollowEvent = { type: 'follow' | 'unfollow'; followerId: string; followeeId: string };

export function createFollows(deps: { db: Db; users: UsersService; onChange?: (e: FollowEvent) => void }) {
  const { db } = deps;

  async function bump(tx: Tx, followerId: string, followeeId: string, delta: 1 | -1) {
    // Fixed lock order (by id) so two users following each other at once cannot deadlock.
    const updates = [
      { id: followerId, col: 'following' as const },
      { id: followeeId, col: 'followers' as const },
    ].sort((a, b) => (a.id < b.id ? -1 : 1));
    for (const u of updates) {
      const set =
        u.col === 'following'
          ? { followingCount: sql`${users.followingCount} + ${delta}` }
          : { followersCount: sql`${users.followersCount} + ${delta}` };
      await tx.update(users).set(set).where(eq(users.id, u.id));
    }
  }

  async function requireTarget(followerId: string, followeeId: string) {
    if (followerId === followeeId) throw new DomainError('cannot_follow_self', 'you cannot follow yourself');
    await deps.users.get(followeeId);
  }

  async function list(
    direction: 'followers' | 'following',
    userId: string,
    q: { cursor?: string; limit: number },
  ): Promise<Page<FollowItem>> {
    await deps.users.get(userId);
    const after = decodeCursor(q.cursor, 2) as [string, string] | undefined;
    // A well-formed but forged cursor is invalid input (validation_failed), not a database error.
    // Only the form this module hands out (toISOString, years 1970-9999): JS parses dates PostgreSQL refuses (year 99999, -271821).
    if (after && !(typeof after[0] === 'string' && isCursorTime(after[0]) && typeof after[1] === 'string' && UUID.test(after[1])))
      throw new DomainError('validation_failed', 'cursor is not valid', { field: 'cursor' });
    const self = direction === 'followers' ? follows.followeeId : follows.followerId;
    const other = direction === 'followers' ? follows.followerId : follows.followeeId;
    const afterClause = after
      ? or(lt(follows.createdAt, new Date(after[0])), and(eq(follows.createdAt, new Date(after[0])), lt(other, after[1])))
      : undefined;
    const rows = await db
      .select({ user: users, followedAt: follows.createdAt })
      .from(follows)
      .innerJoin(users, eq(users.id, other))
      .where(and(eq(self, userId), afterClause))
      .orderBy(desc(follows.createdAt), desc(other))
      .limit(q.limit + 1);
    return toPage(
      rows,
      q.limit,
      (r) => [r.followedAt.toISOString(), r.user.id],
      (r) => ({ ...deps.users.toUser(r.user), followedAt: r.followedAt.toISOString() }),
    );
  }

  return {
    async follow(followerId: string, followeeId: string, ctx?: RequestContext): Promise<void> {
      await requireTarget(followerId, followeeId);
      const changed = await db.transaction(async (tx) => {
        // created_at from JS (millisecond precision) so cursors round-trip exactly.
        const inserted = await tx.insert(follows).values({ followerId, followeeId, createdAt: new Date() }).onConflictDoNothing().returning();
        if (inserted.length === 0) return false;
        await bump(tx, followerId, followeeId, 1);
        await recordAudit(tx, { actorId: followerId, action: 'user.follow', target: followeeId, ip: ctx?.ip });
        return true;
      });
      if (changed) deps.onChange?.({ type: 'follow', followerId, followeeId });
    },

    async unfollow(followerId: string, followeeId: string, ctx?: RequestContext): Promise<void> {
      await requireTarget(followerId, followeeId);
      const changed = await db.transaction(async (tx) => {
        const deleted = await tx
          .delete(follows)
          .where(and(eq(follows.followerId, followerId), eq(follows.followeeId, followeeId)))
          .returning();
        if (deleted.length === 0) return false;
        await bump(tx, followerId, followeeId, -1);
        await recordAudit(tx, { actorId: followerId, action: 'user.unfollow', target: followeeId, ip: ctx?.ip });
        return true;
      });
      if (changed) deps.onChange?.({ type: 'unfollow', followerId, followeeId });
    },

    async isFollowing(followerId: string, followeeId: string): Promise<boolean> {
      const rows = await db
        .select({ f: follows.followerId })
        .from(follows)
        .where(and(eq(follows.followerId, followerId), eq(follows.followeeId, followeeId)))
        .limit(1);
      return rows.length > 0;
    },

    followers: (userId: string, q: { cursor?: string; limit: number }) => list('followers', userId, q),
    following: (userId: string, q: { cursor?: string; limit: number }) => list('following', userId, q),
  };
}

export type FollowsService = ReturnType<typeof createFollows>;
