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
