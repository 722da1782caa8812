// The room's online count: shown in the state, written back to the rooms
// service for listings and rankings (on change, at most every
// ROOM_ONLINE_REPORT_MS), and the patch interval it calls for.
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

  /** Shows `clients` as the online count; returns the patch interval for that many. */
  update(clients: number): number {
    this.deps.state.online = clients;
    if (clients !== this.reported && this.now() - this.reportedAt >= this.deps.settings.onlineReportMs) this.report(clients);
    return patchIntervalMs(clients, this.deps.settings);
  }

  /** The room closes: it holds nobody any more. */
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
