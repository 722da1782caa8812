// Recordings of broadcasts (a room with `record` on). While live the media
// process writes the broadcast's FLV under DATA_DIR/recordings/<sessionId>/;
// once the broadcast has ended a job remuxes it to DATA_DIR/recordings/<id>.mp4.
// recording -> processing (broadcast ended, remux queued) -> ready | failed.
import { and, desc, eq, inArray, isNotNull, sql } from 'drizzle-orm';
import type { Db } from '../db/connect.ts';
import { liveSessions, RECORDING_STATUSES, recordings } from '../db/schema.ts';
import { DomainError } from './errors.ts';
import { isId, newId } from './ids.ts';
import { decodeCursor, toPage, type Page } from './pagination.ts';

export type RecordingStatus = (typeof RECORDING_STATUSES)[number];

export interface RecordingView {
  id: string;
  roomId: string;
  sessionId: string;
  status: RecordingStatus;
  /** Size of the MP4 (0 until ready). */
  bytes: number;
  durationSec: number;
  createdAt: string;
  readyAt: string | null;
  /** The MP4 (plays with HTTP range requests) once ready, else null. */
  url: string | null;
}

export interface RecordingsDeps {
  db: Db;
  /** The API server's base URL (read at each use: tests learn their port late). */
  publicUrl(): string;
}

type Row = typeof recordings.$inferSelect;

export function createRecordings(deps: RecordingsDeps) {
  const { db } = deps;

  const toView = (r: Row): RecordingView => ({
    id: r.id,
    roomId: r.roomId,
    sessionId: r.sessionId,
    status: r.status,
    bytes: r.bytes,
    durationSec: r.durationMs / 1000,
    createdAt: r.createdAt.toISOString(),
    readyAt: r.readyAt?.toISOString() ?? null,
    url: r.status === 'ready' ? `${deps.publicUrl()}/recordings/${r.id}.mp4` : null,
  });

  /** Broadcasts that ended with their recording still marked `recording`: now `processing`. Their ids. */
  async function closeEnded(roomId?: string): Promise<{ id: string; sessionId: string }[]> {
    const ended = db
      .select({ id: liveSessions.id })
      .from(liveSessions)
      .where(and(isNotNull(liveSessions.endedAt), roomId ? eq(liveSessions.roomId, roomId) : undefined));
    return db
      .update(recordings)
      .set({ status: 'processing' })
      .where(and(eq(recordings.status, 'recording'), inArray(recordings.sessionId, ended), roomId ? eq(recordings.roomId, roomId) : undefined))
      .returning({ id: recordings.id, sessionId: recordings.sessionId });
  }

  return {
    /** A recorded broadcast started (or resumed: then nothing changes). */
    async start(roomId: string, sessionId: string): Promise<void> {
      await db.insert(recordings).values({ id: newId(), roomId, sessionId }).onConflictDoNothing({ target: recordings.sessionId });
    },

    /** The room's broadcast ended: its recording is ready for the remux. */
    closeEnded,

    async get(id: string): Promise<Row | undefined> {
      const [row] = await db.select().from(recordings).where(eq(recordings.id, id)).limit(1);
      return row;
    },

    async markReady(id: string, r: { bytes: number; durationMs: number }): Promise<void> {
      await db.update(recordings).set({ status: 'ready', bytes: r.bytes, durationMs: Math.round(r.durationMs), error: null, readyAt: new Date() }).where(eq(recordings.id, id));
    },

    async markFailed(id: string, error: string): Promise<void> {
      await db.update(recordings).set({ status: 'failed', error: error.slice(0, 2000) }).where(eq(recordings.id, id));
    },

    /** A room's recordings, newest first. */
    async list(roomId: string, q: { cursor?: string; limit: number }): Promise<Page<RecordingView>> {
      const after = decodeCursor(q.cursor, 1);
      if (after && (typeof after[0] !== 'string' || !isId(after[0]))) throw new DomainError('validation_failed', 'cursor is not valid', { field: 'cursor' });
      const rows = await db
        .select()
        .from(recordings)
        .where(and(eq(recordings.roomId, roomId), after ? sql`${recordings.id} < ${String(after[0])}` : undefined))
        .orderBy(desc(recordings.id))
        .limit(q.limit + 1);
      return toPage(rows, q.limit, (r) => [r.id], toView);
    },
  };
}

export type RecordingsService = ReturnType<typeof createRecordings>;
