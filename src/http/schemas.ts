// Zod schemas of the public API (request shapes and reply shapes). The server
// validates with them, the OpenAPI document is generated from them and the
// client SDK takes its types from them.
import { z } from 'zod';
import { codePoints, normalizeText, textFault } from '../domain/text.ts';

/** A refinement with textFault()'s reason as its message. */
export const noTextFault =
  (field: string, opts: { lineBreaks?: boolean } = {}) =>
  (s: string, ctx: z.RefinementCtx) => {
    const fault = textFault(s, opts);
    if (fault) ctx.addIssue({ code: 'custom', message: `${field} ${fault}` });
  };

/** Trimmed, NFC-normalised plain text of bounded length (counted in code points), without controls or invisible characters. */
export const plainText = (field: string, min: number, max: number) =>
  z
    .string()
    .transform(normalizeText)
    .superRefine(noTextFault(field))
    .refine((s) => codePoints(s) >= min, `${field} must be at least ${min} characters`)
    .refine((s) => codePoints(s) <= max, `${field} must be at most ${max} characters`);

export const id = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'not a valid id');
export const idParams = z.strictObject({ id });

export const username = z
  .string()
  .regex(/^[A-Za-z0-9_]{3,32}$/, 'username must be 3 to 32 letters, digits or underscores');
// Length is checked by the password policy (domain), which knows the settings.
export const password = z.string().min(1, 'password is required').max(4096, 'password is too long');
export const nickname = plainText('nickname', 1, 32);

export const registerBody = z.strictObject({ username, password, nickname: nickname.optional() });
// Every username is ASCII (see `username`): anything else cannot match, and a NUL or a lone surrogate would
// reach the database, and İ lowercases to "i" there but not in JS (the login guard's keys would differ).
export const loginBody = z.strictObject({ username: z.string().min(1).max(64).regex(/^[\x21-\x7e]+$/, 'username must be printable ASCII'), password });
export const profilePatchBody = z
  .strictObject({ nickname: nickname.optional(), avatarUrl: z.string().max(2048).nullable().optional() })
  .refine((b) => b.nickname !== undefined || b.avatarUrl !== undefined, 'give nickname or avatarUrl');

export const pageQuery = (maxLimit: number, defaultLimit: number) =>
  z.strictObject({
    cursor: z.string().max(512).optional(),
    limit: z.coerce.number().int().min(1).max(maxLimit).default(defaultLimit),
  });

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
export const page = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), nextCursor: z.string().nullable() });

export const fileKind = z.enum(['avatar', 'cover']);
export const fileReply = z.object({
  id: z.string(),
  url: z.string(),
  kind: fileKind,
  contentType: z.string(),
  bytes: z.number().int(),
  width: z.number().int(),
  height: z.number().int(),
});

export const auditQuery = (maxLimit: number, defaultLimit: number) =>
  pageQuery(maxLimit, defaultLimit).extend({
    actor: z.string().max(64).regex(/^[\x21-\x7e]*$/, 'actor must be printable ASCII').optional(),
    action: z.string().max(64).regex(/^[\x21-\x7e]*$/, 'action must be printable ASCII').optional(),
  });
export const auditItem = z.object({
  id: z.string(),
  at: z.string(),
  actorId: z.string().nullable(),
  action: z.string(),
  target: z.string().nullable(),
  ip: z.string().nullable(),
  details: z.record(z.string(), z.unknown()).nullable(),
});

export type UserDto = z.infer<typeof user>;
export type ProfileDto = z.infer<typeof profile>;
export type LoginReply = z.infer<typeof loginReply>;
export type FileDto = z.infer<typeof fileReply>;
export type AuditItemDto = z.infer<typeof auditItem>;
