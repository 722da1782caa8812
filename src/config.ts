// One typed configuration for every role. Values come from the environment and
// from `--flag value` arguments (flags win); everything has an embedded default
// so `npm start` needs nothing. A bad value stops start-up naming the setting.
import { hkdfSync, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { z } from 'zod';

const int = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);
const optionalUrl = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .pipe(z.url().optional())
  .optional();

/** An IP address or CIDR as proxy-addr (Express's `trust proxy`) takes it. */
function isProxyAddress(p: string): boolean {
  const [address = '', bits, ...rest] = p.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

export const ROLES = ['http', 'rooms', 'media', 'jobs'] as const;
export type Role = (typeof ROLES)[number];

const configSchema = z.object({
  NODE_ENV: z.string().default('development'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: int(8080).pipe(z.number().max(65535)),
  PUBLIC_URL: optionalUrl,
  DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: optionalUrl,
  DATABASE_QUERY_TIMEOUT_MS: int(10_000, 100), // PostgreSQL: a query on a connection whose server stopped answering fails after this (503)
  REDIS_URL: optionalUrl,
  /** Prefix of every Redis key and channel Liveroom uses (rate limits, events), so several deployments or test runs can share one Redis. */
  REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9:_.-]{1,64}$/, 'letters, digits and : _ . - only').default('lr:'),
  ROLES: z
    .string()
    .default(ROLES.join(','))
    .transform((v) => v.split(',').map((r) => r.trim()).filter(Boolean))
    .pipe(z.array(z.enum(ROLES)).min(1)),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  // secrets: generated once into DATA_DIR/secrets.json when not given
  JWT_SECRET: z.string().min(32).optional(),
  // Key of the lottery seeds (seed = HMAC(key, lottery id)); default derived from the JWT key, so every process that accepts the same tokens draws the same.
  LOTTERY_SECRET: z.string().min(32).optional(),
  TOKEN_TTL_SEC: int(7 * 24 * 3600, 60),

  // gateway
  CORS_ORIGINS: z.string().default('*'),
  // Express `trust proxy`: a hop count (`1`), `true`/`false`, or addresses, CIDRs and the names loopback, linklocal, uniquelocal.
  // Express alone would read `1` as the address 0.0.0.1 and fail on `true` only once the app is built.
  TRUST_PROXY: z
    .string()
    .default('loopback')
    .transform((v, ctx): string | number | boolean => {
      const value = v.trim();
      if (/^\d+$/.test(value)) return Number(value);
      if (value === 'true' || value === 'false') return value === 'true';
      const bad = value.split(',').map((p) => p.trim()).filter((p) => !['loopback', 'linklocal', 'uniquelocal'].includes(p) && !isProxyAddress(p));
      if (bad.length > 0) ctx.addIssue({ code: 'custom', message: `not a hop count, true/false, address, CIDR or loopback/linklocal/uniquelocal: ${bad.join(', ')}` });
      return value;
    }),
  BODY_LIMIT_BYTES: int(64 * 1024, 1024),
  RATE_LIMIT_IP_PER_MIN: int(1200, 1),
  RATE_LIMIT_USER_PER_MIN: int(600, 1),
  LOGIN_FAILS_PER_USER: int(5, 1), // consecutive failures per username+IP before that pair is blocked for LOGIN_BLOCK_SEC
  LOGIN_FAILS_PER_IP_PER_HOUR: int(100, 1),
  LOGIN_FAILS_PER_ACCOUNT: int(10, 1), // failed logins on one account from any IP per LOGIN_ACCOUNT_WINDOW_SEC
  LOGIN_ACCOUNT_WINDOW_SEC: int(60, 1),
  LOGIN_BLOCK_SEC: int(60, 1), // a block always expires: nobody is locked out for good
  REGISTER_PER_IP_PER_HOUR: int(30, 1),
  MATCHMAKE_PER_IP_PER_MIN: int(600, 1), // seat reservations (POST /matchmake/...) per client address per minute
  MATCHMAKE_PENDING_PER_IP: int(20, 1), // reservations one address may hold before joining with them
  SHED_TARGET_DELAY_MS: int(100, 5), // standing event-loop delay above which the process counts as overloaded
  SHED_INTERVAL_MS: int(2000, 100), // ...for this long before anything is shed (a shorter burst never is)
  BREAKER_TIMEOUT_MS: int(2000, 50),
  BREAKER_FAILURES: int(5, 1),
  BREAKER_HALF_OPEN_AFTER_MS: int(5000, 100),

  // accounts
  PASSWORD_MIN_LENGTH: int(8, 8),
  PASSWORD_MAX_LENGTH: int(256, 16),
  ADMIN_USERNAME: z.string().optional(),
  ADMIN_PASSWORD: z.string().optional(),
  PAGE_LIMIT_DEFAULT: int(20, 1),
  PAGE_LIMIT_MAX: int(100, 1),

  // files
  UPLOAD_MAX_BYTES: int(8 * 1024 * 1024, 1024),
  UPLOAD_MAX_PIXELS: int(40_000_000, 1),
  AVATAR_SIZE_PX: int(256, 16),
  COVER_WIDTH_PX: int(1280, 64),

  // media (src/media/): ports of their own so several instances can run side by side
  RTMP_PORT: int(1935, 0).pipe(z.number().max(65535)),
  MEDIA_HTTP_PORT: int(8000, 0).pipe(z.number().max(65535)), // HTTP-FLV, WS-FLV and HLS
  /** How clients reach MEDIA_HTTP_PORT, e.g. https://media.example.com; default http://localhost:MEDIA_HTTP_PORT. */
  MEDIA_PUBLIC_URL: optionalUrl,
  /** The RTMP ingest base streamers push to, e.g. rtmp://live.example.com/live; default rtmp://localhost:RTMP_PORT/live. */
  RTMP_PUBLIC_URL: z.string().trim().regex(/^rtmps?:\/\/[^/]+\/live$/, 'must look like rtmp://host[:port]/live').optional(),

  // FLV playback (src/media/flv-playback.ts, stream-fanout.ts)
  FLV_MAX_VIEWER_BUFFER_BYTES: int(4 * 1024 * 1024, 64 * 1024), // a viewer that falls this far behind is dropped
  FLV_MAX_GOP_BYTES: int(16 * 1024 * 1024, 1024 * 1024), // GOP cache cap; past it new viewers wait for a keyframe
  FLV_MAX_BATCH_MS: int(50, 0), // audio waits at most this long to be sent with the next video frame (fewer writes per viewer)
  FLV_MAX_VIEWERS: int(20_000, 1), // FLV/WS-FLV viewers per media node; past it new viewers get 503

  // media process and its supervisor (src/media-control/supervisor.ts, src/media/media-process.ts)
  MEDIA_RESUME_GRACE_SEC: int(15, 1), // after a media crash a publisher may come back this long; then the broadcast ends (media_failure)
  MEDIA_RESTART_BACKOFF_MS: int(500, 10), // first restart delay after a media crash, doubling up to MEDIA_RESTART_BACKOFF_MAX_MS
  MEDIA_RESTART_BACKOFF_MAX_MS: int(30_000, 10),
  MEDIA_SHUTDOWN_TIMEOUT_MS: int(5000, 100), // a media process that does not stop in time is killed
  MEDIA_IPC_TIMEOUT_MS: int(5000, 100), // the media process's questions to the API side (authorize, started) fail after this
  MEDIA_VIEWERS_REPORT_SEC: int(5, 1), // viewer counts per room are reported this often
  // media nodes in a cluster (src/media-control/node-registry.ts): announced in Redis, edges pull from origins
  /** How other media nodes reach this node's MEDIA_HTTP_PORT for edge pulls, e.g. http://10.0.0.5:8000; default http://HOST:port (127.0.0.1 for a wildcard HOST). */
  MEDIA_NODE_URL: optionalUrl,
  MEDIA_HEARTBEAT_SEC: int(2, 1), // a media node announces itself this often; one silent for 3 beats is dropped and the rooms it published are interrupted
  MEDIA_EDGE_IDLE_SEC: int(10, 0), // an edge stops pulling a room this long after its last viewer left
  MEDIA_EDGE_TIMEOUT_MS: int(5000, 100), // an origin must answer an edge's pull within this; a pull that gets no bytes this long ends
  MEDIA_EDGE_HLS_CACHE_BYTES: int(64 * 1024 * 1024, 1024 * 1024), // HLS playlists and segments an edge keeps from its origins
  /** ffmpeg to run; default /usr/bin/ffmpeg when present, else the one in @ffmpeg-installer/ffmpeg. */
  FFMPEG_PATH: z.string().trim().min(1).optional(),
  RTMP_MAX_CONNECTIONS: int(1000, 2), // RTMP connections per media process
  RTMP_MAX_CONNECTIONS_PER_IP: int(10, 1), // RTMP connections from one address, an IPv6 /64 (loopback exempt: WHIP bridges, local tools); its next one replaces its own that did least and is not publishing
  /** Of RTMP_MAX_CONNECTIONS, slots connections still in the RTMP handshake cannot take (kept for sessions past it); default a tenth of it. */
  RTMP_RESERVED_CONNECTIONS: z.coerce.number().int().min(1).optional(),
  RTMP_HANDSHAKE_TIMEOUT_SEC: int(10, 1), // a connection must start publishing (or a local play) within this
  RTMP_IDLE_TIMEOUT_SEC: int(30, 1), // a connection with no bytes either way for this long is closed
  RTMP_MAX_MESSAGE_BYTES: int(16 * 1024 * 1024, 64 * 1024), // largest audio/video message (a keyframe); bigger ones close the connection
  RTMP_MAX_COMMAND_BYTES: int(64 * 1024, 1024), // largest command/data message (AMF)
  RTMP_MAX_CHUNK_STREAMS: int(64, 8), // chunk streams per connection (each may hold a message buffer)
  HLS_SEGMENT_SEC: int(2, 1), // target segment length (segments are cut on keyframes)
  HLS_LIST_SIZE: int(6, 2), // segments in the sliding playlist; older ones are deleted
  HLS_VIEWER_WINDOW_SEC: int(10, 2), // an HLS viewer counts while it fetched the playlist within this
  HLS_VIEWERS_PER_IP: int(1, 1), // HLS viewers one address (an IPv6 /64) counts as, however many User-Agents it sends
  MEDIA_FFMPEG_MAX_BACKLOG_BYTES: int(8 * 1024 * 1024, 256 * 1024), // an ffmpeg (HLS) that falls this far behind its input is restarted
  THUMBNAIL_EVERY_SEC: int(10, 1), // a live room's preview snapshot is refreshed this often
  THUMBNAIL_WIDTH_PX: int(640, 64).pipe(z.number().max(3840)),
  ROOM_END_BLOCK_SEC: int(300, 0), // after POST /rooms/:id/end the key is refused this long (auto-reconnecting encoders stay out); rotating it lifts that
  // WHIP (WebRTC) ingest in the media process (src/media/whip.ts)
  WHIP_MAX_SESSIONS: int(20, 0), // WebRTC publishers per media node (each runs a transcoding ffmpeg); 0 turns WHIP off
  WHIP_MAX_SDP_BYTES: int(64 * 1024, 1024), // largest SDP offer
  WHIP_VIDEO_KBPS: int(2500, 100).pipe(z.number().max(20_000)), // H.264 bitrate of the transcoded stream
  WHIP_START_TIMEOUT_SEC: int(15, 1), // a session whose media has not started (or whose peer stays disconnected) this long is closed
  WEBRTC_SDP_READ_TIMEOUT_MS: int(5000, 100), // a WHIP/WHEP offer's SDP body must arrive within this (408 sdp_timeout); a stalled client holds no place longer
  WEBRTC_MAX_OFFERS_PER_ADDRESS: int(4, 1), // WHIP/WHEP offers being read or answered at once from one client address; past it 429 too_many_offers
  MEDIA_HTTP_REQUEST_TIMEOUT_MS: int(10_000, 1000), // any request to MEDIA_HTTP_PORT must arrive whole (headers and body) within this; running FLV streams are not cut
  // WHEP (WebRTC) playback in the media process (src/media/whep.ts)
  WHEP_MAX_VIEWERS: int(50, 0), // WebRTC viewers per media node (SRTP runs in JavaScript); 0 turns WHEP off
  WHEP_VIDEO_KBPS: int(2500, 100).pipe(z.number().max(20_000)), // H.264 bitrate a room's WebRTC feed is re-encoded at
  WHEP_IDLE_STOP_SEC: int(10, 1), // a room's WebRTC feed (one ffmpeg) stops this long after its last viewer left
  // ICE for both (werift)
  /** Extra host candidate addresses (comma-separated), e.g. the public IP behind NAT; loopback serves browsers on this machine. */
  WEBRTC_ICE_HOST_ADDRESSES: z.string().default('127.0.0.1'),
  WEBRTC_ICE_PORT_MIN: int(0, 0).pipe(z.number().max(65535)), // UDP ports for WebRTC (0 and 0: any); open them in the firewall
  WEBRTC_ICE_PORT_MAX: int(0, 0).pipe(z.number().max(65535)),

  // wallet and gifts (coins are integers)
  SIGNUP_BONUS: int(1000, 0), // coins granted at registration; 0 turns the bonus off
  GRANT_MAX_AMOUNT: int(1_000_000_000, 1),
  GIFT_STREAMER_SHARE_PERCENT: int(50, 0).pipe(z.number().max(100)),
  GIFT_MAX_COUNT: int(999, 1).pipe(z.number().max(100_000)),
  /** A JSON file (or inline JSON array) of gifts `[{id, name, price, icon}]`; empty means the built-in catalog. */
  GIFT_CATALOG: z.string().default(''),
  /** Credit-only accounts (earnings, platform) spread their cached balance over this many rows, so concurrent gifts do not queue on one row lock. */
  LEDGER_CREDIT_SLOTS: int(8, 1).pipe(z.number().max(64)),
  IDEMPOTENCY_TTL_SEC: int(24 * 3600, 24 * 3600), // never less than 24 h: clients may retry for a day
  IDEMPOTENCY_PURGE_EVERY_SEC: int(3600, 10),

  // live rooms (src/rooms/) and chat (src/domain/chat.ts)
  CHAT_MAX_LENGTH: int(200, 1).pipe(z.number().max(2000)), // code points per message
  CHAT_HISTORY: int(50, 1).pipe(z.number().max(500)), // messages kept in room state and reloaded when a room starts
  CHAT_RATE_POINTS: int(5, 1), // messages per user per room per CHAT_RATE_WINDOW_SEC
  CHAT_RATE_WINDOW_SEC: int(5, 1),
  CHAT_SLOW_MAX_SEC: int(600, 1),
  CHAT_MUTE_MAX_SEC: int(30 * 24 * 3600, 1),
  GIFT_FEED_SIZE: int(20, 1).pipe(z.number().max(200)), // gift events kept in room state
  GIFT_COMBO_WINDOW_MS: int(5000, 0), // sends of one gift by one user closer than this show as one combo with a running count
  GIFT_BROADCASTS_PER_TICK: int(5, 1), // `gift` broadcasts per patch tick; the rest reach clients through state only
  TOP_FANS_SIZE: int(10, 1).pipe(z.number().max(100)),
  ROOM_RECONNECT_SEC: int(20, 0), // a dropped client that returns within this keeps its seat
  ROOM_SHARD_SIZE: int(10_000, 1), // clients per shard of a live room: past it a join opens another shard (on the rooms process holding fewest of the room's)
  ROOM_SHARD_RELAY_MS: int(10, 1), // chat and moderation accepted by a shard are published to the room's other shards in one batch this often at most
  ROOM_SHARD_KEEPALIVE_MS: int(5000, 100), // a shard announces its client count at least this often; one silent for 3x this is dropped from `online`
  ROOM_SHARD_ECHO_MS: int(1000, 10), // a shard's own chat lines not echoed by the presence (Redis) within this long are shown by the shard itself
  ROOM_SEAT_RESERVATION_SEC: int(15, 1), // a seat reserved by matchmaking and not joined within this is freed
  ROOM_PATCH_MS: int(50, 10), // state patch interval of a small room
  ROOM_PATCH_MS_PER_1K: int(10, 0), // added per 1,000 connected clients: fewer frames per client in big rooms
  ROOM_PATCH_MS_MAX: int(150, 10), // the patch wait adds to chat latency: p99 is about this plus one fan-out
  ROOM_MAX_MESSAGES_PER_SEC: int(30, 1), // per connection, any message type; past it the connection is closed
  ROOM_ONLINE_UPDATE_MS: int(1000, 50), // `online` (and the patch interval) follow joins and leaves this often
  ROOM_ONLINE_REPORT_MS: int(5000, 100), // the online count is written to the database (room lists, rankings) at most this often
  /** host:port[/path] clients use to reach this process's rooms when several processes share them (REDIS_URL); default HOST:PORT. */
  ROOMS_PUBLIC_ADDRESS: z.string().trim().min(1).optional(),

  // jobs (src/jobs/): BullMQ with REDIS_URL, else the in-process runner on the `jobs` table
  /** Prefix of the BullMQ keys; default derived from the database's identity, so processes sharing a database share queues. */
  JOBS_QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits and _ . - only').optional(),
  JOBS_ATTEMPTS: int(5, 1), // tries per job in all; then it is kept as failed
  JOBS_BACKOFF_MS: int(1000, 10), // first retry after this, doubling each time
  JOBS_CONCURRENCY: int(4, 1), // jobs of one queue running at once per process
  JOBS_POLL_MS: int(1000, 50), // in-process runner: how often the table is checked for work written by other processes
  JOBS_LEASE_SEC: int(300, 5), // in-process runner: a job running longer is taken to belong to a dead process and runs again
  JOBS_KEEP_DONE_SEC: int(24 * 3600, 0),
  JOBS_KEEP_FAILED_SEC: int(7 * 24 * 3600, 0),

  // rankings (src/domain/rankings.ts)
  RANKINGS_INTERVAL_SEC: int(60, 1), // every board is recomputed this often (aligned, so period boundaries are met on time)
  RANKINGS_DEBOUNCE_MS: int(1000, 50), // after a gift or follow, the affected boards are recomputed within this
  RANKINGS_SIZE: int(100, 1).pipe(z.number().max(1000)), // entries kept per board (the most GET /rankings?limit gives)
  RANKINGS_ROOM_ITEMS: int(20, 1).pipe(z.number().max(1000)), // entries per board in the rankings room's state

  // lotteries (src/domain/lotteries.ts)
  LOTTERY_MIN_DURATION_SEC: int(5, 1),
  LOTTERY_MAX_DURATION_SEC: int(24 * 3600, 1),
  LOTTERY_MAX_WINNERS: int(100, 1).pipe(z.number().max(10_000)),
  LOTTERY_PRIZE_MAX_LENGTH: int(100, 1).pipe(z.number().max(1000)),
  LOTTERY_KEYWORD_MAX_LENGTH: int(32, 1).pipe(z.number().max(200)),
  LOTTERY_SWEEP_SEC: int(30, 1), // safety net: lotteries past their end that were not drawn (a lost job) are drawn this often
  LOTTERY_ENTRIES_PAGE_MAX: int(5000, 1), // entrant ids per page of GET /lotteries/:id/entries
  LOTTERY_RESULT_SHOW_SEC: int(3600, 0), // a drawn lottery stays in a room's state this long (or until the next one)
});

export type Config = Omit<z.infer<typeof configSchema>, 'RTMP_RESERVED_CONNECTIONS'> & {
  RTMP_RESERVED_CONNECTIONS: number;
  publicUrl: string;
  mediaPublicUrl: string;
  rtmpPublicUrl: string;
  jwtSecret: string;
  /** LOTTERY_SECRET, or one derived from jwtSecret. */
  lotterySecret: string;
  dataDir: string;
};

export class ConfigError extends Error {}

/** `--port 9000 --roles http,rooms` -> { PORT: '9000', ROLES: 'http,rooms' } */
export function flagsToEnv(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) continue;
    const [name, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    const value = inline ?? argv[i + 1];
    if (inline === undefined) i++;
    if (value === undefined) throw new ConfigError(`flag --${name} needs a value`);
    out[name.replace(/-/g, '_').toUpperCase()] = value;
  }
  return out;
}

export function loadConfig(env: Record<string, string | undefined> = process.env, argv: string[] = []): Config {
  const merged = { ...env, ...flagsToEnv(argv) };
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(config)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const c = parsed.data;
  if ((c.WEBRTC_ICE_PORT_MIN > 0 || c.WEBRTC_ICE_PORT_MAX > 0) && !(c.WEBRTC_ICE_PORT_MIN > 0 && c.WEBRTC_ICE_PORT_MAX > c.WEBRTC_ICE_PORT_MIN))
    throw new ConfigError('invalid configuration:\n  WEBRTC_ICE_PORT_MIN, WEBRTC_ICE_PORT_MAX: give both, with MIN < MAX (or neither)');
  const RTMP_RESERVED_CONNECTIONS = c.RTMP_RESERVED_CONNECTIONS ?? Math.max(1, Math.floor(c.RTMP_MAX_CONNECTIONS / 10));
  if (RTMP_RESERVED_CONNECTIONS >= c.RTMP_MAX_CONNECTIONS)
    throw new ConfigError('invalid configuration:\n  RTMP_RESERVED_CONNECTIONS: must be less than RTMP_MAX_CONNECTIONS (connections in the RTMP handshake need a slot too)');
  const dataDir = path.resolve(c.DATA_DIR);
  const publicUrl = (c.PUBLIC_URL ?? `http://localhost:${c.PORT}`).replace(/\/$/, '');
  const mediaPublicUrl = (c.MEDIA_PUBLIC_URL ?? `http://localhost:${c.MEDIA_HTTP_PORT}`).replace(/\/$/, '');
  const rtmpPublicUrl = c.RTMP_PUBLIC_URL ?? `rtmp://localhost:${c.RTMP_PORT}/live`;
  const jwtSecret = c.JWT_SECRET ?? persistentSecret(dataDir, 'jwtSecret');
  // A key of its own, not the JWT key itself: knowing one says nothing of the other.
  const lotterySecret = c.LOTTERY_SECRET ?? Buffer.from(hkdfSync('sha256', jwtSecret, '', 'liveroom lottery seeds', 32)).toString('base64url');
  return { ...c, RTMP_RESERVED_CONNECTIONS, dataDir, publicUrl, mediaPublicUrl, rtmpPublicUrl, jwtSecret, lotterySecret };
}

/** A secret generated on first start and kept, so restarts keep sessions valid. */
function persistentSecret(dataDir: string, name: string): string {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, 'secrets.json');
  const secrets: Record<string, string> = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  if (!secrets[name]) {
    secrets[name] = randomBytes(32).toString('base64url');
    writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  }
  return secrets[name];
}
