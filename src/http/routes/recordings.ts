// Recordings of broadcasts, and the media files the API server serves from
// DATA_DIR: live previews (/previews/<roomId>.jpg) and finished recordings
// (/recordings/<id>.mp4, with HTTP range requests).
import type { Express, RequestHandler } from 'express';
import type { Services } from '../../domain/services.ts';
import { previewFile, recordingFile } from '../../media/paths.ts';
import { notFoundHandler } from '../errors.ts';
import { route, type Api } from '../route.ts';
import type { PageLimits } from '../route-settings.ts';
import { idParams, page, pageQuery } from '../schemas/common.ts';
import { recording } from '../schemas/recordings.ts';

export function recordingRoutes(api: Api, services: Services, pages: PageLimits) {
  route(
    api,
    {
      method: 'get', path: '/rooms/:id/recordings', summary: 'Recordings of a room\'s broadcasts, newest first', tags: ['rooms'], auth: 'none',
      params: idParams, query: pageQuery(pages.max, pages.default),
      responses: { 200: { description: 'A page of recordings', schema: page(recording) }, 404: { description: 'No such room' } },
    },
    async ({ params, query }) => {
      await services.rooms.get(params.id);
      return { body: await services.recordings.list(params.id, query) };
    },
  );
}

const PREVIEW = /^([A-Za-z0-9_-]{1,128})\.jpg$/;
const RECORDING = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.mp4$/;

/** GET /previews/<roomId>.jpg and GET /recordings/<id>.mp4 (Range supported by sendFile). */
export function mediaFileRoutes(app: Express, dataDir: string) {
  const serve =
    (pattern: RegExp, file: (id: string) => string, opts: { maxAge: string; type: string }): RequestHandler =>
    (req, res, next) => {
      const m = pattern.exec(String(req.params.name));
      if (!m) return notFoundHandler(req, res, next);
      res.sendFile(file(m[1]!), { maxAge: opts.maxAge, headers: { 'Content-Type': opts.type, 'X-Content-Type-Options': 'nosniff' } }, (err) => {
        if (err && !res.headersSent) notFoundHandler(req, res, next);
      });
    };
  // previews change every THUMBNAIL_EVERY_SEC (room URLs carry ?t=<time> to bust caches)
  app.get('/previews/:name', serve(PREVIEW, (id) => previewFile(dataDir, id), { maxAge: '10s', type: 'image/jpeg' }));
  app.get('/recordings/:name', serve(RECORDING, (id) => recordingFile(dataDir, id), { maxAge: '1d', type: 'video/mp4' }));
}
