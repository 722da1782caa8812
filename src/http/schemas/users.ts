// Zod schemas of accounts: registration, login, users, profiles and follows.
import { z } from 'zod';
import { plainText } from './common.ts';

export const username = z
  .string()
  .regex(/^[A-Za-z0-9_]{3,32}$/, 'username must be 3 to 32 letters, digits or underscores');
// Length is checked by the password policy (domain), which knows the settings.
export const password = z.string().min(1, 'password is required').max(4096, 'password is too long');
export const nickname = plainText('nickname', 1, 32);

export const registerBody = z.strictObject({ username, password, nickname: nickname.optional() });
// Every username is ASCII (see `username`): anything else cannot match, and a NUL or a lone surrogate would
// reach the database, and İ lowercases to "i" there but not in JS (the login guard's keys would differ).
export const passwordChangeBody = z.strictObject({ currentPassword: password, newPassword: password });
export const loginBody = z.strictObject({ username: z.string().min(1).max(64).regex(/^[\x21-\x7e]+$/, 'username must be printable ASCII'), password });
export const profilePatchBody = z
  .strictObject({ nickname: nickname.optional(), avatarUrl: z.string().max(2048).nullable().optional() })
  .refine((b) => b.nickname !== undefined || b.avatarUrl !== undefined, 'give nickname or avatarUrl');

export const user = z.object({
  id: z.string(),
  username: z.string(),
  nickname: z.string(),
  avatarUrl: z.string().nullable(),
  role: z.enum(['user', 'admin']),
});
export const profile = user.extend({
  followers: z.number().int(),
  following: z.number().int(),
  roomId: z.string().nullable(),
  createdAt: z.string(),
});
export const userReply = z.object({ user });
export const loginReply = z.object({ token: z.string(), expiresAt: z.string(), user });
export const followItem = user.extend({ followedAt: z.string() });
