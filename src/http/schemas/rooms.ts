// Zod schemas of the rooms endpoints (requests and replies).
import { z } from 'zod';
import { END_REASONS, ROOM_STATUSES } from '../../db/schema.ts';
import { normalizeText } from '../../domain/text.ts';
import { noTextFault, pageQuery, plainText } from './common.ts';

export const roomTitle = plainText('title', 1, 80);
export const roomDescription = z
  .string()
  .max(4000, 'description must be at most 4000 characters')
  .transform(normalizeText)
  // The same rule as every other text, but line breaks and tabs may stay.
  .superRefine(noTextFault('description', { lineBreaks: true }));
const coverUrl = z.string().max(2048).nullable();

export const roomCreateBody = z.strictObject({
  title: roomTitle,
  description: roomDescription.optional(),
  coverUrl: coverUrl.optional(),
  record: z.boolean().optional().describe('Record each broadcast; recordings become MP4 files after the stream ends'),
});
export const roomPatchBody = roomCreateBody
  .partial()
  .refine((b) => Object.values(b).some((v) => v !== undefined), 'give at least one of title, description, coverUrl, record');

export const roomStatus = z.enum(ROOM_STATUSES);
export const room = z.object({
  id: z.string(),
  title: z.string(),
  description: z.string(),
  coverUrl: z.string().nullable(),
  previewUrl: z.string().nullable().describe('The cover, else the latest live snapshot'),
  status: roomStatus,
  interrupted: z.boolean().describe('Live, but the stream dropped on the media side for a moment (it may resume)'),
  online: z.number().int().describe('Clients in the live room'),
  viewers: z.number().int().describe('FLV, WS-FLV and HLS players'),
  record: z.boolean(),
  streamer: z.object({ id: z.string(), nickname: z.string(), avatarUrl: z.string().nullable() }),
  liveSince: z.string().nullable(),
  createdAt: z.string(),
  playback: z.object({ flv: z.string(), wsFlv: z.string(), hls: z.string(), whep: z.string().nullable() }),
});
export const ingest = z.object({
  rtmpUrl: z.string().describe('Push here (ffmpeg): rtmp://host:port/live/<streamKey>'),
  server: z.string().describe('OBS "Server"'),
  streamKey: z.string().describe('OBS "Stream Key"; shown only now'),
  whipUrl: z.string().nullable(),
});
export const ingestServer = ingest.pick({ server: true, whipUrl: true });
export const ingestServerReply = z.object({ ingest: ingestServer });
export const roomReply = z.object({ room });
export const roomCreatedReply = z.object({ room, ingest });
export const ingestReply = z.object({ ingest });
export const roomListQuery = (maxLimit: number, defaultLimit: number) =>
  pageQuery(maxLimit, defaultLimit).extend({ status: roomStatus.optional() });
export const liveSession = z.object({
  id: z.string(),
  startedAt: z.string(),
  endedAt: z.string().nullable(),
  endReason: z.enum(END_REASONS).nullable(),
  peakOnline: z.number().int(),
  peakViewers: z.number().int(),
  record: z.boolean(),
});
