// How the room talks with one viewer: the connection as the room's parts see
// it, message handlers that run only on a body their schema accepts, and
// refusals as an `error` reply to that viewer alone.
import { DomainError, isDomainError } from '../domain/errors.ts';
import { clientMessages, type ClientMessageType, type LiveRoomBroadcasts, type LiveRoomClientMessages } from './messages.ts';
import type { ViewerAuth } from './viewer-auth.ts';

/** A viewer's connection: a Colyseus client in the room, a plain object in unit tests. */
export interface Viewer {
  readonly sessionId: string;
  readonly auth?: ViewerAuth;
  send<K extends keyof LiveRoomBroadcasts>(type: K, message: LiveRoomBroadcasts[K]): void;
  leave(code?: number, reason?: string): void;
}

/** Handlers by client message type; each gets a validated body. */
export type MessageHandlers = { [K in ClientMessageType]?: (viewer: Viewer, msg: LiveRoomClientMessages[K]) => Promise<void> };

export function replyError(viewer: Viewer, err: DomainError) {
  const body: LiveRoomBroadcasts['error'] = { code: err.code, message: err.message };
  if (typeof err.details?.retryAfterSec === 'number') body.retryAfterSec = err.details.retryAfterSec;
  viewer.send('error', body);
}

/**
 * The room's receiver of client messages: validates a body, runs its handler,
 * and turns a refusal into an `error` reply to that viewer only; an unexpected
 * failure is reported (`onFailure`) and answered `internal_error`, never with
 * its message. Resolves once the message is handled.
 */
export function messageReceiver(handlers: MessageHandlers, onFailure: (err: unknown, type: ClientMessageType) => void) {
  return async function receive(type: ClientMessageType, viewer: Viewer, raw: unknown): Promise<void> {
    const run = handlers[type] as ((viewer: Viewer, msg: unknown) => Promise<void>) | undefined;
    if (!run) return;
    const parsed = clientMessages[type].safeParse(raw ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return replyError(viewer, new DomainError('validation_failed', `${type}: ${issue?.path.join('.') || 'message'}: ${issue?.message ?? 'invalid'}`));
    }
    try {
      await run(viewer, parsed.data);
    } catch (err) {
      if (isDomainError(err)) return replyError(viewer, err);
      onFailure(err, type);
      viewer.send('error', { code: 'internal_error', message: 'internal error' });
    }
  };
}
