// Changing one's own profile: nickname and avatar in one transaction, audited.
import type { Db } from '../db/connect.ts';
import { recordAudit } from './audit.ts';
import type { FilesService } from './files.ts';
import type { RequestContext, User, UsersService } from './users.ts';

export interface ProfilePatch {
  nickname?: string;
  avatarUrl?: string | null;
}

export function createProfiles(deps: { db: Db; users: UsersService; files: FilesService }) {
  return {
    async update(userId: string, patch: ProfilePatch, ctx: RequestContext): Promise<User> {
      let dropped: string | null = null;
      await deps.db.transaction(async (tx) => {
        if (patch.nickname !== undefined) await deps.users.updateNickname(tx, userId, patch.nickname);
        if (patch.avatarUrl !== undefined) dropped = await deps.files.changeAvatar(tx, userId, patch.avatarUrl, ctx);
        await recordAudit(tx, {
          actorId: userId,
          action: 'user.profile_change',
          target: userId,
          ip: ctx.ip,
          details: { fields: Object.keys(patch) },
        });
      });
      if (dropped) await deps.files.unlinkQuietly(dropped);
      return deps.users.get(userId);
    },
  };
}

export type ProfilesService = ReturnType<typeof createProfiles>;
