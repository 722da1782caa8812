// Zod schemas of uploads (avatars and room covers).
import { z } from 'zod';

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
