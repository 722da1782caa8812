// Rooms and broadcasts: one room per streamer, a secret stream key kept only as
// a hash, and the live status that follows the real publisher. The media side
// reports publishes through authorizePublish/publishStarted/publishStopped;
// owners and admins end broadcasts and rotate keys, which the media side hears
// about as `room.kick` events (it then disconnects the publisher).
import { createHash, randomBytes } from 'node:crypto';
import { and, desc, eq, inArray, isNull, notInArray, sql, type SQL } from 'drizzle-orm';
import type { Db, Executor } from '../db/connect.ts';
import { END_REASONS, files, liveSessions, rooms, users } from '../db/schema.ts';
import { recordAudit } from './audit.ts';
import { DomainError, isUniqueViolation } from './errors.ts';
import type { EventBus } from './events.ts';
import { isId, newId } from './ids.ts';
import { decodeCursor, toPage, type Page } from './pagination.ts';
import type { RequestContext } from './users.ts';

export type RoomStatus = 'idle' | 'live' | 'ended';
export type EndReason = (typeof END_REASONS)[number];

export interface RoomView {
  id: string;
  title: string;
  description: string;
  /** The cover the streamer uploaded, if any. */
  coverUrl: string | null;
  /** What to show in a room list: the cover, else the latest live snapshot, else null. */
  previewUrl: string | null;
  status: RoomStatus;
  /** Live, but the media side lost the stream for a moment (e.g. a media restart); it may resume. */
  interrupted: boolean;
  /** Clients in the live room (chat and state). */
  online: number;
  /** FLV/WS-FLV/HLS players counted on the media side. */
  viewers: number;
  record: boolean;
  streamer: { id: string; nickname: string; avatarUrl: string | null };
  liveSince: string | null;
  createdAt: string;
  playback: { flv: string; wsFlv: string; hls: string; whep: string | null };
}

export interface Ingest {
  /** Full URL to push to: `rtmp://host:port/live/<streamKey>`. */
  rtmpUrl: string;
  /** OBS "Server" field (the URL without the key). */
  server: string;
  streamKey: string;
  /** WHIP (WebRTC) ingest: POST an SDP offer here with `Authorization: Bearer <streamKey>`; null when off. */
  whipUrl: string | null;
}

/** Where to push, without the key (which is shown only at creation and rotation). */
export type IngestServer = Pick<Ingest, 'server' | 'whipUrl'>;

export interface LiveSession {
  id: string;
  startedAt: string;
  endedAt: string | null;
  endReason: EndReason | null;
  peakOnline: number;
  peakViewers: number;
  record: boolean;
}

export interface Actor {
  id: string;
  role: 'user' | 'admin';
}

export interface RoomsDeps {
  db: Db;
  events: EventBus;
  /** Read at each use: with port 0 (tests) the media ports are known only once media listens. */
  urls(): RoomUrls;
  fileUrl(fileId: string): string;
  /** How long `end()` keeps the key refused (ms); 0: not at all. */
  endBlockMs: number;
}

export interface RoomUrls {
  /** The API server, e.g. http://localhost:8080 (previews). */
  publicUrl: string;
  /** Where FLV, WS-FLV and HLS are served, e.g. http://localhost:8000. */
  mediaUrl: string;
  /** RTMP ingest base, e.g. rtmp://localhost:1935/live. */
  rtmpUrl: string;
  /** WHIP endpoint (on the media node), or null when WHIP ingest is off. */
  whipUrl: string | null;
  /** WHEP playback base (`<base>/<roomId>`), or null when WHEP is off. */
  whepBase: string | null;
}

export interface RoomInput {
  title: string;
  description?: string;
  coverUrl?: string | null;
  record?: boolean;
}

const STREAM_KEY_BYTES = 24; // 192 random bits
export const hashStreamKey = (key: string) => createHash('sha256').update(key).digest('hex');
const newStreamKey = () => `lr_${randomBytes(STREAM_KEY_BYTES).toString('base64url')}`;
/** The only shape a stream key can have: anything else is refused before a lookup. */
const STREAM_KEY = /^lr_[A-Za-z0-9_-]{32}$/;

const roomColumns = {
  room: rooms,
  nickname: users.nickname,
  avatarFileId: users.avatarFileId,
};
type RoomRow = { room: typeof rooms.$inferSelect; nickname: string; avatarFileId: string | null };

export function createRooms(deps: RoomsDeps) {
  const { db } = deps;

  function toView(r: RoomRow): RoomView {
    const { room } = r;
    const urls = deps.urls();
    const wsMediaUrl = urls.mediaUrl.replace(/^http/, 'ws');
    const coverUrl = room.coverFileId ? deps.fileUrl(room.coverFileId) : null;
    const snapshot = room.previewAt ? `${urls.publicUrl}/previews/${room.id}.jpg?t=${room.previewAt.getTime()}` : null;
    return {
      id: room.id,
      title: room.title,
      description: room.description,
      coverUrl,
      previewUrl: coverUrl ?? snapshot,
      status: room.status,
      interrupted: room.interrupted,
      online: room.online,
      viewers: room.viewers,
      record: room.record,
      streamer: { id: room.streamerId, nickname: r.nickname, avatarUrl: r.avatarFileId ? deps.fileUrl(r.avatarFileId) : null },
      liveSince: room.status === 'live' && room.liveSince ? room.liveSince.toISOString() : null,
      createdAt: room.createdAt.toISOString(),
      playback: {
        flv: `${urls.mediaUrl}/live/${room.id}.flv`,
        wsFlv: `${wsMediaUrl}/live/${room.id}.flv`,
        hls: `${urls.mediaUrl}/hls/${room.id}/index.m3u8`,
        whep: urls.whepBase ? `${urls.whepBase}/${room.id}` : null,
      },
    };
  }

  const ingestOf = (streamKey: string): Ingest => ({
    rtmpUrl: `${deps.urls().rtmpUrl}/${streamKey}`,
    server: deps.urls().rtmpUrl,
    streamKey,
    whipUrl: deps.urls().whipUrl,
  });

  const selectRooms = () => db.select(roomColumns).from(rooms).innerJoin(users, eq(users.id, rooms.streamerId));

  async function find(id: string): Promise<RoomView | undefined> {
    const [row] = await selectRooms().where(eq(rooms.id, id)).limit(1);
    return row ? toView(row) : undefined;
  }

  async function get(id: string): Promise<RoomView> {
    const room = await find(id);
    if (!room) throw new DomainError('room_not_found', 'no such room');
    return room;
  }

  /** The room row locked for a change by its owner (or an admin). */
  async function lockOwned(tx: Executor, actor: Actor, id: string) {
    const [room] = await tx.select().from(rooms).where(eq(rooms.id, id)).for('update');
    if (!room) throw new DomainError('room_not_found', 'no such room');
    if (room.streamerId !== actor.id && actor.role !== 'admin') throw new DomainError('forbidden', 'only the streamer or an admin may do this');
    return room;
  }

  /** A cover must be a cover image the streamer uploaded (by its URL), or null. */
  async function coverFileId(tx: Executor, ownerId: string, url: string | null | undefined): Promise<string | null | undefined> {
    if (url === undefined || url === null) return url;
    const match = /\/files\/([0-9a-f-]{36})\.webp$/.exec(url);
    const fileId = match && url === deps.fileUrl(match[1]!) ? match[1]! : undefined;
    const [file] = fileId
      ? await tx.select({ id: files.id }).from(files).where(and(eq(files.id, fileId), eq(files.ownerId, ownerId), eq(files.kind, 'cover'))).limit(1)
      : [];
    if (!file) throw new DomainError('invalid_cover_url', 'coverUrl must be the URL of a cover image you uploaded, or null');
    return file.id;
  }

  /** Ends the open broadcast of a room (in a transaction holding the room row). */
  async function endSession(tx: Executor, roomId: string, reason: EndReason, status: RoomStatus = 'ended') {
    const ended = await tx
      .update(liveSessions)
      .set({ endedAt: new Date(), endReason: reason })
      .where(and(eq(liveSessions.roomId, roomId), isNull(liveSessions.endedAt)))
      .returning({ id: liveSessions.id });
    await tx.update(rooms).set({ status, interrupted: false, liveSince: null, viewers: 0, updatedAt: new Date() }).where(eq(rooms.id, roomId));
    return ended[0]?.id;
  }

  const publishStatus = (roomId: string, status: RoomStatus, interrupted = false) =>
    deps.events.publish('room.status', { roomId, status, interrupted, at: new Date().toISOString() });

  return {
    find,
    get,
    ingestOf,

    /** The ingest server of a room for its owner (or an admin), e.g. for a console opened after the key was shown. */
    async ingestServer(actor: Actor, id: string): Promise<IngestServer> {
      const room = await get(id);
      if (room.streamer.id !== actor.id && actor.role !== 'admin') throw new DomainError('forbidden', 'only the streamer or an admin may do this');
      const { server, whipUrl } = ingestOf('');
      return { server, whipUrl };
    },

    async create(userId: string, input: RoomInput, ctx: RequestContext): Promise<{ room: RoomView; ingest: Ingest }> {
      const id = newId();
      const streamKey = newStreamKey();
      try {
        await db.transaction(async (tx) => {
          const cover = await coverFileId(tx, userId, input.coverUrl);
          await tx.insert(rooms).values({
            id,
            streamerId: userId,
            title: input.title,
            description: input.description ?? '',
            coverFileId: cover ?? null,
            record: input.record ?? false,
            streamKeyHash: hashStreamKey(streamKey),
          });
          await recordAudit(tx, { actorId: userId, action: 'room.create', target: id, ip: ctx.ip });
        });
      } catch (e) {
        if (!isUniqueViolation(e)) throw e;
        const [existing] = await db.select({ id: rooms.id }).from(rooms).where(eq(rooms.streamerId, userId)).limit(1);
        throw new DomainError('room_exists', 'you already have a room', { roomId: existing?.id });
      }
      return { room: await get(id), ingest: ingestOf(streamKey) };
    },

    /** Owner and status only: the cheap lookup for hot paths (gifts). */
    async summary(id: string): Promise<{ id: string; streamerId: string; status: RoomStatus } | undefined> {
      const [row] = await db.select({ id: rooms.id, streamerId: rooms.streamerId, status: rooms.status }).from(rooms).where(eq(rooms.id, id)).limit(1);
      return row;
    },

    /** The room of a streamer, if they have one. */
    async idOfStreamer(userId: string): Promise<string | null> {
      const [row] = await db.select({ id: rooms.id }).from(rooms).where(eq(rooms.streamerId, userId)).limit(1);
      return row?.id ?? null;
    },

    /** Live rooms first, busiest first; then the others, newest first. */
    async list(q: { status?: RoomStatus; cursor?: string; limit: number }): Promise<Page<RoomView>> {
      const live = sql<number>`(CASE WHEN ${rooms.status} = 'live' THEN 1 ELSE 0 END)`;
      const conditions: SQL[] = [];
      if (q.status) conditions.push(eq(rooms.status, q.status));
      const after = decodeCursor(q.cursor, 3);
      if (after) {
        const [l, o, i] = after;
        // a cursor is client input: only what toPage() makes (0|1, an int4 count, an id) may reach the query
        if ((l !== 0 && l !== 1) || !Number.isInteger(o) || (o as number) < 0 || (o as number) > 2 ** 31 - 1 || typeof i !== 'string' || !isId(i))
          throw new DomainError('validation_failed', 'cursor is not valid', { field: 'cursor' });
        conditions.push(sql`(${live}, ${rooms.online}, ${rooms.id}) < (${l}, ${o}, ${i})`);
      }
      const rows = await selectRooms()
        .where(conditions.length ? and(...conditions) : undefined)
        .orderBy(desc(live), desc(rooms.online), desc(rooms.id))
        .limit(q.limit + 1);
      return toPage(rows, q.limit, (r) => [r.room.status === 'live' ? 1 : 0, r.room.online, r.room.id], toView);
    },

    async update(actor: Actor, id: string, patch: Partial<RoomInput>, ctx: RequestContext): Promise<RoomView> {
      await db.transaction(async (tx) => {
        const room = await lockOwned(tx, actor, id);
        const cover = await coverFileId(tx, room.streamerId, patch.coverUrl);
        await tx
          .update(rooms)
          .set({
            ...(patch.title !== undefined && { title: patch.title }),
            ...(patch.description !== undefined && { description: patch.description }),
            ...(cover !== undefined && { coverFileId: cover }),
            ...(patch.record !== undefined && { record: patch.record }),
            updatedAt: new Date(),
          })
          .where(eq(rooms.id, id));
        await recordAudit(tx, { actorId: actor.id, action: 'room.update', target: id, ip: ctx.ip, details: { fields: Object.keys(patch) } });
      });
      await deps.events.publish('room.updated', { roomId: id });
      return get(id);
    },

    /** A new key; the old one stops working at once and a live broadcast on it is ended. */
    async rotateKey(actor: Actor, id: string, ctx: RequestContext): Promise<Ingest> {
      const streamKey = newStreamKey();
      let wasLive = false;
      await db.transaction(async (tx) => {
        const room = await lockOwned(tx, actor, id);
        await tx.update(rooms).set({ streamKeyHash: hashStreamKey(streamKey), publishBlockedUntil: null, updatedAt: new Date() }).where(eq(rooms.id, id));
        if (room.status === 'live') {
          wasLive = true;
          await endSession(tx, id, 'key_rotated');
        }
        await recordAudit(tx, { actorId: actor.id, action: 'room.stream_key_rotate', target: id, ip: ctx.ip });
      });
      // Kick even when not live: an encoder authorized on the old key a moment ago may be going live right now.
      await deps.events.publish('room.kick', { roomId: id, reason: 'key_rotated' });
      if (wasLive) await publishStatus(id, 'ended');
      return ingestOf(streamKey);
    },

    /** Ends the broadcast (the media side disconnects the publisher). Ending a room that is not live changes nothing. */
    async end(actor: Actor, id: string, ctx: RequestContext): Promise<void> {
      let wasLive = false;
      await db.transaction(async (tx) => {
        const room = await lockOwned(tx, actor, id);
        const reason: EndReason = room.streamerId === actor.id ? 'ended_by_owner' : 'ended_by_admin';
        if (room.status === 'live') {
          wasLive = true;
          await endSession(tx, id, reason);
        }
        if (deps.endBlockMs > 0) await tx.update(rooms).set({ publishBlockedUntil: new Date(Date.now() + deps.endBlockMs) }).where(eq(rooms.id, id));
        await recordAudit(tx, { actorId: actor.id, action: 'room.end', target: id, ip: ctx.ip, details: { reason, wasLive } });
      });
      // Kick even when not live: a publisher may be connecting right now.
      await deps.events.publish('room.kick', { roomId: id, reason: 'ended' });
      if (wasLive) await publishStatus(id, 'ended');
    },

    async sessions(id: string, q: { cursor?: string; limit: number }): Promise<Page<LiveSession>> {
      await get(id);
      const after = decodeCursor(q.cursor, 1);
      if (after && (typeof after[0] !== 'string' || !isId(after[0]))) throw new DomainError('validation_failed', 'cursor is not valid', { field: 'cursor' });
      const rows = await db
        .select()
        .from(liveSessions)
        .where(and(eq(liveSessions.roomId, id), after ? sql`${liveSessions.id} < ${String(after[0])}` : undefined))
        .orderBy(desc(liveSessions.id))
        .limit(q.limit + 1);
      return toPage(rows, q.limit, (r) => [r.id], (r) => ({
        id: r.id,
        startedAt: r.startedAt.toISOString(),
        endedAt: r.endedAt?.toISOString() ?? null,
        endReason: r.endReason,
        peakOnline: r.peakOnline,
        peakViewers: r.peakViewers,
        record: r.record,
      }));
    },

    // --- called by the media side -------------------------------------------------

    /**
     * May this key publish now? The room's id when yes. Refused: an unknown or
     * rotated key, and a room that already has a publisher (a live room that is
     * not interrupted).
     */
    async authorizePublish(streamKey: string): Promise<{ ok: true; roomId: string; record: boolean } | { ok: false; reason: 'unknown_key' | 'already_live' | 'ended' }> {
      if (!STREAM_KEY.test(streamKey)) return { ok: false, reason: 'unknown_key' };
      const [room] = await db.select().from(rooms).where(eq(rooms.streamKeyHash, hashStreamKey(streamKey))).limit(1);
      if (!room) return { ok: false, reason: 'unknown_key' };
      // ended by its owner or an admin: an encoder that reconnects by itself stays out
      if (room.publishBlockedUntil && room.publishBlockedUntil.getTime() > Date.now()) return { ok: false, reason: 'ended' };
      if (room.status === 'live' && !room.interrupted) return { ok: false, reason: 'already_live' };
      return { ok: true, roomId: room.id, record: room.record };
    },

    /** The publisher is sending: the room goes live (an interrupted broadcast resumes). Returns the session id. */
    async publishStarted(roomId: string): Promise<string> {
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
          .set({ status: 'live', interrupted: false, liveSince: open ? room.liveSince : new Date(), updatedAt: new Date() })
          .where(eq(rooms.id, roomId));
        return id;
      });
      await publishStatus(roomId, 'live');
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
      if (ended) await publishStatus(roomId, 'ended');
    },

    /** The media side lost these rooms' publishers (a media restart): they show as interrupted and may resume. */
    async interrupt(roomIds: string[]): Promise<void> {
      if (roomIds.length === 0) return;
      const changed = await db
        .update(rooms)
        .set({ interrupted: true, viewers: 0, updatedAt: new Date() })
        .where(and(inArray(rooms.id, roomIds), eq(rooms.status, 'live')))
        .returning({ id: rooms.id });
      for (const r of changed) await publishStatus(r.id, 'live', true);
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
          await publishStatus(id, 'ended');
        }
      }
      return ended;
    },

    /** The rooms live on a media node that has no publisher for them (e.g. after a crash before the supervisor noticed). */
    async liveRoomIds(): Promise<string[]> {
      const rows = await db.select({ id: rooms.id }).from(rooms).where(eq(rooms.status, 'live'));
      return rows.map((r) => r.id);
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
    async reportViewers(counts: Record<string, number>): Promise<void> {
      const ids = Object.keys(counts);
      await db.transaction(async (tx) => {
        await tx.update(rooms).set({ viewers: 0 }).where(and(sql`${rooms.viewers} > 0`, ids.length ? notInArray(rooms.id, ids) : undefined));
        for (const [id, n] of Object.entries(counts)) {
          await tx.update(rooms).set({ viewers: n }).where(eq(rooms.id, id));
          await tx
            .update(liveSessions)
            .set({ peakViewers: sql`GREATEST(${liveSessions.peakViewers}, ${n})` })
            .where(and(eq(liveSessions.roomId, id), isNull(liveSessions.endedAt)));
        }
      });
    },

    /** A new live snapshot was written for the room. */
    async previewUpdated(roomId: string): Promise<void> {
      await db.update(rooms).set({ previewAt: new Date() }).where(eq(rooms.id, roomId));
    },
  };
}

export type RoomsService = ReturnType<typeof createRooms>;
