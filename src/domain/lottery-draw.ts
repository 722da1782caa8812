// The verifiable draw (commit-reveal), as pure functions: the server uses
// them to draw, and `npm run lottery:verify` uses the same ones to check a
// draw from public data. The algorithm (docs/lotteries.md):
//
//   seed        32 bytes, published as 64 hex digits after the draw; the server makes it as
//               HMAC-SHA256(key = LOTTERY_SECRET, message = "liveroom-lottery-seed-v1:" + lottery id),
//               so it is stored nowhere until the draw (checking a draw does not need this step)
//   seedHash    hex(sha256(seed bytes)), published when the lottery opens (the reply, the room's
//               `lottery` state, and the append-only audit entry `lottery.create`)
//   entrants    the entrants' user ids, sorted by their UTF-8 bytes
//   entriesHash hex(sha256(entrants joined with "\n")), published at the draw
//   r(counter)  the first 4 bytes, big-endian, of
//               HMAC-SHA256(key = seed bytes, message = entriesHash bytes (32) || uint32be(counter)),
//               counter = 0, 1, 2, ... over the whole draw
//   below(m)    an unbiased integer in [0, m): take r(counter) until it is
//               < 2^32 - (2^32 mod m), answer it mod m (rejection sampling)
//   winners     partial Fisher–Yates over a copy of the sorted entrants:
//               for i = 0 .. k-1: j = i + below(n - i); swap(i, j);
//               the winners are positions 0 .. k-1 in that order,
//               k = min(winners, n) (fewer entrants than winners: all win)
import { createHash, createHmac } from 'node:crypto';

export const DRAW_ALGORITHM = 'hmac-sha256-fisher-yates-v1';
const TWO_32 = 2 ** 32;

/** The seed of lottery `lotteryId` under the server's lottery key: nothing to store before the draw. */
export const seedFor = (secret: string, lotteryId: string): string =>
  createHmac('sha256', secret).update(`liveroom-lottery-seed-v1:${lotteryId}`, 'utf8').digest('hex');

export const seedHashOf = (seedHex: string): string => createHash('sha256').update(Buffer.from(seedHex, 'hex')).digest('hex');

/** Byte order of the UTF-8 encodings (the same on every machine and database). */
export function sortEntrants(ids: readonly string[]): string[] {
  // ASCII (every id the server makes): UTF-16 code unit order is the byte order, and much cheaper.
  if (ids.every((id) => /^[\x00-\x7f]*$/.test(id))) return [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return ids
    .map((id) => ({ id, bytes: Buffer.from(id, 'utf8') }))
    .sort((a, b) => Buffer.compare(a.bytes, b.bytes))
    .map((e) => e.id);
}

export const entriesHashOf = (sortedIds: readonly string[]): string => createHash('sha256').update(sortedIds.join('\n'), 'utf8').digest('hex');

/** The winners, in draw order, of a lottery with `winners` prizes among `sortedIds`. */
export function drawWinners(seedHex: string, entriesHashHex: string, sortedIds: readonly string[], winners: number): string[] {
  const key = Buffer.from(seedHex, 'hex');
  const prefix = Buffer.from(entriesHashHex, 'hex');
  const message = Buffer.alloc(prefix.length + 4);
  prefix.copy(message);
  let counter = 0;
  const next32 = () => {
    message.writeUInt32BE(counter++, prefix.length);
    return createHmac('sha256', key).update(message).digest().readUInt32BE(0);
  };
  const below = (m: number) => {
    const limit = TWO_32 - (TWO_32 % m);
    for (;;) {
      const x = next32();
      if (x < limit) return x % m;
    }
  };
  const list = [...sortedIds];
  const n = list.length;
  const k = Math.min(Math.max(0, winners), n);
  for (let i = 0; i < k; i++) {
    const j = i + below(n - i);
    [list[i], list[j]] = [list[j]!, list[i]!];
  }
  return list.slice(0, k);
}

/** Everything a draw publishes, from the seed and the entrants. */
export function draw(seedHex: string, entrants: readonly string[], winners: number): { entriesHash: string; winnerIds: string[]; sorted: string[] } {
  const sorted = sortEntrants(entrants);
  const entriesHash = entriesHashOf(sorted);
  return { sorted, entriesHash, winnerIds: drawWinners(seedHex, entriesHash, sorted, winners) };
}

export interface VerifyInput {
  seed: string | null;
  seedHash: string;
  entriesHash: string | null;
  winners: number;
  winnerIds: string[];
  entrants: string[];
  /**
   * The seedHash as recorded elsewhere when the lottery opened (the checker's own note, the
   * append-only audit entry): a seed, seedHash and winners replaced together agree with each
   * other, never with a commitment kept apart. `seedHash: null`: that record is missing.
   */
  commitments?: { source: string; seedHash: string | null }[];
  /** The draw as recorded in the append-only audit entry `lottery.draw`, if read. */
  drawRecord?: { source: string; winnerIds: unknown; entriesHash: unknown } | null;
}

export interface VerifyReport {
  match: boolean;
  checks: { name: string; ok: boolean; detail?: string }[];
  derivedWinnerIds: string[];
}

/** Re-derives a draw from public data and compares it with what was published. */
export function verifyDraw(v: VerifyInput): VerifyReport {
  const checks: VerifyReport['checks'] = [];
  for (const c of v.commitments ?? [])
    checks.push({
      name: `seedHash = the commitment in ${c.source}`,
      ok: c.seedHash === v.seedHash,
      detail: c.seedHash === v.seedHash ? undefined : c.seedHash === null ? 'no commitment recorded there' : `recorded ${c.seedHash}, the lottery says ${v.seedHash}`,
    });
  if (v.drawRecord !== undefined) {
    const r = v.drawRecord;
    const same = r !== null && r.entriesHash === v.entriesHash && JSON.stringify(r.winnerIds) === JSON.stringify(v.winnerIds);
    checks.push({ name: `entriesHash and winners = the draw in ${r?.source ?? 'the audit log'}`, ok: same, detail: same ? undefined : r === null ? 'no draw recorded there' : `recorded ${JSON.stringify(r.winnerIds)}` });
  }
  const seedOk = typeof v.seed === 'string' && /^[0-9a-f]{64}$/.test(v.seed) && seedHashOf(v.seed) === v.seedHash;
  checks.push({ name: 'sha256(seed) = seedHash', ok: seedOk });
  const sorted = sortEntrants(v.entrants);
  const entriesHash = entriesHashOf(sorted);
  checks.push({ name: 'sha256(sorted entrants) = entriesHash', ok: entriesHash === v.entriesHash, detail: `${sorted.length} entrants` });
  const derived = seedOk && v.entriesHash ? drawWinners(v.seed!, v.entriesHash, sorted, v.winners) : [];
  const same = derived.length === v.winnerIds.length && derived.every((id, i) => id === v.winnerIds[i]);
  checks.push({ name: 'derived winners = published winners (in order)', ok: same, detail: same ? undefined : `derived ${JSON.stringify(derived)}` });
  return { match: checks.every((c) => c.ok), checks, derivedWinnerIds: derived };
}
