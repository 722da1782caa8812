// The Liveroom client SDK: typed REST calls (types from the server's zod
// schemas, imported as types only so this file bundles for browsers) and live
// rooms over @colyseus/sdk. Runs in Node >= 22 and browsers (fetch, WebSocket).
import { Callbacks, Client as ColyseusClient, type Room } from '@colyseus/sdk';
import type { z } from 'zod';
import type { auditItem } from '../http/schemas/audit.ts';
import type { fileReply } from '../http/schemas/files.ts';
import type { gift as giftSchema, sendGiftReply, topFansReply } from '../http/schemas/gifts.ts';
import type { enterReply, entrantsReply, lottery as lotterySchema, lotteryCreateBody } from '../http/schemas/lotteries.ts';
import type { rankingsReply } from '../http/schemas/rankings.ts';
import type { ingest, ingestServer, liveSession, room as roomSchema, roomCreateBody, roomPatchBody } from '../http/schemas/rooms.ts';
import type { followItem, loginReply, profile, registerBody, user } from '../http/schemas/users.ts';
import type { balanceReply, ledgerItem, walletReply } from '../http/schemas/wallet.ts';
import type { GiftBroadcast, LiveRoomBroadcasts, LotteryResult } from '../rooms/messages.ts';
import type { ChatLine, GiftLine, LiveRoomState } from '../rooms/state.ts';
import type { RankBoard, RankingsState } from '../rooms/rankings-state.ts';

export type User = z.infer<typeof user>;
export type Profile = z.infer<typeof profile>;
export type LoginReply = z.infer<typeof loginReply>;
export type RegisterInput = z.input<typeof registerBody>;
export type FollowItem = z.infer<typeof followItem>;
export type FileInfo = z.infer<typeof fileReply>;
export type AuditItem = z.infer<typeof auditItem>;
export type Wallet = z.infer<typeof walletReply>;
export type LedgerItem = z.infer<typeof ledgerItem>;
export type Gift = z.infer<typeof giftSchema>;
export type SendGiftReply = z.infer<typeof sendGiftReply>;
export type TopFans = z.infer<typeof topFansReply>;
export type Balance = z.infer<typeof balanceReply>;
export type RoomInfo = z.infer<typeof roomSchema>;
export type Ingest = z.infer<typeof ingest>;
export type IngestServer = z.infer<typeof ingestServer>;
export type LiveSession = z.infer<typeof liveSession>;
export type RoomInput = z.input<typeof roomCreateBody>;
export type RoomPatch = z.input<typeof roomPatchBody>;
export type Rankings = z.infer<typeof rankingsReply>;
export type Lottery = z.infer<typeof lotterySchema>;
export type LotteryInput = z.input<ReturnType<typeof lotteryCreateBody>>;
export type EnterReply = z.infer<typeof enterReply>;
export type Entrants = z.infer<typeof entrantsReply>;
export type { LotteryResult };
export interface RankingsQuery {
  board: Rankings['board'];
  window?: Rankings['window'];
  limit?: number;
}
export type { RankingsState, RankBoard };
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
export type { ChatLine, GiftLine, LiveRoomState, GiftBroadcast };
export type LiveRoomEvents = LiveRoomBroadcasts;

/** An HTTP error reply (`{error: {code, message}}`) or a refused room join. */
export class LiveroomError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details?: Record<string, unknown>;
  constructor(status: number, code: string, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'LiveroomError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export interface LiveroomClientOptions {
  /** The server's base URL, e.g. `http://localhost:8080`. */
  baseUrl: string;
  token?: string;
  fetch?: typeof fetch;
  /**
   * A request the server shed (503 `overloaded`) was refused before it did
   * anything, so the client sends it again after the reply's Retry-After, for
   * up to this long (default 10 s; 0 never retries).
   */
  retryShedForMs?: number;
}

type Query = Record<string, string | number | boolean | undefined>;

// Join refusals from the server (src/rooms/viewer-auth.ts) as error codes.
const JOIN_CODES: Record<number, [number, string]> = { 401: [401, 'unauthorized'], 403: [403, 'banned'], 404: [404, 'not_found'] };

export class LiveroomClient {
  readonly baseUrl: string;
  token: string | undefined;
  private readonly fetchFn: typeof fetch;
  private readonly retryShedForMs: number;

  constructor(opts: LiveroomClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/$/, '');
    this.token = opts.token;
    this.fetchFn = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.retryShedForMs = opts.retryShedForMs ?? 10_000;
  }

  /** One REST call; a non-2xx reply throws LiveroomError with the server's code. */
  async request<T>(method: string, path: string, opts: { json?: unknown; query?: Query; headers?: Record<string, string>; body?: BodyInit } = {}): Promise<T> {
    const headers: Record<string, string> = { ...opts.headers };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let body = opts.body;
    if (opts.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.json);
    }
    const qs = opts.query
      ? Object.entries(opts.query)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
          .join('&')
      : '';
    const giveUpAt = Date.now() + this.retryShedForMs;
    let res: Response;
    let data: any;
    for (;;) {
      res = await this.fetchFn(`${this.baseUrl}/api${path}${qs ? `?${qs}` : ''}`, { method, headers, body });
      const text = await res.text();
      data = text && (res.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : undefined;
      if (res.status !== 503 || data?.error?.code !== 'overloaded' || Date.now() >= giveUpAt) break;
      const waitMs = Math.min(Number(res.headers.get('retry-after')) || 1, 5) * 1000;
      await new Promise((r) => setTimeout(r, waitMs));
    }
    if (!res.ok) {
      const e = data?.error ?? {};
      throw new LiveroomError(res.status, e.code ?? 'http_error', e.message ?? `HTTP ${res.status}`, e.details);
    }
    return data as T;
  }

  // --- auth
  register(input: RegisterInput): Promise<{ user: User }> {
    return this.request('POST', '/auth/register', { json: input });
  }
  /** Logs in and keeps the token for later calls and room joins. */
  async login(username: string, password: string): Promise<LoginReply> {
    const reply = await this.request<LoginReply>('POST', '/auth/login', { json: { username, password } });
    this.token = reply.token;
    return reply;
  }
  async logout(): Promise<void> {
    await this.request('POST', '/auth/logout');
    this.token = undefined;
  }
  me(): Promise<{ user: User }> {
    return this.request('GET', '/auth/me');
  }
  /** Changes the password; the current one is required (403 `wrong_password` otherwise). The token stays valid. */
  async changePassword(currentPassword: string, newPassword: string): Promise<void> {
    await this.request('POST', '/auth/password', { json: { currentPassword, newPassword } });
  }

  // --- users and follows
  getUser(id: string): Promise<Profile> {
    return this.request('GET', `/users/${encodeURIComponent(id)}`);
  }
  updateMe(patch: { nickname?: string; avatarUrl?: string | null }): Promise<{ user: User }> {
    return this.request('PATCH', '/users/me', { json: patch });
  }
  async follow(userId: string): Promise<void> {
    await this.request('PUT', `/users/${encodeURIComponent(userId)}/follow`);
  }
  async unfollow(userId: string): Promise<void> {
    await this.request('DELETE', `/users/${encodeURIComponent(userId)}/follow`);
  }
  followers(userId: string, q: { cursor?: string; limit?: number } = {}): Promise<Page<FollowItem>> {
    return this.request('GET', `/users/${encodeURIComponent(userId)}/followers`, { query: q });
  }
  following(userId: string, q: { cursor?: string; limit?: number } = {}): Promise<Page<FollowItem>> {
    return this.request('GET', `/users/${encodeURIComponent(userId)}/following`, { query: q });
  }

  // --- rooms
  /** Your room; `ingest.streamKey` is shown only in this reply (and at rotation). */
  createRoom(input: RoomInput): Promise<{ room: RoomInfo; ingest: Ingest }> {
    return this.request('POST', '/rooms', { json: input });
  }
  listRooms(q: { status?: RoomInfo['status']; cursor?: string; limit?: number } = {}): Promise<Page<RoomInfo>> {
    return this.request('GET', '/rooms', { query: q });
  }
  getRoom(id: string): Promise<{ room: RoomInfo }> {
    return this.request('GET', `/rooms/${encodeURIComponent(id)}`);
  }
  updateRoom(id: string, patch: RoomPatch): Promise<{ room: RoomInfo }> {
    return this.request('PATCH', `/rooms/${encodeURIComponent(id)}`, { json: patch });
  }
  /** Your room's ingest server (OBS "Server") without the key, which only create and rotation reveal. */
  ingestServer(id: string): Promise<{ ingest: IngestServer }> {
    return this.request('GET', `/rooms/${encodeURIComponent(id)}/ingest`);
  }
  /** A new stream key; the old one stops working and a broadcast on it ends. */
  rotateStreamKey(id: string): Promise<{ ingest: Ingest }> {
    return this.request('POST', `/rooms/${encodeURIComponent(id)}/stream-key`);
  }
  async endBroadcast(id: string): Promise<void> {
    await this.request('POST', `/rooms/${encodeURIComponent(id)}/end`);
  }
  roomSessions(id: string, q: { cursor?: string; limit?: number } = {}): Promise<Page<LiveSession>> {
    return this.request('GET', `/rooms/${encodeURIComponent(id)}/sessions`, { query: q });
  }

  // --- wallet and gifts
  wallet(): Promise<Wallet> {
    return this.request('GET', '/wallet');
  }
  ledger(q: { cursor?: string; limit?: number; account?: string } = {}): Promise<Page<LedgerItem>> {
    return this.request('GET', '/wallet/ledger', { query: q });
  }
  gifts(): Promise<{ items: Gift[] }> {
    return this.request('GET', '/gifts');
  }
  /** Pass the same idempotencyKey when retrying: the gift is paid once. */
  sendGift(roomId: string, input: { giftId: string; count: number }, idempotencyKey?: string): Promise<SendGiftReply> {
    return this.request('POST', `/rooms/${encodeURIComponent(roomId)}/gifts`, {
      json: input,
      headers: idempotencyKey ? { 'idempotency-key': idempotencyKey } : undefined,
    });
  }
  topFans(roomId: string, q: { window?: 'day' | 'all'; limit?: number } = {}): Promise<TopFans> {
    return this.request('GET', `/rooms/${encodeURIComponent(roomId)}/top-fans`, { query: q });
  }

  // --- lotteries and rankings
  /** Starts a lottery in your room; the reply's `seedHash` commits to the draw. */
  async createLottery(roomId: string, input: LotteryInput): Promise<Lottery> {
    return (await this.request<{ lottery: Lottery }>('POST', `/rooms/${encodeURIComponent(roomId)}/lotteries`, { json: input })).lottery;
  }
  /** Enters a click lottery; `entered: false` when you were in already (counted once). */
  enterLottery(lotteryId: string): Promise<EnterReply> {
    return this.request('POST', `/lotteries/${encodeURIComponent(lotteryId)}/entries`);
  }
  async getLottery(lotteryId: string): Promise<Lottery> {
    return (await this.request<{ lottery: Lottery }>('GET', `/lotteries/${encodeURIComponent(lotteryId)}`)).lottery;
  }
  /** Entrants in byte order of their ids, a page at a time (for verifying a draw). */
  lotteryEntrants(lotteryId: string, q: { cursor?: string; limit?: number } = {}): Promise<Entrants> {
    return this.request('GET', `/lotteries/${encodeURIComponent(lotteryId)}/entries`, { query: q });
  }
  /** A leaderboard: `board` room_audience | streamer_followers | streamer_revenue, `window` hour | day | week | all (UTC periods). */
  rankings(q: RankingsQuery): Promise<Rankings> {
    return this.request('GET', '/rankings', { query: { ...q } });
  }

  /** Joins the `rankings` room: every board in its state, updated as they change. */
  async joinRankings(): Promise<RankingsConnection> {
    const colyseus = new ColyseusClient(this.baseUrl);
    try {
      const room = await colyseus.joinOrCreate<RankingsState>('rankings');
      if (!room.state?.boards || room.state.boards.size === 0) await new Promise<void>((resolve) => room.onStateChange.once(() => resolve()));
      return new RankingsConnection(room);
    } catch (e) {
      const err = e as { code?: number; message?: string };
      throw new LiveroomError(err.code && err.code >= 400 && err.code < 600 ? err.code : 500, 'join_failed', err.message ?? 'could not join the rankings room');
    }
  }

  /** Joins the live room of a room id (as the logged-in user, or anonymously without a token). */
  async joinRoom(roomId: string): Promise<LiveRoomConnection> {
    const colyseus = new ColyseusClient(this.baseUrl);
    try {
      const room = await colyseus.joinOrCreate<LiveRoomState>('live', this.token ? { roomId, token: this.token } : { roomId });
      // Known broadcasts get their handlers at once: one may come before the first state.
      const connection = new LiveRoomConnection(room);
      // The join reply comes before the first full state: hand out a room whose state is there.
      if (room.state?.roomId === undefined || room.state.roomId === '') await new Promise<void>((resolve) => room.onStateChange.once(() => resolve()));
      return connection;
    } catch (e) {
      const err = e as { code?: number; message?: string };
      const [status, code] = JOIN_CODES[err.code ?? 0] ?? [err.code && err.code >= 400 && err.code < 600 ? err.code : 500, 'join_failed'];
      throw new LiveroomError(status, code, err.message ?? 'could not join the room');
    }
  }
}

type Unsubscribe = () => void;

/**
 * `room.leave()` of a connection the server closed (a ban, a dispose) would wait forever for a close that
 * already happened; the connections remember the close code and answer it at once.
 */
function leaveOnce(room: Room<any, any>): () => Promise<number> {
  let closedWith: number | undefined;
  room.onLeave((code) => (closedWith = code));
  return () => (closedWith === undefined ? room.leave(true) : Promise.resolve(closedWith));
}

/** A joined live room: its state (kept up to date by patches), change callbacks, broadcasts and actions. */
export class LiveRoomConnection {
  readonly room: Room<any, LiveRoomState>;
  private readonly callbacks: ReturnType<typeof Callbacks.get<LiveRoomState>>;
  private readonly leaveRoom: () => Promise<number>;

  constructor(room: Room<any, LiveRoomState>) {
    this.room = room;
    this.leaveRoom = leaveOnce(room);
    this.callbacks = Callbacks.get(room);
    // Broadcasts a client may not listen to are still known ones (the SDK warns about unhandled types).
    for (const type of ['gift', 'system', 'mod:ok', 'lottery:result', 'lottery:entered'] as const) room.onMessage(type, () => {});
  }

  get state(): LiveRoomState {
    return this.room.state;
  }
  get sessionId(): string {
    return this.room.sessionId;
  }
  /** The live room's id (a hot room's shards have Colyseus ids of their own, which no client needs). */
  get roomId(): string {
    return this.room.state.roomId;
  }

  // --- actions
  chat(text: string): void {
    this.room.send('chat', { text });
  }
  setSlowMode(seconds: number): void {
    this.room.send('mod:slow', { seconds });
  }
  setFollowersOnly(enabled: boolean): void {
    this.room.send('mod:followers_only', { enabled });
  }
  mute(userId: string, seconds: number): void {
    this.room.send('mod:mute', { userId, seconds });
  }
  ban(userId: string): void {
    this.room.send('mod:ban', { userId });
  }
  deleteMessage(messageId: string): void {
    this.room.send('mod:delete', { messageId });
  }
  /** Enters the room's click lottery; the reply is a `lottery:entered` (or an `error`). */
  enterLottery(lotteryId: string): void {
    this.room.send('lottery:enter', { lotteryId });
  }

  // --- broadcasts and replies
  on<K extends keyof LiveRoomEvents>(type: K, handler: (payload: LiveRoomEvents[K]) => void): Unsubscribe {
    return this.room.onMessage(type as string, handler as (p: unknown) => void);
  }

  // --- state changes
  /** A chat line added (with `immediate`, also each line already there). */
  onChat(handler: (line: ChatLine) => void, immediate = true): Unsubscribe {
    return this.callbacks.onAdd('chat', (line) => handler(line), immediate);
  }
  /** A chat line gone: scrolled out of the bounded list or deleted by a moderator. */
  onChatRemoved(handler: (line: ChatLine) => void): Unsubscribe {
    return this.callbacks.onRemove('chat', (line) => handler(line));
  }
  onGift(handler: (line: GiftLine) => void, immediate = false): Unsubscribe {
    return this.callbacks.onAdd('gifts', (line) => handler(line), immediate);
  }
  /** A top-level field changed: `status`, `online`, `title`, ... */
  listen<K extends 'roomId' | 'title' | 'status' | 'online'>(field: K, handler: (value: LiveRoomState[K], previous: LiveRoomState[K]) => void, immediate = true): Unsubscribe {
    return this.callbacks.listen(field, handler as never, immediate);
  }
  onChatModeChange(handler: (mode: { slowSec: number; followersOnly: boolean }) => void): Unsubscribe {
    return this.callbacks.onChange(this.state.chatMode, () => handler({ slowSec: this.state.chatMode.slowSec, followersOnly: this.state.chatMode.followersOnly }));
  }
  /** Any patch applied. */
  onStateChange(handler: (state: LiveRoomState) => void): Unsubscribe {
    this.room.onStateChange(handler);
    return () => this.room.onStateChange.remove(handler);
  }
  /** The connection dropped; the SDK is trying to reconnect (the seat is kept for ROOM_RECONNECT_SEC). */
  onDrop(handler: (code: number, reason?: string) => void): Unsubscribe {
    this.room.onDrop(handler);
    return () => this.room.onDrop.remove(handler);
  }
  onReconnect(handler: () => void): Unsubscribe {
    this.room.onReconnect(handler);
    return () => this.room.onReconnect.remove(handler);
  }
  onLeave(handler: (code: number, reason?: string) => void): Unsubscribe {
    this.room.onLeave(handler);
    return () => this.room.onLeave.remove(handler);
  }

  /** Leaves the room; resolves with the close code (at once when the server closed it already). */
  leave(): Promise<number> {
    return this.leaveRoom();
  }
}

/** The joined `rankings` room: every board, kept up to date by patches. */
export class RankingsConnection {
  readonly room: Room<any, RankingsState>;
  private readonly leaveRoom: () => Promise<number>;

  constructor(room: Room<any, RankingsState>) {
    this.room = room;
    this.leaveRoom = leaveOnce(room);
  }

  get state(): RankingsState {
    return this.room.state;
  }
  /** One board's entries, best first ([] until it has any). */
  board(board: Rankings['board'], window: Rankings['window']): { id: string; name: string; score: number }[] {
    const b = this.room.state.boards.get(`${board}:${window}`);
    return b ? b.items.map((i) => ({ id: i.id, name: i.name, score: i.score })) : [];
  }
  /** Any patch applied (a board changed). */
  onChange(handler: (state: RankingsState) => void): Unsubscribe {
    this.room.onStateChange(handler);
    return () => this.room.onStateChange.remove(handler);
  }
  leave(): Promise<number> {
    return this.leaveRoom();
  }
}
