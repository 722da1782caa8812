// Drizzle schema: the single source of the database layout. Migrations under
// ./migrations are generated from it with `npm run db:generate` and committed.
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  check,
  foreignKey,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

const createdAt = () => timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow();

export const users = pgTable(
  'users',
  {
    id: text('id').primaryKey(),
    username: text('username').notNull(),
    passwordHash: text('password_hash').notNull(),
    nickname: text('nickname').notNull(),
    avatarFileId: text('avatar_file_id'),
    role: text('role', { enum: ['user', 'admin'] }).notNull().default('user'),
    followersCount: integer('followers_count').notNull().default(0),
    followingCount: integer('following_count').notNull().default(0),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('users_username_lower_idx').on(sql`lower(${t.username})`),
    check('users_counts_nonnegative', sql`${t.followersCount} >= 0 AND ${t.followingCount} >= 0`),
  ],
);

export const follows = pgTable(
  'follows',
  {
    followerId: text('follower_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    followeeId: text('followee_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.followerId, t.followeeId] }),
    index('follows_followee_idx').on(t.followeeId, t.createdAt),
    index('follows_follower_idx').on(t.followerId, t.createdAt),
    // new followers per window (rankings)
    index('follows_created_idx').on(t.createdAt),
  ],
);

/** Logged-out tokens, by JWT id, kept until the token would have expired anyway. */
export const revokedTokens = pgTable('revoked_tokens', {
  jti: text('jti').primaryKey(),
  expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
});

export const files = pgTable(
  'files',
  {
    id: text('id').primaryKey(),
    ownerId: text('owner_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    kind: text('kind', { enum: ['avatar', 'cover'] }).notNull(),
    contentType: text('content_type').notNull(),
    storageName: text('storage_name').notNull(),
    bytes: integer('bytes').notNull(),
    width: integer('width').notNull(),
    height: integer('height').notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('files_owner_idx').on(t.ownerId, t.kind)],
);

/** Append-only: the app only ever inserts here (see domain/audit.ts). */
export const auditLog = pgTable(
  'audit_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: timestamp('at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    actorId: text('actor_id'),
    action: text('action').notNull(),
    target: text('target'),
    ip: text('ip'),
    details: jsonb('details').$type<Record<string, unknown>>(),
  },
  (t) => [index('audit_actor_idx').on(t.actorId, t.id), index('audit_action_idx').on(t.action, t.id)],
);

// --- Wallet ledger (domain/ledger.ts). Double entry: every transfer's entries
// sum to zero; entries and transfers are immutable (triggers refuse UPDATE and
// DELETE, see migration ledger_guards); a correction is a new transfer.

export const ACCOUNT_KINDS = ['wallet', 'earnings', 'platform', 'issuance'] as const;
export const TRANSFER_KINDS = ['signup_bonus', 'grant', 'gift', 'correction'] as const;

/**
 * One row per balance-holding slot of an account. A wallet has slot 0 only (the
 * never-below-zero check needs one row); credit-only accounts (earnings,
 * platform) spread over several slots so concurrent gifts do not queue on one
 * row lock. An account's cached balance is the sum of its slots.
 */
export const accounts = pgTable(
  'accounts',
  {
    id: text('id').notNull(),
    slot: smallint('slot').notNull().default(0),
    kind: text('kind', { enum: ACCOUNT_KINDS }).notNull(),
    ownerId: text('owner_id'),
    balance: bigint('balance', { mode: 'number' }).notNull().default(0),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.id, t.slot] }),
    // Only the issuance account (where coins come from) may go negative.
    check('accounts_balance_nonnegative', sql`${t.balance} >= 0 OR ${t.kind} = 'issuance'`),
    check('accounts_slot_valid', sql`${t.slot} >= 0 AND (${t.slot} = 0 OR ${t.kind} IN ('earnings', 'platform'))`),
  ],
);

export const transfers = pgTable(
  'transfers',
  {
    id: text('id').primaryKey(),
    kind: text('kind', { enum: TRANSFER_KINDS }).notNull(),
    at: timestamp('at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    /** Who caused it: the admin of a grant, the sender of a gift. */
    actorId: text('actor_id'),
    /** Whose wallet it is about: the receiver of a grant, the sender of a gift. */
    userId: text('user_id'),
    /** Gifts: the streamer credited. */
    recipientId: text('recipient_id'),
    roomId: text('room_id'),
    giftId: text('gift_id'),
    giftCount: integer('gift_count'),
    /** Gross amount moved (the sum of the positive entries). */
    amount: bigint('amount', { mode: 'number' }).notNull(),
    note: text('note'),
  },
  (t) => [
    check('transfers_amount_positive', sql`${t.amount} > 0`),
    index('transfers_room_gifts_idx').on(t.roomId, t.at).where(sql`${t.kind} = 'gift'`),
    // gifts per window (rankings)
    index('transfers_gifts_at_idx').on(t.at).where(sql`${t.kind} = 'gift'`),
  ],
);

export const entries = pgTable(
  'entries',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    transferId: text('transfer_id').notNull().references(() => transfers.id),
    accountId: text('account_id').notNull(),
    slot: smallint('slot').notNull(),
    amount: bigint('amount', { mode: 'number' }).notNull(),
    /** The slot's balance right after this entry (for a wallet, the wallet's balance). */
    balanceAfter: bigint('balance_after', { mode: 'number' }).notNull(),
  },
  (t) => [
    foreignKey({ columns: [t.accountId, t.slot], foreignColumns: [accounts.id, accounts.slot], name: 'entries_account_fk' }),
    check('entries_amount_nonzero', sql`${t.amount} <> 0`),
    index('entries_account_idx').on(t.accountId, t.id),
    index('entries_transfer_idx').on(t.transferId),
  ],
);

/** The first reply to a money-moving request, by (user, Idempotency-Key); purged after IDEMPOTENCY_TTL_SEC. */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    userId: text('user_id').notNull(),
    key: text('key').notNull(),
    requestHash: text('request_hash').notNull(),
    status: integer('status').notNull(),
    response: jsonb('response').$type<Record<string, unknown>>().notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.key] }), index('idempotency_keys_created_idx').on(t.createdAt)],
);

// --- Live room chat (domain/chat.ts). room_id is the live room's id (no
// foreign key: rooms are created by the rooms service, which may live apart).

/** Every accepted chat message; a deleted one keeps its row with deleted_at set. */
export const chatMessages = pgTable(
  'chat_messages',
  {
    id: text('id').primaryKey(),
    roomId: text('room_id').notNull(),
    userId: text('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    nickname: text('nickname').notNull(),
    text: text('text').notNull(),
    createdAt: createdAt(),
    deletedAt: timestamp('deleted_at', { withTimezone: true, mode: 'date' }),
    deletedBy: text('deleted_by'),
  },
  // ids are UUIDv7 (time-ordered): the last messages of a room are the highest ids
  (t) => [index('chat_messages_room_idx').on(t.roomId, t.id)],
);

export const roomBans = pgTable(
  'room_bans',
  {
    roomId: text('room_id').notNull(),
    userId: text('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    bannedBy: text('banned_by'),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.roomId, t.userId] })],
);

export const roomMutes = pgTable(
  'room_mutes',
  {
    roomId: text('room_id').notNull(),
    userId: text('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    until: timestamp('until', { withTimezone: true, mode: 'date' }).notNull(),
    mutedBy: text('muted_by'),
  },
  (t) => [primaryKey({ columns: [t.roomId, t.userId] })],
);

/** Chat mode set by the streamer; a room without a row has the defaults (no slow mode, everyone may chat). */
export const roomChatModes = pgTable('room_chat_modes', {
  roomId: text('room_id').primaryKey(),
  slowSec: integer('slow_sec').notNull().default(0),
  followersOnly: boolean('followers_only').notNull().default(false),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});

// --- Rooms and broadcasts (domain/rooms.ts, domain/broadcasts.ts). One room per streamer.

/** The one list of room statuses: the column, the domain types, the API schema and the client derive from it. */
export const ROOM_STATUSES = ['idle', 'live', 'ended'] as const;
export type RoomStatus = (typeof ROOM_STATUSES)[number];
export const END_REASONS = ['streamer_stopped', 'ended_by_owner', 'ended_by_admin', 'key_rotated', 'media_failure'] as const;
export type EndReason = (typeof END_REASONS)[number];

export const rooms = pgTable(
  'rooms',
  {
    id: text('id').primaryKey(),
    streamerId: text('streamer_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    title: text('title').notNull(),
    description: text('description').notNull().default(''),
    coverFileId: text('cover_file_id').references(() => files.id, { onDelete: 'set null' }),
    status: text('status', { enum: ROOM_STATUSES }).notNull().default('idle'),
    /** Live, but the media side lost the publisher (media restart); it may resume within a grace period. */
    interrupted: boolean('interrupted').notNull().default(false),
    /** sha256 of the stream key: the key itself is shown once and never stored. */
    streamKeyHash: text('stream_key_hash').notNull(),
    record: boolean('record').notNull().default(false),
    /** Clients in the live room, as last reported by the process that holds it. */
    online: integer('online').notNull().default(0),
    /** FLV/WS-FLV/HLS viewers, as last reported by the media side. */
    viewers: integer('viewers').notNull().default(0),
    /** The media node that holds the live room's publisher (its origin); edges pull from it. */
    originNode: text('origin_node'),
    previewAt: timestamp('preview_at', { withTimezone: true, mode: 'date' }),
    liveSince: timestamp('live_since', { withTimezone: true, mode: 'date' }),
    /** After `POST /rooms/:id/end`, the key is refused until then (an encoder that reconnects by itself stays out); rotating the key clears it. */
    publishBlockedUntil: timestamp('publish_blocked_until', { withTimezone: true, mode: 'date' }),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('rooms_streamer_idx').on(t.streamerId),
    uniqueIndex('rooms_stream_key_idx').on(t.streamKeyHash),
    index('rooms_status_online_idx').on(t.status, t.online, t.id),
    check('rooms_counts_nonnegative', sql`${t.online} >= 0 AND ${t.viewers} >= 0`),
  ],
);

/**
 * Each media node's own count of a room's players (FLV, HLS, WHEP), so that a
 * room watched on several nodes shows their sum (`rooms.viewers`). A node's
 * rows expire unless it reports again: a node that died stops counting.
 */
export const mediaViewerCounts = pgTable(
  'media_viewer_counts',
  {
    nodeId: text('node_id').notNull(),
    roomId: text('room_id').notNull().references(() => rooms.id, { onDelete: 'cascade' }),
    viewers: integer('viewers').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.nodeId, t.roomId] }), index('media_viewer_counts_room_idx').on(t.roomId)],
);

/** One row per broadcast: from publish start to its end, with the peak audience and why it ended. */
export const liveSessions = pgTable(
  'live_sessions',
  {
    id: text('id').primaryKey(),
    roomId: text('room_id').notNull().references(() => rooms.id, { onDelete: 'cascade' }),
    startedAt: timestamp('started_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    endedAt: timestamp('ended_at', { withTimezone: true, mode: 'date' }),
    endReason: text('end_reason', { enum: END_REASONS }),
    peakOnline: integer('peak_online').notNull().default(0),
    peakViewers: integer('peak_viewers').notNull().default(0),
    record: boolean('record').notNull().default(false),
  },
  (t) => [
    index('live_sessions_room_idx').on(t.roomId, t.startedAt),
    index('live_sessions_started_idx').on(t.startedAt),
    // at most one open broadcast per room
    uniqueIndex('live_sessions_open_idx').on(t.roomId).where(sql`${t.endedAt} IS NULL`),
  ],
);

// --- Recordings (domain/recordings.ts): one per recorded broadcast. The media
// process writes the broadcast's FLV while live; a job remuxes it to MP4 after
// the broadcast ends.

export const RECORDING_STATUSES = ['recording', 'processing', 'ready', 'failed'] as const;

export const recordings = pgTable(
  'recordings',
  {
    id: text('id').primaryKey(),
    roomId: text('room_id').notNull().references(() => rooms.id, { onDelete: 'cascade' }),
    sessionId: text('session_id').notNull().references(() => liveSessions.id, { onDelete: 'cascade' }),
    status: text('status', { enum: RECORDING_STATUSES }).notNull().default('recording'),
    /** Size of the MP4 once ready. */
    bytes: bigint('bytes', { mode: 'number' }).notNull().default(0),
    durationMs: integer('duration_ms').notNull().default(0),
    /** Why the remux failed (for operators; not shown to clients). */
    error: text('error'),
    createdAt: createdAt(),
    readyAt: timestamp('ready_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [
    uniqueIndex('recordings_session_idx').on(t.sessionId),
    index('recordings_room_idx').on(t.roomId, t.id),
    index('recordings_recording_idx').on(t.status).where(sql`${t.status} = 'recording'`),
  ],
);

// --- Job runner without Redis (src/jobs/local-runner.ts): one-off and
// scheduled runs persisted here, so due work is found after a restart.

export const JOB_STATUSES = ['pending', 'running', 'done', 'failed'] as const;

export const jobs = pgTable(
  'jobs',
  {
    /** The caller's job id (a second enqueue with the same id is ignored), or a generated one. */
    id: text('id').primaryKey(),
    queue: text('queue').notNull(),
    data: jsonb('data').$type<Record<string, unknown>>().notNull(),
    status: text('status', { enum: JOB_STATUSES }).notNull().default('pending'),
    runAt: timestamp('run_at', { withTimezone: true, mode: 'date' }).notNull(),
    /** Attempts started so far. */
    attempts: integer('attempts').notNull().default(0),
    maxAttempts: integer('max_attempts').notNull(),
    backoffMs: integer('backoff_ms').notNull(),
    /** A running job whose lease ran out belongs to a process that died: it is taken again. */
    lockedUntil: timestamp('locked_until', { withTimezone: true, mode: 'date' }),
    lastError: text('last_error'),
    createdAt: createdAt(),
    finishedAt: timestamp('finished_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [
    index('jobs_due_idx').on(t.runAt).where(sql`${t.status} IN ('pending', 'running')`),
    index('jobs_finished_idx').on(t.finishedAt).where(sql`${t.finishedAt} IS NOT NULL`),
  ],
);

// --- Rankings (domain/rankings.ts): the latest computed board per (board, window).

export const RANKING_BOARDS = ['room_audience', 'streamer_followers', 'streamer_revenue'] as const;
export const RANKING_WINDOWS = ['hour', 'day', 'week', 'all'] as const;

export const rankingSnapshots = pgTable(
  'ranking_snapshots',
  {
    board: text('board', { enum: RANKING_BOARDS }).notNull(),
    window: text('window_name', { enum: RANKING_WINDOWS }).notNull(),
    /** Start of the UTC period the board covers (null for `all`). */
    periodStart: timestamp('period_start', { withTimezone: true, mode: 'date' }),
    items: jsonb('items').$type<{ id: string; name: string; score: number }[]>().notNull(),
    /** sha256 of the items: a compute that changes nothing publishes nothing. */
    digest: text('digest').notNull(),
    computedAt: timestamp('computed_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.board, t.window] })],
);

// --- Lotteries (domain/lotteries.ts). The seed is secret until the draw; its
// sha256 is public from the start (commit-reveal).

export const LOTTERY_METHODS = ['click', 'danmaku', 'gift'] as const;
export const LOTTERY_STATUSES = ['open', 'drawn'] as const;

export const lotteries = pgTable(
  'lotteries',
  {
    id: text('id').primaryKey(),
    roomId: text('room_id').notNull().references(() => rooms.id, { onDelete: 'cascade' }),
    streamerId: text('streamer_id').notNull(),
    prize: text('prize').notNull(),
    winners: integer('winners').notNull(),
    method: text('method', { enum: LOTTERY_METHODS }).notNull(),
    keyword: text('keyword'),
    giftId: text('gift_id'),
    followersOnly: boolean('followers_only').notNull().default(false),
    status: text('status', { enum: LOTTERY_STATUSES }).notNull().default('open'),
    /**
     * 32 bytes, hex: written at the draw (and revealed then). Before it the seed exists only as
     * HMAC(LOTTERY_SECRET, id) (domain/lottery-draw.ts), so the database cannot leak it early.
     * Lotteries opened before that rule keep the random seed they were created with.
     */
    seed: text('seed'),
    seedHash: text('seed_hash').notNull(),
    createdAt: createdAt(),
    endsAt: timestamp('ends_at', { withTimezone: true, mode: 'date' }).notNull(),
    drawnAt: timestamp('drawn_at', { withTimezone: true, mode: 'date' }),
    /** Frozen at the draw: sha256 of the sorted entrant ids, their number, and the winners in draw order. */
    entriesHash: text('entries_hash'),
    entryCount: integer('entry_count'),
    winnerIds: jsonb('winner_ids').$type<string[]>(),
  },
  (t) => [
    // one open lottery per room
    uniqueIndex('lotteries_open_room_idx').on(t.roomId).where(sql`${t.status} = 'open'`),
    index('lotteries_room_idx').on(t.roomId, t.createdAt),
    index('lotteries_due_idx').on(t.endsAt).where(sql`${t.status} = 'open'`),
    check('lotteries_winners_positive', sql`${t.winners} >= 1`),
  ],
);

/** One row per entrant (no foreign key to users: the frozen list must stay verifiable). */
export const lotteryEntries = pgTable(
  'lottery_entries',
  {
    lotteryId: text('lottery_id').notNull().references(() => lotteries.id, { onDelete: 'cascade' }),
    userId: text('user_id').notNull(),
    via: text('via', { enum: LOTTERY_METHODS }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.lotteryId, t.userId] })],
);
