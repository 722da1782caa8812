// Who a viewer is: the token check of the matchmaking request (before a seat
// is reserved), the codes a refused or ended session gets, and the watch that
// ends a session once its token is revoked (a logout in any process) or expires.
import { ServerError, type AuthContext } from '@colyseus/core';
import type { ChatService, ChatUser } from '../domain/chat.ts';
import type { RoomEvents } from './room-events.ts';

export interface ViewerUser extends ChatUser {
  avatarUrl: string | null;
}

export interface ViewerAuth {
  user: ViewerUser | null;
  ip: string | null;
  /** The id of the token the user joined with: its revocation (logout) ends the session. */
  jti?: string;
  /** When that token expires (ms since the epoch): the session ends then too. */
  expiresAt?: number;
}

/** Token -> user: a revoked token is refused, a malformed or expired one means anonymous. */
export interface ViewerTokens {
  fromToken(token: string): Promise<{ state: 'valid'; user: ViewerUser; jti?: string; expiresAt?: number } | { state: 'revoked' | 'invalid' }>;
}

// Join refusals (HTTP statuses of the matchmaking request) and the close code of a banned viewer.
export const CODE_UNAUTHORIZED = 401;
export const CODE_BANNED = 403;
export const CODE_NOT_FOUND = 404;
export const CLOSE_BANNED = 4403;
/** The close code of a session whose token was revoked (the user logged out) or expired: sign in again. */
export const CLOSE_REVOKED = 4401;

/** Room ids are UUIDs; also the form Colyseus room ids take. */
export const ROOM_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Runs during the matchmaking request, before a seat is reserved. */
export async function authenticateViewer(
  deps: { viewers: ViewerTokens; chat: Pick<ChatService, 'isBanned'> },
  token: string | undefined,
  options: unknown,
  ctx: AuthContext,
): Promise<ViewerAuth> {
  const opts = (options ?? {}) as { token?: unknown; roomId?: unknown };
  const given = token || (typeof opts.token === 'string' ? opts.token : '');
  const ip = ctx?.ip ?? null;
  if (!given) return { user: null, ip };
  const checked = await deps.viewers.fromToken(given);
  if (checked.state === 'revoked') throw new ServerError(CODE_UNAUTHORIZED, 'this token was revoked; sign in again');
  if (checked.state !== 'valid') return { user: null, ip };
  if (typeof opts.roomId === 'string' && ROOM_ID.test(opts.roomId) && (await deps.chat.isBanned(opts.roomId, checked.user.id)))
    throw new ServerError(CODE_BANNED, 'you are banned from this room');
  return { user: checked.user, ip, jti: checked.jti, ...(checked.expiresAt === undefined ? {} : { expiresAt: checked.expiresAt }) };
}

/** Runs `fn` after `ms`; the returned function cancels it (the room's clock, in a room). */
export type Timer = (fn: () => void, ms: number) => () => void;

const MAX_TIMER_MS = 2 ** 31 - 1;

const realTimer: Timer = (fn, ms) => {
  const t = setTimeout(fn, ms);
  return () => clearTimeout(t);
};

/**
 * The signed-in sessions of one room and their tokens: a token that is
 * revoked or expires ends its session (`end`), which then gets no seat back.
 */
export class SessionRevocations {
  private readonly events: Pick<RoomEvents, 'onRevoked'>;
  private readonly end: (sessionId: string, why: 'revoked' | 'expired') => void;
  private readonly timer: Timer;
  private readonly now: () => number;
  /** Per session: stops watching its token. */
  private readonly watches = new Map<string, () => void>();
  private readonly revoked = new Set<string>();

  constructor(
    events: Pick<RoomEvents, 'onRevoked'>,
    end: (sessionId: string, why: 'revoked' | 'expired') => void,
    timer: Timer = realTimer,
    now: () => number = Date.now,
  ) {
    this.events = events;
    this.end = end;
    this.timer = timer;
    this.now = now;
  }

  watch(sessionId: string, jti: string, expiresAt?: number) {
    const ended = (why: 'revoked' | 'expired') => () => {
      this.revoked.add(sessionId);
      this.end(sessionId, why);
    };
    const offRevoked = this.events.onRevoked(jti, ended('revoked'));
    // an expired token must not keep a socket that joined before it expired
    let offExpiry = () => {};
    const expire = ended('expired');
    const waitForExpiry = () => {
      const left = expiresAt! - this.now();
      // timers hold at most 2^31-1 ms (24.8 days): a longer token is checked again then
      offExpiry = left <= 0 ? (expire(), () => {}) : this.timer(waitForExpiry, Math.min(left, MAX_TIMER_MS));
    };
    if (expiresAt !== undefined) waitForExpiry();
    this.watches.set(sessionId, () => {
      offRevoked();
      offExpiry();
    });
  }

  isRevoked(sessionId: string): boolean {
    return this.revoked.has(sessionId);
  }

  /** The session is gone for good. */
  forget(sessionId: string) {
    this.watches.get(sessionId)?.();
    this.watches.delete(sessionId);
    this.revoked.delete(sessionId);
  }

  close() {
    for (const off of this.watches.values()) off();
    this.watches.clear();
  }
}
