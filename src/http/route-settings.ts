// What the route modules are built with (limits their schemas enforce and
// their summaries state), made from the config by src/settings.ts.
import type { LotterySettings } from '../domain/lotteries.ts';

export interface PageLimits {
  max: number;
  default: number;
}

export interface RouteSettings {
  pages: PageLimits;
  uploadMaxBytes: number;
  grantMaxAmount: number;
  gifts: { streamerSharePercent: number; maxCount: number };
  lotteries: LotteryLimits;
  rankingsSize: number;
}

/** The lottery limits a request is validated against (the lotteries service applies the same ones). */
export type LotteryLimits = Pick<LotterySettings, 'prizeMaxLength' | 'keywordMaxLength' | 'maxWinners' | 'minDurationSec' | 'maxDurationSec' | 'entriesPageMax'>;
