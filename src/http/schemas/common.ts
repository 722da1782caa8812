// Building blocks of the API's zod schemas: text fields, ids, pages and the
// Idempotency-Key header. The server validates with these schemas, the OpenAPI
// document is generated from them and the client SDK takes its types from them.
import { z } from 'zod';
import { codePoints, normalizeText, textFault } from '../../domain/text.ts';

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

export const pageQuery = (maxLimit: number, defaultLimit: number) =>
  z.strictObject({
    cursor: z.string().max(512).optional(),
    limit: z.coerce.number().int().min(1).max(maxLimit).default(defaultLimit),
  });

export const page = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), nextCursor: z.string().nullable() });

export const idempotencyHeader = z.object({
  'idempotency-key': z
    .string()
    .max(255)
    .optional()
    .describe('Makes a retry safe: a replay returns the first reply and moves nothing; the same key with other parameters is 409.'),
});
