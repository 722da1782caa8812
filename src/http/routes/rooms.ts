import type { Services } from '../../domain/services.ts';
import { route, type Api } from '../route.ts';
import type { PageLimits } from '../route-settings.ts';
import { idParams, page, pageQuery } from '../schemas/common.ts';
import { ingestReply, ingestServerReply, liveSession, room, roomCreateBody, roomCreatedReply, roomListQuery, roomPatchBody, roomReply } from '../schemas/rooms.ts';

export function roomRoutes(api: Api, services: Services, pages: PageLimits) {
  route(
    api,
    {
      method: 'post', path: '/rooms', summary: 'Create your room (one per user); the stream key is shown only in this reply', tags: ['rooms'],
      auth: 'user', body: roomCreateBody,
      responses: {
        201: { description: 'Created, with the ingest URL and stream key', schema: roomCreatedReply },
        409: { description: 'You already have a room (`details.roomId`)' },
      },
    },
    async ({ body, user, ctx }) => ({ status: 201, body: await services.rooms.create(user!.id, body, ctx) }),
  );

  route(
    api,
    {
      method: 'get', path: '/rooms', summary: 'Rooms: live ones first, busiest first', tags: ['rooms'], auth: 'none',
      query: roomListQuery(pages.max, pages.default),
      responses: { 200: { description: 'A page of rooms', schema: page(room) } },
    },
    async ({ query }) => ({ body: await services.rooms.list(query) }),
  );

  route(
    api,
    {
      method: 'get', path: '/rooms/:id', summary: 'A room with its status, audience and playback URLs', tags: ['rooms'], auth: 'none', params: idParams,
      responses: { 200: { description: 'The room', schema: roomReply }, 404: { description: 'No such room' } },
    },
    async ({ params }) => ({ body: { room: await services.rooms.get(params.id) } }),
  );

  route(
    api,
    {
      method: 'patch', path: '/rooms/:id', summary: 'Change title, description, cover or recording (owner or admin)', tags: ['rooms'],
      auth: 'user', params: idParams, body: roomPatchBody,
      responses: { 200: { description: 'Updated', schema: roomReply }, 403: { description: 'Not yours' }, 404: { description: 'No such room' } },
    },
    async ({ params, body, user, ctx }) => ({ body: { room: await services.rooms.update(user!, params.id, body, ctx) } }),
  );

  route(
    api,
    {
      method: 'post', path: '/rooms/:id/stream-key', summary: 'A new stream key; the old one stops working and a broadcast on it ends', tags: ['rooms'],
      auth: 'user', params: idParams,
      responses: { 201: { description: 'The new ingest details (shown only now)', schema: ingestReply }, 403: { description: 'Not yours' } },
    },
    async ({ params, user, ctx }) => ({ status: 201, body: { ingest: await services.rooms.rotateKey(user!, params.id, ctx) } }),
  );

  route(
    api,
    {
      method: 'get', path: '/rooms/:id/ingest', summary: 'Where to push (OBS "Server"), without the stream key (owner or admin)', tags: ['rooms'],
      auth: 'user', params: idParams,
      responses: { 200: { description: 'The ingest server', schema: ingestServerReply }, 403: { description: 'Not yours' }, 404: { description: 'No such room' } },
    },
    async ({ params, user }) => ({ body: { ingest: await services.rooms.ingestServer(user!, params.id) } }),
  );

  route(
    api,
    {
      method: 'post', path: '/rooms/:id/end', summary: 'End the broadcast and disconnect the publisher (owner or admin)', tags: ['rooms'],
      auth: 'user', params: idParams,
      responses: { 204: { description: 'Ended (or was not live)' }, 403: { description: 'Not yours' }, 404: { description: 'No such room' } },
    },
    async ({ params, user, ctx }) => {
      await services.rooms.end(user!, params.id, ctx);
      return { status: 204 };
    },
  );

  route(
    api,
    {
      method: 'get', path: '/rooms/:id/sessions', summary: 'Past and current broadcasts of a room, newest first', tags: ['rooms'], auth: 'none',
      params: idParams, query: pageQuery(pages.max, pages.default),
      responses: { 200: { description: 'A page of broadcasts', schema: page(liveSession) }, 404: { description: 'No such room' } },
    },
    async ({ params, query }) => ({ body: await services.rooms.sessions(params.id, query) }),
  );
}
