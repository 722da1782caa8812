// The room's online count: shown in the state (the sum over the room's
// shards), written back to the rooms service for listings and rankings by the
// shard that leads the room (on change, at most every ROOM_ONLINE_REPORT_MS),
// and the patch interval this shard's own clients call for.
import type { Logger } from 'pino';
import type { LiveRoomState } from './state.ts';

export interface OnlineSettings {
  patchMs: number;
  patchMsPer1k: number;
  patchMsMax: number;
  /** How often at most the online count is written back to the rooms service. */
  onlineReportMs: number;
}

/** The patch interval for a room of `clients` viewers: slower ticks in big rooms mean fewer frames per client. */
export function patchIntervalMs(clients: number, s: Pick<OnlineSettings, 'patchMs' | 'patchMsPer1k' | 'patchMsMax'>): number {
  const ms = s.patchMs + Math.floor(clients / 1000) * s.patchMsPer1k;
  return Math.min(Math.max(s.patchMs, ms), Math.max(s.patchMs, s.patchMsMax));
}

export interface OnlineCountDeps {
  roomId: string;
  state: Pick<LiveRoomState, 'online'>;
  /** Without `reportOnline` the count is only shown. */
  rooms: { reportOnline?(roomId: string, online: number): Promise<void> };
  settings: OnlineSettings;
  logger: Pick<Logger, 'warn'>;
  now?: () => number;
}

export class OnlineCount {
  private readonly deps: OnlineCountDeps;
  private readonly now: () => number;
  private reported = -1;
  private reportedAt = 0;

  constructor(deps: OnlineCountDeps) {
    this.deps = deps;
    this.now = deps.now ?? Date.now;
  }

  /**
   * Shows `online` (every shard's clients) as the online count, reported when this shard `leads` the room;
   * returns the patch interval for this shard's `local` clients.
   */
  update(online: number, local = online, leads = true): number {
    this.deps.state.online = online;
    // Another shard reports meanwhile: once this one leads again, it reports whatever it last said.
    if (!leads) this.reported = -1;
    else if (online !== this.reported && this.now() - this.reportedAt >= this.deps.settings.onlineReportMs) this.report(online);
    return patchIntervalMs(local, this.deps.settings);
  }

  /** The room closes (its last shard does): it holds nobody any more. */
  close() {
    if (this.reported > 0) this.report(0);
  }

  private report(online: number) {
    const { rooms, roomId, logger } = this.deps;
    this.reported = online;
    this.reportedAt = this.now();
    rooms.reportOnline?.(roomId, online).catch((err) => logger.warn({ err, roomId }, 'online report failed'));
  }
}
