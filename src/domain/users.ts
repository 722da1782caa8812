// Accounts and profiles: registration, credential checks, roles, public views.
import { eq, sql } from 'drizzle-orm';
import type { Db, Executor, Tx } from '../db/connect.ts';
import { users } from '../db/schema.ts';
import { recordAudit } from './audit.ts';
import { DomainError, isUniqueViolation } from './errors.ts';
import { newId } from './ids.ts';
import {
  burnPasswordCheck,
  checkPasswordPolicy,
  hashPassword,
  verifyPassword,
  type PasswordPolicy,
} from './passwords.ts';

export type Role = 'user' | 'admin';
type UserRow = typeof users.$inferSelect;

export interface User {
  id: string;
  username: string;
  nickname: string;
  avatarUrl: string | null;
  role: Role;
}

export interface Profile extends User {
  followers: number;
  following: number;
  roomId: string | null;
  createdAt: string;
}

export interface RequestContext {
  actorId: string | null;
  ip: string | null;
}

export interface UsersDeps {
  db: Db;
  passwordPolicy: PasswordPolicy;
  /** Public URL of a stored file, by file id. */
  fileUrl(fileId: string): string;
  /** Room lookup, provided once rooms exist; a user has at most one room. */
  roomIdOf?(userId: string): Promise<string | null>;
  /** Runs inside the registration transaction (the signup bonus): a failure undoes the registration. */
  onRegistered?(tx: Tx, user: User, ctx: RequestContext): Promise<void>;
}

export function createUsers(deps: UsersDeps) {
  const { db } = deps;
  const toUser = (r: UserRow): User => ({
    id: r.id,
    username: r.username,
    nickname: r.nickname,
    avatarUrl: r.avatarFileId ? deps.fileUrl(r.avatarFileId) : null,
    role: r.role,
  });

  const findById = db.select().from(users).where(eq(users.id, sql.placeholder('id'))).limit(1).prepare('users_find_by_id');

  async function findRow(exec: Executor, id: string): Promise<UserRow | undefined> {
    const [row] = await exec.select().from(users).where(eq(users.id, id)).limit(1);
    return row;
  }

  async function requireRow(exec: Executor, id: string): Promise<UserRow> {
    const row = await findRow(exec, id);
    if (!row) throw new DomainError('user_not_found', 'no such user');
    return row;
  }

  return {
    toUser,

    async register(input: { username: string; password: string; nickname?: string }, ctx: RequestContext, role: Role = 'user') {
      checkPasswordPolicy(input.password, input.username, deps.passwordPolicy);
      const passwordHash = await hashPassword(input.password);
      try {
        return await db.transaction(async (tx) => {
          const [row] = await tx
            .insert(users)
            .values({ id: newId(), username: input.username, nickname: input.nickname ?? input.username, passwordHash, role })
            .returning();
          await recordAudit(tx, { actorId: row!.id, action: 'user.register', target: row!.id, ip: ctx.ip });
          if (role === 'admin') await recordAudit(tx, { actorId: ctx.actorId, action: 'user.role_change', target: row!.id, ip: ctx.ip, details: { role } });
          const user = toUser(row!);
          await deps.onRegistered?.(tx, user, ctx);
          return user;
        });
      } catch (e) {
        if (isUniqueViolation(e)) throw new DomainError('username_taken', 'this username is taken');
        throw e;
      }
    },

    /**
     * Changes a signed-in user's password: the current one must be given (a stolen session alone cannot
     * take the account over), the new one meets the policy and differs from it. The new hash and the
     * `user.password_change` audit entry commit together.
     */
    async changePassword(userId: string, current: string, next: string, ctx: RequestContext): Promise<void> {
      const row = await requireRow(db, userId);
      if (!(await verifyPassword(row.passwordHash, current))) throw new DomainError('wrong_password', 'the current password is wrong');
      if (next === current) throw new DomainError('weak_password', 'the new password must differ from the current one');
      checkPasswordPolicy(next, row.username, deps.passwordPolicy);
      const passwordHash = await hashPassword(next);
      await db.transaction(async (tx) => {
        await tx.update(users).set({ passwordHash }).where(eq(users.id, userId));
        await recordAudit(tx, { actorId: userId, action: 'user.password_change', target: userId, ip: ctx.ip });
      });
    },

    /** Checks a username and password; the failure never says which of the two was wrong. */
    async authenticate(username: string, password: string, ctx: RequestContext): Promise<User> {
      const [row] = await db.select().from(users).where(sql`lower(${users.username}) = lower(${username})`).limit(1);
      const ok = row ? await verifyPassword(row.passwordHash, password) : (await burnPasswordCheck(password), false);
      await recordAudit(db, {
        actorId: ok ? row!.id : null,
        action: ok ? 'auth.login' : 'auth.login_failed',
        target: row?.id ?? null,
        ip: ctx.ip,
        details: ok ? undefined : { username: username.slice(0, 64) },
      });
      if (!ok) throw new DomainError('invalid_credentials', 'wrong username or password');
      return toUser(row!);
    },

    /** By username, any case (usernames are unique case-insensitively). */
    async findByUsername(username: string): Promise<User | undefined> {
      const [row] = await db.select().from(users).where(sql`lower(${users.username}) = lower(${username})`).limit(1);
      return row && toUser(row);
    },

    async get(id: string): Promise<User> {
      return toUser(await requireRow(db, id));
    },

    /** Runs on every authenticated request: a prepared statement (planned once per connection). */
    async find(id: string): Promise<User | undefined> {
      const [row] = await findById.execute({ id });
      return row && toUser(row);
    },

    async profile(id: string): Promise<Profile> {
      const row = await requireRow(db, id);
      return {
        ...toUser(row),
        followers: row.followersCount,
        following: row.followingCount,
        roomId: deps.roomIdOf ? await deps.roomIdOf(id) : null,
        createdAt: row.createdAt.toISOString(),
      };
    },

    async updateNickname(exec: Executor, userId: string, nickname: string): Promise<void> {
      await exec.update(users).set({ nickname, updatedAt: new Date() }).where(eq(users.id, userId));
    },

    /** Creates an admin, or promotes an existing user; used by the CLI and the bootstrap setting. */
    async ensureAdmin(username: string, password: string | undefined, ctx: RequestContext) {
      const [existing] = await db.select().from(users).where(sql`lower(${users.username}) = lower(${username})`).limit(1);
      if (existing) {
        if (existing.role !== 'admin') {
          await db.transaction(async (tx) => {
            await tx.update(users).set({ role: 'admin', updatedAt: new Date() }).where(eq(users.id, existing.id));
            await recordAudit(tx, { actorId: ctx.actorId, action: 'user.role_change', target: existing.id, ip: ctx.ip, details: { role: 'admin' } });
          });
        }
        return { user: toUser({ ...existing, role: 'admin' }), created: false };
      }
      if (!password) throw new DomainError('validation_failed', 'a password is needed to create a new admin');
      const user = await this.register({ username, password }, ctx, 'admin');
      return { user, created: true };
    },
  };
}

export type UsersService = ReturnType<typeof createUsers>;
