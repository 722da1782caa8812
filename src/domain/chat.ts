// Live chat (danmaku) and its moderation, free of Colyseus: the rules for who
// may say what and when, the moderation actions, and their storage. One
// ChatRoom per open shard of a live room holds the fast-changing state (chat
// mode, mutes, bans, slow-mode and rate counters) in memory. A hot room has
// several shards, each with its own ChatRoom: a moderation change made in one
// is stored, then handed to the others (`apply`), which enforce it at once.
// Slow-mode and rate counters stay per shard: a viewer is in one shard.
import { and, desc, eq, gt, isNull } from 'drizzle-orm';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { Db } from '../db/connect.ts';
import { chatMessages, roomBans, roomChatModes, roomMutes } from '../db/schema.ts';
import { recordAudit } from './audit.ts';
import { DomainError } from './errors.ts';
import { newId } from './ids.ts';
import { codePoints, normalizeText, textFault } from './text.ts';

export interface ChatUser {
  id: string;
  nickname: string;
  role: 'user' | 'admin';
}

/** Who performs a moderation action, and from where (for the audit log). */
export interface ChatActor extends ChatUser {
  ip?: string | null;
}

export interface ChatMessage {
  id: string;
  userId: string;
  nickname: string;
  text: string;
  at: string;
}

export interface ChatMode {
  slowSec: number;
  followersOnly: boolean;
}

export interface ChatSettings {
  maxLength: number;
  history: number;
  ratePoints: number;
  rateWindowSec: number;
  slowMaxSec: number;
  muteMaxSec: number;
}

export interface ChatDeps {
  db: Db;
  follows: { isFollowing(followerId: string, followeeId: string): Promise<boolean> };
  users: { find(id: string): Promise<{ id: string } | undefined> };
  settings: ChatSettings;
  now?: () => number;
}

/** A moderation change made in another shard of the room, already stored there, to enforce here too. */
export type ModerationChange =
  | { type: 'mode'; slowSec: number; followersOnly: boolean }
  | { type: 'mute'; userId: string; until: string }
  | { type: 'ban'; userId: string };

export interface ChatRoom {
  readonly roomId: string;
  readonly mode: ChatMode;
  /** The last messages (oldest first) as loaded when the room opened. */
  readonly history: ChatMessage[];
  post(user: ChatUser | null, text: unknown): Promise<ChatMessage>;
  setSlow(actor: ChatActor, seconds: number): Promise<ChatMode>;
  setFollowersOnly(actor: ChatActor, enabled: boolean): Promise<ChatMode>;
  mute(actor: ChatActor, userId: string, seconds: number): Promise<{ userId: string; until: string }>;
  ban(actor: ChatActor, userId: string): Promise<{ userId: string }>;
  remove(actor: ChatActor, messageId: string): Promise<{ messageId: string }>;
  isModerator(user: ChatUser | null): boolean;
  /** Enforces a change another shard made (and stored); nothing is written. */
  apply(change: ModerationChange): void;
}

const SLOW_PRUNE_AT = 10_000;
const INSERT_BATCH_MAX = 500;

export function createChat(deps: ChatDeps) {
  const { db, settings } = deps;
  const now = deps.now ?? Date.now;

  async function recent(roomId: string, limit: number): Promise<ChatMessage[]> {
    const rows = await db
      .select()
      .from(chatMessages)
      .where(and(eq(chatMessages.roomId, roomId), isNull(chatMessages.deletedAt)))
      .orderBy(desc(chatMessages.id))
      .limit(limit);
    return rows.reverse().map((r) => ({ id: r.id, userId: r.userId, nickname: r.nickname, text: r.text, at: r.createdAt.toISOString() }));
  }

  async function isBanned(roomId: string, userId: string): Promise<boolean> {
    const rows = await db
      .select({ u: roomBans.userId })
      .from(roomBans)
      .where(and(eq(roomBans.roomId, roomId), eq(roomBans.userId, userId)))
      .limit(1);
    return rows.length > 0;
  }

  async function open(room: { id: string; streamerId: string }): Promise<ChatRoom> {
    const roomId = room.id;
    const [history, modeRows, muteRows] = await Promise.all([
      recent(roomId, settings.history),
      db.select().from(roomChatModes).where(eq(roomChatModes.roomId, roomId)).limit(1),
      db.select().from(roomMutes).where(and(eq(roomMutes.roomId, roomId), gt(roomMutes.until, new Date(now())))),
    ]);
    const mode: ChatMode = { slowSec: modeRows[0]?.slowSec ?? 0, followersOnly: modeRows[0]?.followersOnly ?? false };
    const mutedUntil = new Map(muteRows.map((m) => [m.userId, m.until.getTime()]));
    const banned = new Set<string>();
    const lastPostAt = new Map<string, number>();
    const rate = new RateLimiterMemory({ keyPrefix: `chat:${roomId}`, points: settings.ratePoints, duration: settings.rateWindowSec });

    // Accepted messages are written in arrival order, many per INSERT; a
    // caller's promise resolves once its row is stored, in the same order.
    const pending: { msg: ChatMessage; done: (e?: unknown) => void }[] = [];
    let flushing = false;
    async function flush() {
      flushing = true;
      while (pending.length > 0) {
        const batch = pending.splice(0, INSERT_BATCH_MAX);
        try {
          await db.insert(chatMessages).values(
            batch.map(({ msg }) => ({ id: msg.id, roomId, userId: msg.userId, nickname: msg.nickname, text: msg.text, createdAt: new Date(msg.at) })),
          );
          for (const b of batch) b.done();
        } catch (e) {
          for (const b of batch) b.done(e);
        }
      }
      flushing = false;
    }
    function store(msg: ChatMessage): Promise<ChatMessage> {
      return new Promise((resolve, reject) => {
        pending.push({ msg, done: (e) => (e ? reject(e) : resolve(msg)) });
        if (!flushing) void flush();
      });
    }

    const isModerator = (user: ChatUser | null) => user !== null && (user.id === room.streamerId || user.role === 'admin');
    function requireModerator(actor: ChatActor) {
      if (!isModerator(actor)) throw new DomainError('forbidden', 'only the streamer or an admin can moderate this room');
    }
    async function requireTarget(actor: ChatActor, userId: string) {
      if (userId === actor.id || userId === room.streamerId) throw new DomainError('forbidden', 'you cannot moderate yourself or the streamer');
      if (!(await deps.users.find(userId))) throw new DomainError('user_not_found', 'no such user');
    }
    async function saveMode(actor: ChatActor, action: string) {
      await db.transaction(async (tx) => {
        await tx
          .insert(roomChatModes)
          .values({ roomId, ...mode, updatedAt: new Date() })
          .onConflictDoUpdate({ target: roomChatModes.roomId, set: { ...mode, updatedAt: new Date() } });
        await recordAudit(tx, { actorId: actor.id, action, target: roomId, ip: actor.ip ?? null, details: { roomId, ...mode } });
      });
      return { ...mode };
    }

    return {
      roomId,
      mode,
      history,
      isModerator,

      apply(change) {
        if (change.type === 'mode') {
          mode.slowSec = change.slowSec;
          mode.followersOnly = change.followersOnly;
        } else if (change.type === 'mute') mutedUntil.set(change.userId, Date.parse(change.until));
        else banned.add(change.userId);
      },

      async post(user, input) {
        if (!user) throw new DomainError('unauthorized', 'sign in to chat');
        if (typeof input !== 'string') throw new DomainError('validation_failed', 'text must be a string');
        const text = normalizeText(input);
        if (text.length === 0) throw new DomainError('validation_failed', 'text must not be empty');
        const fault = textFault(text);
        if (fault) throw new DomainError('validation_failed', `text ${fault}`);
        if (codePoints(text) > settings.maxLength)
          throw new DomainError('validation_failed', `text must be at most ${settings.maxLength} characters`);
        if (banned.has(user.id)) throw new DomainError('banned', 'you are banned from this room');
        const until = mutedUntil.get(user.id);
        if (until !== undefined) {
          if (until > now()) throw new DomainError('muted', 'you are muted in this room', { retryAfterSec: Math.ceil((until - now()) / 1000) });
          mutedUntil.delete(user.id);
        }
        const moderator = isModerator(user);
        // The slow-mode slot is checked and taken in one synchronous step: messages sent back to back
        // would otherwise all pass the check while the first waits below. A refusal gives the slot back.
        const previousPostAt = lastPostAt.get(user.id);
        if (mode.slowSec > 0 && !moderator) {
          const waitMs = (previousPostAt ?? 0) + mode.slowSec * 1000 - now();
          if (waitMs > 0) throw new DomainError('slow_mode', `slow mode: one message every ${mode.slowSec} s`, { retryAfterSec: Math.ceil(waitMs / 1000) });
        }
        if (lastPostAt.size >= SLOW_PRUNE_AT) {
          const horizon = now() - settings.slowMaxSec * 1000;
          for (const [k, at] of lastPostAt) if (at < horizon) lastPostAt.delete(k);
        }
        const postAt = now();
        lastPostAt.set(user.id, postAt);
        try {
          if (mode.followersOnly && !moderator && !(await deps.follows.isFollowing(user.id, room.streamerId)))
            throw new DomainError('followers_only', 'only followers of the streamer can chat now');
          await rate.consume(user.id);
        } catch (e) {
          if (lastPostAt.get(user.id) === postAt) {
            if (previousPostAt === undefined) lastPostAt.delete(user.id);
            else lastPostAt.set(user.id, previousPostAt);
          }
          if (e instanceof RateLimiterRes)
            throw new DomainError('rate_limited', 'too many messages; slow down', { retryAfterSec: Math.max(1, Math.ceil(e.msBeforeNext / 1000)) });
          throw e;
        }
        return store({ id: newId(), userId: user.id, nickname: user.nickname, text, at: new Date(now()).toISOString() });
      },

      async setSlow(actor, seconds) {
        requireModerator(actor);
        if (!Number.isInteger(seconds) || seconds < 0 || seconds > settings.slowMaxSec)
          throw new DomainError('validation_failed', `seconds must be an integer from 0 to ${settings.slowMaxSec}`);
        mode.slowSec = seconds;
        return saveMode(actor, 'chat.slow_mode');
      },

      async setFollowersOnly(actor, enabled) {
        requireModerator(actor);
        if (typeof enabled !== 'boolean') throw new DomainError('validation_failed', 'enabled must be a boolean');
        mode.followersOnly = enabled;
        return saveMode(actor, 'chat.followers_only');
      },

      async mute(actor, userId, seconds) {
        requireModerator(actor);
        if (!Number.isInteger(seconds) || seconds < 1 || seconds > settings.muteMaxSec)
          throw new DomainError('validation_failed', `seconds must be an integer from 1 to ${settings.muteMaxSec}`);
        await requireTarget(actor, userId);
        const until = new Date(now() + seconds * 1000);
        await db.transaction(async (tx) => {
          await tx
            .insert(roomMutes)
            .values({ roomId, userId, until, mutedBy: actor.id })
            .onConflictDoUpdate({ target: [roomMutes.roomId, roomMutes.userId], set: { until, mutedBy: actor.id } });
          await recordAudit(tx, { actorId: actor.id, action: 'chat.mute', target: userId, ip: actor.ip ?? null, details: { roomId, seconds } });
        });
        mutedUntil.set(userId, until.getTime());
        return { userId, until: until.toISOString() };
      },

      async ban(actor, userId) {
        requireModerator(actor);
        await requireTarget(actor, userId);
        await db.transaction(async (tx) => {
          await tx.insert(roomBans).values({ roomId, userId, bannedBy: actor.id }).onConflictDoNothing();
          await recordAudit(tx, { actorId: actor.id, action: 'chat.ban', target: userId, ip: actor.ip ?? null, details: { roomId } });
        });
        banned.add(userId);
        return { userId };
      },

      async remove(actor, messageId) {
        requireModerator(actor);
        if (typeof messageId !== 'string' || messageId.length > 64) throw new DomainError('validation_failed', 'messageId must be a message id');
        const removed = await db.transaction(async (tx) => {
          const rows = await tx
            .update(chatMessages)
            .set({ deletedAt: new Date(now()), deletedBy: actor.id })
            .where(and(eq(chatMessages.id, messageId), eq(chatMessages.roomId, roomId), isNull(chatMessages.deletedAt)))
            .returning({ id: chatMessages.id, userId: chatMessages.userId });
          if (rows.length === 0) return false;
          await recordAudit(tx, { actorId: actor.id, action: 'chat.delete', target: messageId, ip: actor.ip ?? null, details: { roomId, userId: rows[0]!.userId } });
          return true;
        });
        if (!removed) throw new DomainError('message_not_found', 'no such message in this room');
        return { messageId };
      },
    };
  }

  return { open, recent, isBanned };
}

export type ChatService = ReturnType<typeof createChat>;
