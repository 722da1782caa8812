// Zod schema of a recording (the MP4 of a broadcast).
import { z } from 'zod';
import { RECORDING_STATUSES } from '../../db/schema.ts';

export const recording = z.object({
  id: z.string(),
  roomId: z.string(),
  sessionId: z.string().describe('The broadcast (GET /rooms/:id/sessions)'),
  status: z.enum(RECORDING_STATUSES).describe('recording while live, processing after the broadcast ended, then ready or failed'),
  bytes: z.number().int().describe('Size of the MP4 (0 until ready)'),
  durationSec: z.number(),
  createdAt: z.string(),
  readyAt: z.string().nullable(),
  url: z.string().nullable().describe('The MP4 (faststart; plays with range requests) once ready'),
});
