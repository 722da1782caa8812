// Rooms: one room per streamer, its title, cover and recording choice, and a
// secret stream key kept only as a hash. Owners and admins end broadcasts and
// rotate keys here; the media side hears about it as `room.kick` events (it
// then disconnects the publisher). The live status itself follows the
// publisher, as the media side reports it (domain/broadcasts.ts).
import { and, desc, eq, sql, type SQL } from 'drizzle-orm';
import type { Db, Executor } from '../db/connect.ts';
import { files, liveSessions, rooms, users, type EndReason, type RoomStatus } from '../db/schema.ts';
import { recordAudit } from './audit.ts';
import { endSession, publishStatus } from './broadcasts.ts';
import { DomainError, isUniqueViolation } from './errors.ts';
import type { EventBus } from './events.ts';
import { isId, newId } from './ids.ts';
import { decodeCursor, toPage, type Page } from './pagination.ts';
import { hashStreamKey, newStreamKey } from './stream-keys.ts';
import type { RequestContext } from './users.ts';

export type { EndReason, RoomStatus };

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

  const statusChanged = (roomId: string, status: RoomStatus) => publishStatus(deps.events, roomId, status);

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
      if (wasLive) await statusChanged(id, 'ended');
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
      if (wasLive) await statusChanged(id, 'ended');
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
  };
}

export type RoomsService = ReturnType<typeof createRooms>;
