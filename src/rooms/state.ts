// The synchronized state of a live room (docs/api.md "Rooms (Colyseus)"). Kept
// cheap to patch for thousands of clients: no per-viewer collections, `online`
// is a number, every list is bounded by a setting.
import { schema, t, type SchemaType } from '@colyseus/schema';

export const Streamer = schema(
  {
    id: t.string().default(''),
    nickname: t.string().default(''),
    avatarUrl: t.string().default(''),
  },
  'Streamer',
);

export const ChatLine = schema(
  {
    id: t.string(),
    userId: t.string(),
    nickname: t.string(),
    text: t.string(),
    at: t.string(),
  },
  'ChatLine',
);

export const GiftLine = schema(
  {
    id: t.string(),
    userId: t.string(),
    nickname: t.string(),
    giftId: t.string(),
    giftName: t.string(),
    /** Running totals of the combo this line shows (one line per combo). */
    count: t.uint32().default(0),
    amount: t.number().default(0),
    /** How many sends make up the combo so far (1 = a single send). */
    combo: t.uint16().default(1),
    at: t.string(),
  },
  'GiftLine',
);

export const TopFan = schema(
  {
    userId: t.string(),
    nickname: t.string(),
    amount: t.number().default(0),
  },
  'TopFan',
);

/** The current lottery; `id` is empty when there is none (filled in by the lotteries feature). */
export const Lottery = schema(
  {
    id: t.string().default(''),
    prize: t.string().default(''),
    winners: t.uint16().default(0),
    method: t.string().default(''),
    keyword: t.string().default(''),
    /** The gift to send (method `gift`). */
    giftId: t.string().default(''),
    followersOnly: t.boolean().default(false),
    endsAt: t.string().default(''),
    entries: t.uint32().default(0),
    status: t.string().default(''),
    winnerIds: t.array('string'),
    seedHash: t.string().default(''),
  },
  'Lottery',
);

export const ChatModeState = schema(
  {
    slowSec: t.uint16().default(0),
    followersOnly: t.boolean().default(false),
  },
  'ChatMode',
);

export const LiveRoomState = schema(
  {
    roomId: t.string().default(''),
    title: t.string().default(''),
    status: t.string().default('idle'),
    /** Live, but the stream dropped on the media side for a moment (it may resume). */
    interrupted: t.boolean().default(false),
    online: t.uint32().default(0),
    streamer: t.ref(Streamer).default(() => new Streamer()),
    chat: t.array(ChatLine),
    gifts: t.array(GiftLine),
    topFans: t.array(TopFan),
    lottery: t.ref(Lottery).default(() => new Lottery()),
    chatMode: t.ref(ChatModeState).default(() => new ChatModeState()),
  },
  'LiveRoomState',
);

export type LiveRoomState = SchemaType<typeof LiveRoomState>;
export type ChatLine = SchemaType<typeof ChatLine>;
export type GiftLine = SchemaType<typeof GiftLine>;
export type TopFan = SchemaType<typeof TopFan>;
