// Broadcasts: a room's live status follows its real publisher. The media side
// reports publishes through authorizePublish/publishStarted/publishStopped,
// the streams it lost on a restart (interrupt/endInterrupted) and the audience
// it counts, and which media node holds each publisher (its origin, for edges
// and for noticing a node that died); the process holding a live room reports
// its online count. Owners
// and admins end broadcasts through the rooms service (domain/rooms.ts), which
// closes the open session with endSession().
import { and, eq, inArray, isNotNull, isNull, ne, notInArray, or, sql } from 'drizzle-orm';
import type { Db, Executor } from '../db/connect.ts';
import { liveSessions, mediaViewerCounts, rooms, type EndReason, type RoomStatus } from '../db/schema.ts';
import { DomainError } from './errors.ts';
import type { EventBus } from './events.ts';
import { newId } from './ids.ts';
import { hashStreamKey, isStreamKey } from './stream-keys.ts';

export interface BroadcastsDeps {
  db: Db;
  events: EventBus;
}

export type PublishDecision = { ok: true; roomId: string; record: boolean } | { ok: false; reason: 'unknown_key' | 'already_live' | 'ended' };

/** Ends the open broadcast of a room (in a transaction holding the room row). Returns the session id, if one was open. */
export async function endSession(tx: Executor, roomId: string, reason: EndReason, status: RoomStatus = 'ended') {
  const ended = await tx
    .update(liveSessions)
    .set({ endedAt: new Date(), endReason: reason })
    .where(and(eq(liveSessions.roomId, roomId), isNull(liveSessions.endedAt)))
    .returning({ id: liveSessions.id });
  await tx.update(rooms).set({ status, interrupted: false, liveSince: null, viewers: 0, updatedAt: new Date() }).where(eq(rooms.id, roomId));
  await tx.delete(mediaViewerCounts).where(eq(mediaViewerCounts.roomId, roomId));
  return ended[0]?.id;
}

/** Tells every adapter (live rooms, consoles) the room's new status. */
export const publishStatus = (events: EventBus, roomId: string, status: RoomStatus, interrupted = false) =>
  events.publish('room.status', { roomId, status, interrupted, at: new Date().toISOString() });

export function createBroadcasts(deps: BroadcastsDeps) {
  const { db } = deps;
  const statusChanged = (roomId: string, status: RoomStatus, interrupted = false) => publishStatus(deps.events, roomId, status, interrupted);

  return {
    /**
     * May this key publish now? The room's id when yes. Refused: an unknown or
     * rotated key, and a room that already has a publisher (a live room that is
     * not interrupted).
     */
    async authorizePublish(streamKey: string): Promise<PublishDecision> {
      if (!isStreamKey(streamKey)) return { ok: false, reason: 'unknown_key' };
      const [room] = await db.select().from(rooms).where(eq(rooms.streamKeyHash, hashStreamKey(streamKey))).limit(1);
      if (!room) return { ok: false, reason: 'unknown_key' };
      // ended by its owner or an admin: an encoder that reconnects by itself stays out
      if (room.publishBlockedUntil && room.publishBlockedUntil.getTime() > Date.now()) return { ok: false, reason: 'ended' };
      if (room.status === 'live' && !room.interrupted) return { ok: false, reason: 'already_live' };
      return { ok: true, roomId: room.id, record: room.record };
    },

    /** The publisher is sending, on media node `nodeId` (its origin): the room goes live (an interrupted broadcast resumes). Returns the session id. */
    async publishStarted(roomId: string, nodeId: string | null = null): Promise<string> {
      const sessionId = await db.transaction(async (tx) => {
        const [room] = await tx.select().from(rooms).where(eq(rooms.id, roomId)).for('update');
        if (!room) throw new DomainError('room_not_found', 'no such room');
        const [open] = await tx.select({ id: liveSessions.id }).from(liveSessions).where(and(eq(liveSessions.roomId, roomId), isNull(liveSessions.endedAt)));
        let id = open?.id;
        if (!id) {
          id = newId();
          await tx.insert(liveSessions).values({ id, roomId, record: room.record, peakOnline: room.online });
        }
        await tx
          .update(rooms)
          .set({ status: 'live', interrupted: false, originNode: nodeId, liveSince: open ? room.liveSince : new Date(), updatedAt: new Date() })
          .where(eq(rooms.id, roomId));
        return id;
      });
      await statusChanged(roomId, 'live');
      return sessionId;
    },

    /** The publisher is gone for good: the broadcast ends with `reason`. Nothing happens if it already ended. */
    async publishStopped(roomId: string, reason: EndReason): Promise<void> {
      const ended = await db.transaction(async (tx) => {
        const [room] = await tx.select({ status: rooms.status }).from(rooms).where(eq(rooms.id, roomId)).for('update');
        if (room?.status !== 'live') return false;
        await endSession(tx, roomId, reason);
        return true;
      });
      if (ended) await statusChanged(roomId, 'ended');
    },

    /** The media side lost these rooms' publishers (a media restart): they show as interrupted and may resume. */
    async interrupt(roomIds: string[]): Promise<void> {
      if (roomIds.length === 0) return;
      const changed = await db
        .update(rooms)
        .set({ interrupted: true, viewers: 0, updatedAt: new Date() })
        .where(and(inArray(rooms.id, roomIds), eq(rooms.status, 'live')))
        .returning({ id: rooms.id });
      if (changed.length) await db.delete(mediaViewerCounts).where(inArray(mediaViewerCounts.roomId, changed.map((r) => r.id)));
      for (const r of changed) await statusChanged(r.id, 'live', true);
    },

    /**
     * These rooms' broadcasts end as media failures if they are still interrupted (their publisher did not
     * come back). The caller keeps the time: `updatedAt` moves with any edit of the room, so it cannot tell how
     * long a room has been interrupted.
     */
    async endInterrupted(roomIds: string[]): Promise<string[]> {
      const ended: string[] = [];
      for (const id of roomIds) {
        const done = await db.transaction(async (tx) => {
          const [room] = await tx.select().from(rooms).where(eq(rooms.id, id)).for('update');
          if (room?.status !== 'live' || !room.interrupted) return false;
          await endSession(tx, id, 'media_failure');
          return true;
        });
        if (done) {
          ended.push(id);
          await statusChanged(id, 'ended');
        }
      }
      return ended;
    },

    /**
     * Live rooms (not yet interrupted) whose origin is none of `aliveNodes`: their media node died or
     * stopped heartbeating. With `includeUnknown`, also those no node claimed (a previous run's, at start).
     */
    async orphanedLiveRooms(aliveNodes: string[], includeUnknown: boolean): Promise<string[]> {
      const offNodes = aliveNodes.length ? notInArray(rooms.originNode, aliveNodes) : sql`true`;
      const rows = await db
        .select({ id: rooms.id })
        .from(rooms)
        .where(
          and(
            eq(rooms.status, 'live'),
            eq(rooms.interrupted, false),
            includeUnknown ? or(isNull(rooms.originNode), offNodes) : and(isNotNull(rooms.originNode), offNodes),
          ),
        );
      return rows.map((r) => r.id);
    },

    /**
     * Media node `nodeId` holds these rooms' publishers: any of them shown as interrupted (another node
     * wrongly took this one for dead, e.g. across a Redis outage) or as another node's is live here again.
     */
    async claimOrigin(nodeId: string, roomIds: string[]): Promise<void> {
      if (roomIds.length === 0) return;
      const changed = await db
        .update(rooms)
        .set({ interrupted: false, originNode: nodeId, updatedAt: new Date() })
        .where(and(inArray(rooms.id, roomIds), eq(rooms.status, 'live'), or(eq(rooms.interrupted, true), isNull(rooms.originNode), ne(rooms.originNode, nodeId))))
        .returning({ id: rooms.id });
      for (const r of changed) await statusChanged(r.id, 'live');
    },

    /** The media node holding the live room's publisher, or null (not live, interrupted, or no node known). */
    async originOf(roomId: string): Promise<string | null> {
      const [room] = await db.select({ status: rooms.status, interrupted: rooms.interrupted, originNode: rooms.originNode }).from(rooms).where(eq(rooms.id, roomId));
      return room?.status === 'live' && !room.interrupted ? room.originNode : null;
    },

    /** The live room's client count, as the process holding it sees it; also the broadcast's peak. */
    async reportOnline(roomId: string, online: number): Promise<void> {
      await db.update(rooms).set({ online }).where(eq(rooms.id, roomId));
      await db
        .update(liveSessions)
        .set({ peakOnline: sql`GREATEST(${liveSessions.peakOnline}, ${online})` })
        .where(and(eq(liveSessions.roomId, roomId), isNull(liveSessions.endedAt)));
    },

    /** Media players per room from the media side; rooms missing from `counts` have none. */
    /**
     * A media node's players per live room (every room it serves; one it no
     * longer names has none there). A room's `viewers` is the sum over every
     * node whose report has not expired (`freshForMs` after it was made), so a
     * node that stops reporting stops counting; a live session keeps its peak.
     */
    async reportViewers(nodeId: string, counts: Record<string, number>, freshForMs: number): Promise<void> {
      const ids = Object.keys(counts);
      const expiresAt = new Date(Date.now() + freshForMs);
      await db.transaction(async (tx) => {
        await tx
          .delete(mediaViewerCounts)
          .where(and(eq(mediaViewerCounts.nodeId, nodeId), ids.length ? notInArray(mediaViewerCounts.roomId, ids) : undefined));
        await tx.delete(mediaViewerCounts).where(sql`${mediaViewerCounts.expiresAt} < now()`);
        if (ids.length) {
          // only live rooms: a node's report may cross the end of a broadcast (or a deleted room)
          const known = await tx.select({ id: rooms.id }).from(rooms).where(and(inArray(rooms.id, ids), eq(rooms.status, 'live')));
          if (known.length) {
            await tx
              .insert(mediaViewerCounts)
              .values(known.map((r) => ({ nodeId, roomId: r.id, viewers: counts[r.id]!, expiresAt })))
              .onConflictDoUpdate({ target: [mediaViewerCounts.nodeId, mediaViewerCounts.roomId], set: { viewers: sql`excluded.viewers`, expiresAt } });
          }
        }
        // every room counted before or now gets the sum of the reports that still hold
        const changed = (await tx.execute(sql`
          UPDATE ${rooms} AS r SET viewers = COALESCE(s.n, 0)
          FROM (SELECT id FROM ${rooms} WHERE viewers > 0 ${ids.length ? sql`OR id IN (${sql.join(ids.map((id) => sql`${id}`), sql`, `)})` : sql``}) AS t
          LEFT JOIN (SELECT room_id, SUM(viewers)::int AS n FROM ${mediaViewerCounts} GROUP BY room_id) AS s ON s.room_id = t.id
          WHERE r.id = t.id AND r.viewers IS DISTINCT FROM COALESCE(s.n, 0)
          RETURNING r.id, r.viewers`)) as unknown as { rows: { id: string; viewers: number }[] };
        for (const row of changed.rows) {
          if (row.viewers === 0) continue;
          await tx
            .update(liveSessions)
            .set({ peakViewers: sql`GREATEST(${liveSessions.peakViewers}, ${row.viewers})` })
            .where(and(eq(liveSessions.roomId, row.id), isNull(liveSessions.endedAt)));
        }
      });
    },

    /** A new live snapshot was written for the room. */
    async previewUpdated(roomId: string): Promise<void> {
      await db.update(rooms).set({ previewAt: new Date() }).where(eq(rooms.id, roomId));
    },
  };
}

export type BroadcastsService = ReturnType<typeof createBroadcasts>;
