// Uploaded images (avatars, room covers). The type is sniffed from the bytes,
// the image is decoded and re-encoded (which drops metadata and anything
// hidden after the image data), and it is stored under a server-chosen name.
import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { and, eq } from 'drizzle-orm';
import { fileTypeFromBuffer } from 'file-type';
import sharp from 'sharp';
import type { Db, Executor } from '../db/connect.ts';
import { files, users } from '../db/schema.ts';
import { recordAudit } from './audit.ts';
import { DomainError } from './errors.ts';
import { newId } from './ids.ts';
import type { RequestContext } from './users.ts';

export type FileKind = 'avatar' | 'cover';
export const ACCEPTED_IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'] as const;
const STORED_NAME = /^[0-9a-f-]{36}\.webp$/;

export interface FilesDeps {
  db: Db;
  dir: string;
  /** Read on every use: with PORT=0 the public URL is known only once the server listens. */
  publicUrl: () => string;
  limits: { maxBytes: number; maxPixels: number; avatarPx: number; coverWidthPx: number };
}

export interface StoredFile {
  id: string;
  url: string;
  kind: FileKind;
  contentType: string;
  bytes: number;
  width: number;
  height: number;
}

export function createFiles(deps: FilesDeps) {
  const urlOf = (id: string) => `${deps.publicUrl()}/files/${id}.webp`;

  async function encode(input: Buffer, kind: FileKind) {
    if (input.length > deps.limits.maxBytes)
      throw new DomainError('file_too_large', `files may be at most ${deps.limits.maxBytes} bytes`);
    const sniffed = await fileTypeFromBuffer(input);
    if (!sniffed || !(ACCEPTED_IMAGE_TYPES as readonly string[]).includes(sniffed.mime))
      throw new DomainError('unsupported_media_type', `only ${ACCEPTED_IMAGE_TYPES.join(', ')} images are accepted`);
    const animated = sniffed.mime === 'image/gif' || sniffed.mime === 'image/webp';
    try {
      let img = sharp(input, { animated, limitInputPixels: deps.limits.maxPixels, failOn: 'error' }).rotate();
      img =
        kind === 'avatar'
          ? img.resize(deps.limits.avatarPx, deps.limits.avatarPx, { fit: 'cover' })
          : img.resize({ width: deps.limits.coverWidthPx, withoutEnlargement: true });
      const { data, info } = await img.webp({ quality: 82 }).toBuffer({ resolveWithObject: true });
      return { data, width: info.width, height: info.pageHeight ?? info.height };
    } catch {
      throw new DomainError('unsupported_media_type', 'the image could not be decoded');
    }
  }

  async function removeStored(exec: Executor, fileId: string) {
    await exec.delete(files).where(eq(files.id, fileId));
  }

  async function unlinkQuietly(fileId: string) {
    await unlink(path.join(deps.dir, `${fileId}.webp`)).catch(() => {});
  }

  return {
    urlOf,

    /** Absolute path of a stored file by its public name, or undefined for any other name. */
    pathOf(name: string): string | undefined {
      return STORED_NAME.test(name) ? path.join(deps.dir, name) : undefined;
    },

    /** Stores an image. An avatar becomes the owner's avatar at once and the previous one is deleted. */
    async upload(ownerId: string, kind: FileKind, input: Buffer, ctx: RequestContext): Promise<StoredFile> {
      const { data, width, height } = await encode(input, kind);
      const id = newId();
      const storageName = `${id}.webp`;
      await mkdir(deps.dir, { recursive: true });
      const tmp = path.join(deps.dir, `.${storageName}.tmp`);
      await writeFile(tmp, data);
      await rename(tmp, path.join(deps.dir, storageName));
      let replaced: string | null = null;
      try {
        await deps.db.transaction(async (tx) => {
          await tx.insert(files).values({ id, ownerId, kind, contentType: 'image/webp', storageName, bytes: data.length, width, height });
          await recordAudit(tx, { actorId: ownerId, action: 'file.upload', target: id, ip: ctx.ip, details: { kind, bytes: data.length } });
          if (kind === 'avatar') replaced = await setAvatar(tx, ownerId, id, ctx);
        });
      } catch (e) {
        await unlinkQuietly(id);
        throw e;
      }
      if (replaced) await unlinkQuietly(replaced);
      return { id, url: urlOf(id), kind, contentType: 'image/webp', bytes: data.length, width, height };
    },

    /** Sets the avatar to one of the user's own uploaded avatars (by URL), or clears it with null. */
    async changeAvatar(tx: Executor, userId: string, url: string | null, ctx: RequestContext): Promise<string | null> {
      if (url === null) return setAvatar(tx, userId, null, ctx);
      const match = /\/files\/([0-9a-f-]{36})\.webp$/.exec(url);
      const fileId = match && url === urlOf(match[1]!) ? match[1]! : undefined;
      const [file] = fileId
        ? await tx.select().from(files).where(and(eq(files.id, fileId), eq(files.ownerId, userId), eq(files.kind, 'avatar'))).limit(1)
        : [];
      if (!file) throw new DomainError('invalid_avatar_url', 'avatarUrl must be the URL of an avatar you uploaded, or null');
      return setAvatar(tx, userId, file.id, ctx);
    },

    unlinkQuietly,
  };

  /** Points the user at a new avatar, drops the old row, and returns the old file id to unlink after commit. */
  async function setAvatar(tx: Executor, userId: string, fileId: string | null, ctx: RequestContext): Promise<string | null> {
    const [user] = await tx.select({ avatar: users.avatarFileId }).from(users).where(eq(users.id, userId)).for('update');
    const previous = user?.avatar ?? null;
    if (previous === fileId) return null;
    await tx.update(users).set({ avatarFileId: fileId, updatedAt: new Date() }).where(eq(users.id, userId));
    if (previous) await removeStored(tx, previous);
    await recordAudit(tx, { actorId: userId, action: 'user.avatar_change', target: userId, ip: ctx.ip, details: { fileId } });
    return previous;
  }
}

export type FilesService = ReturnType<typeof createFiles>;
