// Chat and moderation in the room: each message calls one ChatRoom function
// (every rule lives in domain/chat.ts) and shapes its result into the state
// everyone sees and the replies of the viewers concerned.
import type { ChatActor, ChatMessage, ChatRoom } from '../domain/chat.ts';
import { DomainError } from '../domain/errors.ts';
import { ChatLine, type LiveRoomState } from './state.ts';
import { CLOSE_BANNED } from './viewer-auth.ts';
import type { MessageHandlers, Viewer } from './viewer-messages.ts';

export interface ChatHandlersDeps {
  chatRoom: ChatRoom;
  state: Pick<LiveRoomState, 'chat' | 'chatMode'>;
  /** Lines kept in the state (CHAT_HISTORY). */
  chatHistory: number;
  /** Every connection of the user `userId` (several tabs, several devices). */
  viewersOf(userId: string): Viewer[];
  /** A line was shown (a danmaku lottery may take it as an entry). */
  onPosted(viewer: Viewer, line: ChatMessage): void;
}

/** Fills a fresh state with the chat the room opened with: its last lines and its mode. */
export function showChat(state: Pick<LiveRoomState, 'chat' | 'chatMode'>, chatRoom: Pick<ChatRoom, 'history' | 'mode'>) {
  for (const m of chatRoom.history) state.chat.push(toChatLine(m));
  state.chatMode.slowSec = chatRoom.mode.slowSec;
  state.chatMode.followersOnly = chatRoom.mode.followersOnly;
}

export function chatHandlers(deps: ChatHandlersDeps) {
  const { chatRoom, state } = deps;
  const handlers = {
    async chat(viewer, msg) {
      const line = await chatRoom.post(viewer.auth?.user ?? null, msg.text);
      state.chat.push(toChatLine(line));
      while (state.chat.length > deps.chatHistory) state.chat.shift();
      deps.onPosted(viewer, line);
    },
    async 'mod:slow'(viewer, msg) {
      const mode = await chatRoom.setSlow(actor(viewer), msg.seconds);
      state.chatMode.slowSec = mode.slowSec;
      viewer.send('mod:ok', { action: 'slow' });
    },
    async 'mod:followers_only'(viewer, msg) {
      const mode = await chatRoom.setFollowersOnly(actor(viewer), msg.enabled);
      state.chatMode.followersOnly = mode.followersOnly;
      viewer.send('mod:ok', { action: 'followers_only' });
    },
    async 'mod:mute'(viewer, msg) {
      const r = await chatRoom.mute(actor(viewer), msg.userId, msg.seconds);
      for (const v of deps.viewersOf(r.userId)) v.send('system', { text: `you are muted until ${r.until}` });
      viewer.send('mod:ok', { action: 'mute', userId: r.userId, until: r.until });
    },
    async 'mod:ban'(viewer, msg) {
      const r = await chatRoom.ban(actor(viewer), msg.userId);
      for (const v of deps.viewersOf(r.userId)) v.leave(CLOSE_BANNED, 'banned');
      viewer.send('mod:ok', { action: 'ban', userId: r.userId });
    },
    async 'mod:delete'(viewer, msg) {
      const r = await chatRoom.remove(actor(viewer), msg.messageId);
      const i = state.chat.findIndex((l) => l.id === r.messageId);
      if (i >= 0) state.chat.splice(i, 1);
      viewer.send('mod:ok', { action: 'delete', messageId: r.messageId });
    },
  } satisfies MessageHandlers;
  return handlers;
}

function actor(viewer: Viewer): ChatActor {
  const user = viewer.auth?.user;
  if (!user) throw new DomainError('unauthorized', 'sign in to moderate');
  return { ...user, ip: viewer.auth?.ip ?? null };
}

function toChatLine(m: ChatMessage) {
  return new ChatLine({ id: m.id, userId: m.userId, nickname: m.nickname, text: m.text, at: m.at });
}
