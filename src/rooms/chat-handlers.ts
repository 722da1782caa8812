// Chat and moderation in the room: each message calls one ChatRoom function
// (every rule lives in domain/chat.ts) and shapes its result into the state
// everyone sees and the replies of the viewers concerned. What every shard of
// the room must show or enforce goes through the shard relay: accepted lines
// are shown as the relay delivers them (one order on every shard), moderation
// takes effect here at once and in the other shards when they receive it.
import type { ChatActor, ChatMessage, ChatRoom, ModerationChange } from '../domain/chat.ts';
import { DomainError } from '../domain/errors.ts';
import { ChatLine, type LiveRoomState } from './state.ts';
import type { RelayItem, RelayReceiver } from './shard-relay.ts';
import { CLOSE_BANNED } from './viewer-auth.ts';
import type { MessageHandlers, Viewer } from './viewer-messages.ts';

export interface ChatHandlersDeps {
  chatRoom: ChatRoom;
  state: Pick<LiveRoomState, 'chat' | 'chatMode'>;
  /** Lines kept in the state (CHAT_HISTORY). */
  chatHistory: number;
  /** Every connection of the user `userId` (several tabs, several devices). */
  viewersOf(userId: string): Viewer[];
  /** A line was accepted (a danmaku lottery may take it as an entry). */
  onPosted(viewer: Viewer, line: ChatMessage): void;
  /** Hands an item to every shard of the room, this one included. */
  relay(item: RelayItem): void;
}

/** Fills a fresh state with the chat the room opened with: its last lines and its mode. */
export function showChat(state: Pick<LiveRoomState, 'chat' | 'chatMode'>, chatRoom: Pick<ChatRoom, 'history' | 'mode'>) {
  for (const m of chatRoom.history) state.chat.push(toChatLine(m));
  state.chatMode.slowSec = chatRoom.mode.slowSec;
  state.chatMode.followersOnly = chatRoom.mode.followersOnly;
}

/** What moderation and accepted lines do to this shard's state and viewers. */
function effects(deps: Pick<ChatHandlersDeps, 'state' | 'chatHistory' | 'viewersOf'>) {
  const { state } = deps;
  return {
    show(line: ChatMessage) {
      state.chat.push(toChatLine(line));
      while (state.chat.length > deps.chatHistory) state.chat.shift();
    },
    remove(messageId: string) {
      const i = state.chat.findIndex((l) => l.id === messageId);
      if (i >= 0) state.chat.splice(i, 1);
    },
    moderate(change: ModerationChange) {
      if (change.type === 'mode') {
        state.chatMode.slowSec = change.slowSec;
        state.chatMode.followersOnly = change.followersOnly;
      } else if (change.type === 'mute') {
        for (const v of deps.viewersOf(change.userId)) v.send('system', { text: `you are muted until ${change.until}` });
      } else {
        for (const v of deps.viewersOf(change.userId)) v.leave(CLOSE_BANNED, 'banned');
      }
    },
  };
}

export function chatHandlers(deps: ChatHandlersDeps) {
  const { chatRoom } = deps;
  const here = effects(deps);
  const moderated = (change: ModerationChange) => {
    here.moderate(change);
    deps.relay({ kind: 'moderation', change });
  };
  const handlers = {
    async chat(viewer, msg) {
      const line = await chatRoom.post(viewer.auth?.user ?? null, msg.text);
      deps.relay({ kind: 'line', line });
      deps.onPosted(viewer, line);
    },
    async 'mod:slow'(viewer, msg) {
      const mode = await chatRoom.setSlow(actor(viewer), msg.seconds);
      moderated({ type: 'mode', ...mode });
      viewer.send('mod:ok', { action: 'slow' });
    },
    async 'mod:followers_only'(viewer, msg) {
      const mode = await chatRoom.setFollowersOnly(actor(viewer), msg.enabled);
      moderated({ type: 'mode', ...mode });
      viewer.send('mod:ok', { action: 'followers_only' });
    },
    async 'mod:mute'(viewer, msg) {
      const r = await chatRoom.mute(actor(viewer), msg.userId, msg.seconds);
      moderated({ type: 'mute', userId: r.userId, until: r.until });
      viewer.send('mod:ok', { action: 'mute', userId: r.userId, until: r.until });
    },
    async 'mod:ban'(viewer, msg) {
      const r = await chatRoom.ban(actor(viewer), msg.userId);
      moderated({ type: 'ban', userId: r.userId });
      viewer.send('mod:ok', { action: 'ban', userId: r.userId });
    },
    async 'mod:delete'(viewer, msg) {
      const r = await chatRoom.remove(actor(viewer), msg.messageId);
      here.remove(r.messageId);
      deps.relay({ kind: 'delete', messageId: r.messageId });
      viewer.send('mod:ok', { action: 'delete', messageId: r.messageId });
    },
  } satisfies MessageHandlers;
  return handlers;
}

/** Shows what the shards of the room relayed: every line (its own too), and the others' deletions and moderation. */
export function relayedChat(deps: Pick<ChatHandlersDeps, 'chatRoom' | 'state' | 'chatHistory' | 'viewersOf'>): RelayReceiver {
  const here = effects(deps);
  return (items, mine, replayed) => {
    for (const item of items) {
      if (item.kind === 'line') {
        // A line that came while the shard opened may be in the history it loaded too; an own line whose
        // record the relay had to forget (a long Redis outage) may have been shown already.
        if ((replayed || mine) && deps.state.chat.some((l) => l.id === item.line.id)) continue;
        here.show(item.line);
      } else if (mine) continue;
      else if (item.kind === 'delete') here.remove(item.messageId);
      else {
        deps.chatRoom.apply(item.change);
        here.moderate(item.change);
      }
    }
  };
}

function actor(viewer: Viewer): ChatActor {
  const user = viewer.auth?.user;
  if (!user) throw new DomainError('unauthorized', 'sign in to moderate');
  return { ...user, ip: viewer.auth?.ip ?? null };
}

function toChatLine(m: ChatMessage) {
  return new ChatLine({ id: m.id, userId: m.userId, nickname: m.nickname, text: m.text, at: m.at });
}
