import type { RequestHandler } from 'express';
import multer from 'multer';
import { z } from 'zod';
import { DomainError } from '../../domain/errors.ts';
import type { Services } from '../../domain/services.ts';
import { route, validate, type Api } from '../route.ts';
import { fileKind, fileReply } from '../schemas/files.ts';

const uploadFields = z.strictObject({ kind: fileKind });

export function fileRoutes(api: Api, services: Services, uploadMaxBytes: number) {
  // Memory storage: the bytes are sniffed and re-encoded before anything touches the disk.
  const parse = multer({
    storage: multer.memoryStorage(),
    limits: { fileSize: uploadMaxBytes, files: 1, fields: 4, fieldSize: 1024, parts: 6 },
  }).single('file');
  // Limits come as MulterError (mapped by code in http/errors.ts); anything else is busboy failing to parse the body.
  const upload: RequestHandler = (req, res, next) =>
    parse(req, res, (err?: unknown) => {
      if (!err || err instanceof multer.MulterError) return next(err);
      next(new DomainError('validation_failed', 'malformed multipart body'));
    });

  route(
    api,
    {
      method: 'post', path: '/files', summary: 'Upload an avatar or room cover image (PNG, JPEG, WebP, GIF)', tags: ['files'], auth: 'user',
      multipart: z.object({ file: z.string().describe('the image (binary)'), kind: fileKind }),
      before: [upload],
      responses: {
        201: { description: 'Stored (re-encoded as WebP)', schema: fileReply },
        413: { description: 'Too large' },
        415: { description: 'Not an accepted image' },
      },
    },
    async ({ req, user, ctx }) => {
      if (!req.is('multipart/form-data')) throw new DomainError('unsupported_media_type', 'send multipart/form-data with fields file and kind');
      const { kind } = validate(uploadFields, { ...req.body }, 'body');
      if (!req.file) throw new DomainError('validation_failed', 'body.file: a file is required');
      return { status: 201, body: await services.files.upload(user!.id, kind, req.file.buffer, ctx) };
    },
  );
}
