// Who may hold an RTMP connection. One pool for every address let anyone with
// a thousand idle TCP sockets (each reopened when the handshake deadline
// dropped it) lock every publisher out. Now:
// - each address (an IPv6 /64) has a bounded share (RTMP_MAX_CONNECTIONS_PER_IP;
//   loopback, where the WHIP bridges and local tools come from, is exempt);
// - connections still in the RTMP handshake never take the last
//   RTMP_RESERVED_CONNECTIONS slots: those are kept for sessions past it;
// - a full pool makes room for a newcomer by dropping the connection that has
//   done least (no byte sent, then mid-handshake, then past the handshake but
//   not yet publishing), oldest first, rather than refusing the newcomer: idle
//   sockets cannot keep a publisher out, and a publisher that got past the
//   handshake is only dropped when nothing in the handshake is left to drop.
// A session that started publishing (or a local play) is never dropped to make room.
import { addressGroup } from './address.ts';

export interface RtmpSlotLimits {
  /** All connections. */
  maxConnections: number;
  /** Connections from one address, an IPv6 /64 (loopback exempt). */
  maxPerAddress: number;
  /** Slots that connections still in the handshake cannot take. */
  reserved: number;
}

export interface RtmpSlot {
  /** Bytes came in: the peer is doing something (a handshake under way). */
  received(): void;
  /** The RTMP handshake completed. */
  handshakeDone(): void;
  /** Publishing (or a local play): never dropped to make room. */
  started(): void;
  /** The connection closed. */
  release(): void;
}

export interface RtmpSlots {
  /**
   * A new connection from `address`: its slot, or null when there is no room
   * (every slot is held by started sessions). May drop another connection to
   * make room, by calling the `drop` it was admitted with.
   */
  admit(address: string, drop: () => void): RtmpSlot | null;
  counts(): { total: number; handshaking: number; started: number };
}

/** Stages in the order they are dropped to make room. */
const Stage = { Idle: 0, Handshaking: 1, PastHandshake: 2, Started: 3 } as const;
type Stage = (typeof Stage)[keyof typeof Stage];

interface Entry {
  address: string;
  stage: Stage;
  drop: () => void;
  released: boolean;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

export function createRtmpSlots(limits: RtmpSlotLimits): RtmpSlots {
  const handshakeCap = Math.max(1, limits.maxConnections - limits.reserved);
  /** Connections by stage, each in admission order (oldest first). */
  const byStage: Set<Entry>[] = [new Set(), new Set(), new Set(), new Set()];
  const byAddress = new Map<string, Set<Entry>>();
  let total = 0;
  const handshaking = () => byStage[Stage.Idle]!.size + byStage[Stage.Handshaking]!.size;

  const move = (e: Entry, stage: Stage) => {
    if (e.released || stage <= e.stage) return;
    byStage[e.stage]!.delete(e);
    e.stage = stage;
    byStage[stage]!.add(e);
  };

  const remove = (e: Entry) => {
    if (e.released) return;
    e.released = true;
    total--;
    byStage[e.stage]!.delete(e);
    const mine = byAddress.get(e.address);
    mine?.delete(e);
    if (mine?.size === 0) byAddress.delete(e.address);
  };

  /** The connection that has done least (lowest stage below `below`), oldest first, among `among` or everyone. */
  const victim = (below: Stage, among?: Set<Entry>): Entry | undefined => {
    if (among) {
      let best: Entry | undefined;
      for (const e of among) if (e.stage < below && (!best || e.stage < best.stage)) best = e;
      return best;
    }
    for (let s: number = Stage.Idle; s < below; s++) {
      const first = byStage[s]!.values().next();
      if (!first.done) return first.value;
    }
    return undefined;
  };

  /** Drops `e` for a newcomer; false when there is none to drop. */
  const evict = (e: Entry | undefined): boolean => {
    if (!e) return false;
    remove(e);
    e.drop();
    return true;
  };

  return {
    admit(remote, drop) {
      const limited = !LOOPBACK.has(remote);
      const address = addressGroup(remote);
      const mine = byAddress.get(address);
      // the address's own share first: it makes room from its own connections
      if (limited && mine && mine.size >= limits.maxPerAddress && !evict(victim(Stage.Started, mine))) return null;
      if (handshaking() >= handshakeCap && !evict(victim(Stage.PastHandshake))) return null;
      if (total >= limits.maxConnections && !evict(victim(Stage.Started))) return null;
      const e: Entry = { address, stage: Stage.Idle, drop, released: false };
      total++;
      byStage[Stage.Idle]!.add(e);
      let set = byAddress.get(address);
      if (!set) byAddress.set(address, (set = new Set()));
      set.add(e);
      return {
        received: () => move(e, Stage.Handshaking),
        handshakeDone: () => move(e, Stage.PastHandshake),
        started: () => move(e, Stage.Started),
        release: () => remove(e),
      };
    },
    counts: () => ({ total, handshaking: handshaking(), started: byStage[Stage.Started]!.size }),
  };
}
