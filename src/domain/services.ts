// Wires the domain services together from their collaborators. Adapters get
// this object (or the parts they need) and never reach into db/ themselves.
import path from 'node:path';
import type { Config } from '../config.ts';
import type { Database } from '../db/connect.ts';
import type { EventBus } from './events.ts';
import { listAudit } from './audit.ts';
import { createFiles } from './files.ts';
import { createFollows } from './follows.ts';
import { createProfiles } from './profiles.ts';
import { createTokenService } from './tokens.ts';
import { createUsers } from './users.ts';
import { poolRunner } from '../db/sql-runner.ts';
import { createLedger } from './ledger.ts';
import { createWallet } from './wallet.ts';
import { loadGiftCatalog } from './gift-catalog.ts';
import { createGifts, type RoomLookup } from './gifts.ts';
import { createBroadcasts } from './broadcasts.ts';
import { createChat } from './chat.ts';
import { createRooms, type RoomUrls } from './rooms.ts';
import { createRankings } from './rankings.ts';
import { createRecordings } from './recordings.ts';
import { createLotteries } from './lotteries.ts';

export interface ServiceOptions {
  /** Where media is reached, when known only after media listens (port 0 in tests); default from config. */
  mediaUrls?: () => Partial<RoomUrls>;
  /** Runs a lottery's draw at its end (a durable job); without it only the sweep job draws. */
  scheduleDraw?: (lotteryId: string, at: Date) => Promise<void>;
}

export function createServices(config: Config, database: Database, events: EventBus, opts: ServiceOptions = {}) {
  const { db } = database;
  const files = createFiles({
    db,
    dir: path.join(config.dataDir, 'files'),
    publicUrl: () => config.publicUrl,
    limits: {
      maxBytes: config.UPLOAD_MAX_BYTES,
      maxPixels: config.UPLOAD_MAX_PIXELS,
      avatarPx: config.AVATAR_SIZE_PX,
      coverWidthPx: config.COVER_WIDTH_PX,
    },
  });
  const ledger = createLedger({ db, run: poolRunner(database), creditSlots: config.LEDGER_CREDIT_SLOTS, maxGrant: config.GRANT_MAX_AMOUNT });
  const wallet = createWallet({ db, ledger, signupBonus: config.SIGNUP_BONUS, idempotencyTtlSec: config.IDEMPOTENCY_TTL_SEC });
  const rooms = createRooms({
    db,
    events,
    fileUrl: files.urlOf,
    endBlockMs: config.ROOM_END_BLOCK_SEC * 1000,
    urls: () => {
      const u = { publicUrl: config.publicUrl, mediaUrl: config.mediaPublicUrl, rtmpUrl: config.rtmpPublicUrl, ...opts.mediaUrls?.() };
      // WHIP is served by the media node, next to FLV and HLS
      return { ...u, whipUrl: config.WHIP_MAX_SESSIONS > 0 ? `${u.mediaUrl}/whip` : null, whepBase: config.WHEP_MAX_VIEWERS > 0 ? `${u.mediaUrl}/whep` : null };
    },
  });
  const broadcasts = createBroadcasts({ db, events });
  const users = createUsers({
    db,
    roomIdOf: rooms.idOfStreamer,
    passwordPolicy: { minLength: config.PASSWORD_MIN_LENGTH, maxLength: config.PASSWORD_MAX_LENGTH },
    fileUrl: files.urlOf,
    onRegistered: wallet.signupBonus,
  });
  const tokens = createTokenService({ db, secret: config.jwtSecret, ttlSec: config.TOKEN_TTL_SEC });
  const follows = createFollows({ db, users, onChange: (e) => void events.publish('follow.changed', e) });
  const profiles = createProfiles({ db, users, files });
  const audit = {
    list: (q: Parameters<typeof listAudit>[1]) => listAudit(db, q),
  };
  const roomLookup: RoomLookup = { find: rooms.summary };
  const gifts = createGifts({
    db,
    ledger,
    catalog: loadGiftCatalog(config.GIFT_CATALOG),
    rooms: roomLookup,
    events,
    streamerSharePercent: config.GIFT_STREAMER_SHARE_PERCENT,
    maxCount: config.GIFT_MAX_COUNT,
    // a gift of the room's gift lottery enters its sender where it is paid (lotteries is made below; called later)
    afterPaid: (g) => lotteries.enterByGift(g.roomId, g.userId, g.giftId, g.at),
  });
  const chat = createChat({
    db,
    follows,
    users,
    settings: {
      maxLength: config.CHAT_MAX_LENGTH,
      history: config.CHAT_HISTORY,
      ratePoints: config.CHAT_RATE_POINTS,
      rateWindowSec: config.CHAT_RATE_WINDOW_SEC,
      slowMaxSec: config.CHAT_SLOW_MAX_SEC,
      muteMaxSec: config.CHAT_MUTE_MAX_SEC,
    },
  });
  const rankings = createRankings({ db, events, size: config.RANKINGS_SIZE });
  const recordings = createRecordings({ db, publicUrl: () => config.publicUrl });
  const catalog = gifts.catalog;
  const lotteries = createLotteries({
    db,
    events,
    rooms: { summary: rooms.summary },
    follows,
    bans: chat,
    gifts: { has: (id) => catalog.get(id) !== undefined },
    seedSecret: config.lotterySecret,
    scheduleDraw: opts.scheduleDraw ?? (async () => {}),
    settings: {
      minDurationSec: config.LOTTERY_MIN_DURATION_SEC,
      maxDurationSec: config.LOTTERY_MAX_DURATION_SEC,
      maxWinners: config.LOTTERY_MAX_WINNERS,
      prizeMaxLength: config.LOTTERY_PRIZE_MAX_LENGTH,
      keywordMaxLength: config.LOTTERY_KEYWORD_MAX_LENGTH,
      entriesPageMax: config.LOTTERY_ENTRIES_PAGE_MAX,
      resultShowSec: config.LOTTERY_RESULT_SHOW_SEC,
    },
  });
  return { events, users, tokens, follows, files, profiles, audit, ledger, wallet, gifts, chat, rooms, broadcasts, rankings, recordings, lotteries };
}

export type Services = ReturnType<typeof createServices>;
