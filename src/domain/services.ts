// Wires the domain services together from their collaborators. Adapters get
// this object (or the parts they need) and never reach into db/ themselves.
import type { Database } from '../db/connect.ts';
import type { EventBus } from './events.ts';
import { listAudit } from './audit.ts';
import { createFiles, type FilesDeps } from './files.ts';
import { createFollows } from './follows.ts';
import type { PasswordPolicy } from './passwords.ts';
import { createProfiles } from './profiles.ts';
import { createTokenService } from './tokens.ts';
import { createUsers } from './users.ts';
import { poolRunner } from '../db/sql-runner.ts';
import { createLedger } from './ledger.ts';
import { createWallet } from './wallet.ts';
import { loadGiftCatalog } from './gift-catalog.ts';
import { createGifts, type RoomLookup } from './gifts.ts';
import { createBroadcasts } from './broadcasts.ts';
import { createChat, type ChatSettings } from './chat.ts';
import { createRooms, type RoomUrls } from './rooms.ts';
import { createRankings } from './rankings.ts';
import { createRecordings } from './recordings.ts';
import { createLotteries, type LotterySettings } from './lotteries.ts';

/** What the services are built with; src/settings.ts makes it from the config. */
export interface ServiceSettings {
  /** The API server's base URL (file and recording links), read at each use. */
  publicUrl(): string;
  /** Where uploaded images are stored. */
  filesDir: string;
  uploads: FilesDeps['limits'];
  ledger: { creditSlots: number; maxGrant: number };
  wallet: { signupBonus: number; idempotencyTtlSec: number };
  rooms: {
    /** How long ending a broadcast keeps its key refused (ms). */
    endBlockMs: number;
    /** Read at each use: with port 0 (tests) the media ports are known only once media listens. */
    urls(): RoomUrls;
  };
  passwordPolicy: PasswordPolicy;
  tokens: { secret: string; ttlSec: number };
  gifts: {
    /** GIFT_CATALOG: a JSON file or inline JSON; empty for the built-in catalog. */
    catalog: string;
    streamerSharePercent: number;
    maxCount: number;
  };
  chat: ChatSettings;
  rankingsSize: number;
  lotteries: LotterySettings & { seedSecret: string };
}

export interface ServiceOptions {
  /** Runs a lottery's draw at its end (a durable job); without it only the sweep job draws. */
  scheduleDraw?: (lotteryId: string, at: Date) => Promise<void>;
}

export function createServices(settings: ServiceSettings, database: Database, events: EventBus, opts: ServiceOptions = {}) {
  const { db } = database;
  const files = createFiles({ db, dir: settings.filesDir, publicUrl: settings.publicUrl, limits: settings.uploads });
  const ledger = createLedger({ db, run: poolRunner(database), ...settings.ledger });
  const wallet = createWallet({ db, ledger, ...settings.wallet });
  const rooms = createRooms({ db, events, fileUrl: files.urlOf, ...settings.rooms });
  const broadcasts = createBroadcasts({ db, events });
  const users = createUsers({
    db,
    roomIdOf: rooms.idOfStreamer,
    passwordPolicy: settings.passwordPolicy,
    fileUrl: files.urlOf,
    onRegistered: wallet.signupBonus,
  });
  const tokens = createTokenService({ db, ...settings.tokens });
  const follows = createFollows({ db, users, onChange: (e) => void events.publish('follow.changed', e) });
  const profiles = createProfiles({ db, users, files });
  const audit = {
    list: (q: Parameters<typeof listAudit>[1]) => listAudit(db, q),
  };
  const roomLookup: RoomLookup = { find: rooms.summary };
  const gifts = createGifts({
    db,
    ledger,
    catalog: loadGiftCatalog(settings.gifts.catalog),
    rooms: roomLookup,
    events,
    streamerSharePercent: settings.gifts.streamerSharePercent,
    maxCount: settings.gifts.maxCount,
    // a paid gift enters its sender into the room's open lottery for that gift (lotteries is made below; called later)
    afterPaid: (g) => lotteries.enterByGift(g.roomId, g.userId, g.giftId, g.at),
  });
  const chat = createChat({
    db,
    follows,
    users,
    settings: settings.chat,
  });
  const rankings = createRankings({ db, events, size: settings.rankingsSize });
  const recordings = createRecordings({ db, publicUrl: settings.publicUrl });
  const catalog = gifts.catalog;
  const lotteries = createLotteries({
    db,
    events,
    rooms: { summary: rooms.summary },
    follows,
    bans: chat,
    gifts: { has: (id) => catalog.get(id) !== undefined },
    seedSecret: settings.lotteries.seedSecret,
    scheduleDraw: opts.scheduleDraw ?? (async () => {}),
    settings: settings.lotteries,
  });
  return { events, users, tokens, follows, files, profiles, audit, ledger, wallet, gifts, chat, rooms, broadcasts, rankings, recordings, lotteries };
}

export type Services = ReturnType<typeof createServices>;
