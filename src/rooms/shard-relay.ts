// The shards of one live room talk through the presence's pub/sub (Redis in a
// cluster, in-process otherwise), one channel per room. A shard publishes at
// most one batch per relay tick (ROOM_SHARD_RELAY_MS) holding what it accepted
// since the last (chat lines, deletions, moderation) and its client count, so
// Redis carries O(shards × ticks) messages, never one per line per shard.
// Every shard, the publisher too, shows chat lines as the channel delivers
// them: one order for every shard. A shard alone in its room (the usual case)
// shows its own at once, and a shard whose batch the channel has not echoed
// within ROOM_SHARD_ECHO_MS (Redis is down) shows it itself: chat on one shard
// never depends on Redis. Gifts, lotteries, top fans and status reach every
// shard through the event bus already and are not relayed.
import type { ChatMessage, ModerationChange } from '../domain/chat.ts';

export type RelayItem = { kind: 'line'; line: ChatMessage } | { kind: 'delete'; messageId: string } | { kind: 'moderation'; change: ModerationChange };

interface RelayBatch {
  from: string;
  /** The publisher's batch number, to match its echo. */
  seq: number;
  /** When the shard opened: the oldest shard leads the room. */
  since: number;
  online: number;
  items?: RelayItem[];
  /** A new shard asks the others to announce themselves. */
  hello?: true;
  /** The shard closed. */
  bye?: true;
}

/** What the relay uses of a Colyseus presence. */
export interface RelayPresence {
  publish(topic: string, data: unknown): unknown;
  subscribe(topic: string, callback: (data: never) => void): Promise<unknown>;
  unsubscribe(topic: string, callback?: (data: never) => void): unknown;
}

export interface ShardRelaySettings {
  /** Accepted lines and moderation wait at most this long, to be published in one batch. */
  relayMs: number;
  /** A shard announces its count at least this often; one not heard from for three times this is dropped from the sum. */
  keepaliveMs: number;
  /** A shard's own items not echoed by the channel within this long are shown by the shard itself. */
  echoMs: number;
}

/**
 * Applies a batch's items; `mine` when this shard accepted them, `replayed` for items that came while the shard was
 * opening. Items of this shard's may come twice (shown at once or after the echo timeout, then echoed late).
 */
export type RelayReceiver = (items: RelayItem[], mine: boolean, replayed: boolean) => void;

export interface ShardRelayDeps {
  presence: RelayPresence;
  liveRoomId: string;
  shardId: string;
  settings: ShardRelaySettings;
  /** Timers for the relay tick and the echo timeout (they do nothing once the relay is closed). */
  setTimeout(fn: () => void, ms: number): void;
  onPublishFailed(err: unknown): void;
  now?: () => number;
}

interface Peer {
  since: number;
  online: number;
  heardAt: number;
}

export const relayTopic = (liveRoomId: string) => `liveroom:shards:${liveRoomId}`;

/** Own batches remembered while their echo is awaited (a second of a very busy shard's relay ticks). */
const MAX_UNECHOED = 1000;

export class ShardRelay {
  private readonly deps: ShardRelayDeps;
  private readonly now: () => number;
  private readonly topic: string;
  private readonly since: number;
  private readonly peers = new Map<string, Peer>();
  private outbox: RelayItem[] = [];
  /** Which outbox items this shard has shown already (it was alone in the room when it took them). */
  private outboxShown: boolean[] = [];
  private flushScheduled = false;
  private seq = 0;
  /**
   * This shard's published batches whose echo has not come yet, and which of their items it has shown already:
   * each is shown here exactly once, whether at once, after the echo timeout, or on the echo.
   */
  private readonly unechoed = new Map<number, { items: RelayItem[]; shown: boolean[] }>();
  private local = 0;
  private published = -1;
  private publishedAt = 0;
  private receiver: RelayReceiver | undefined;
  /** Batches that came before the room could show them (it was loading its history). */
  private early: RelayBatch[] = [];
  private closed = false;
  private readonly onBatch = (batch: RelayBatch) => this.heard(batch);

  constructor(deps: ShardRelayDeps) {
    this.deps = deps;
    this.now = deps.now ?? Date.now;
    this.topic = relayTopic(deps.liveRoomId);
    this.since = this.now();
  }

  /** Listens to the room's channel and greets its other shards; call before loading the room's history. */
  async start(): Promise<void> {
    await this.deps.presence.subscribe(this.topic, this.onBatch as (data: never) => void);
    this.publish({ hello: true });
  }

  /** Starts showing batches, first those that came while the room was opening. */
  attach(receiver: RelayReceiver) {
    this.receiver = receiver;
    const early = this.early;
    this.early = [];
    for (const b of early) if (b.items?.length) receiver(b.items, b.from === this.deps.shardId, true);
  }

  /** Queues an item for every shard (this one included); published within one relay tick. */
  send(item: RelayItem) {
    if (this.closed) return;
    // Alone in the room: no other order to agree with, so no wait for the channel.
    const alone = this.peers.size === 0 && this.receiver !== undefined;
    if (alone) this.receiver!([item], true, false);
    this.outbox.push(item);
    this.outboxShown.push(alone);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    this.deps.setTimeout(() => {
      this.flushScheduled = false;
      if (!this.closed && this.outbox.length > 0) this.publish();
    }, this.deps.settings.relayMs);
  }

  /** This shard's client count, as of now. */
  count(local: number) {
    this.local = local;
  }

  /** Announces the count if it changed, and at least every keepalive; the room calls it on its online interval, not per join. */
  announce() {
    if (this.closed) return;
    if (this.local !== this.published || this.now() - this.publishedAt >= this.deps.settings.keepaliveMs) this.publish();
  }

  /** Clients over every shard of the room. */
  total(): number {
    this.expire();
    let n = this.local;
    for (const p of this.peers.values()) n += p.online;
    return n;
  }

  /** Shards of the room this one knows of, itself included. */
  shards(): number {
    this.expire();
    return this.peers.size + 1;
  }

  /** The oldest shard speaks for the room (reports its online count) and stays open while empty. */
  leads(): boolean {
    this.expire();
    for (const [id, p] of this.peers) if (p.since < this.since || (p.since === this.since && id < this.deps.shardId)) return false;
    return true;
  }

  /** Publishes what is queued and says goodbye, so the others stop counting this shard at once. */
  close() {
    if (this.closed) return;
    this.local = 0;
    this.publish({ bye: true });
    this.closed = true;
    void this.deps.presence.unsubscribe(this.topic, this.onBatch as (data: never) => void);
  }

  private publish(extra: Pick<RelayBatch, 'hello' | 'bye'> = {}) {
    const batch: RelayBatch = { from: this.deps.shardId, seq: ++this.seq, since: this.since, online: this.local, ...extra };
    if (this.outbox.length > 0) {
      const items = this.outbox;
      batch.items = items;
      this.unechoed.set(batch.seq, { items, shown: this.outboxShown });
      this.outbox = [];
      this.outboxShown = [];
      // Echoes lost for good (Redis lost the publish) must not pile up: the oldest are forgotten.
      if (this.unechoed.size > MAX_UNECHOED) this.unechoed.delete(this.unechoed.keys().next().value!);
      this.deps.setTimeout(() => this.echoMissed(batch.seq), this.deps.settings.echoMs);
    }
    this.published = this.local;
    this.publishedAt = this.now();
    try {
      const sent = this.deps.presence.publish(this.topic, batch);
      if (sent instanceof Promise) sent.catch((err) => this.deps.onPublishFailed(err));
    } catch (err) {
      this.deps.onPublishFailed(err);
    }
  }

  private heard(batch: RelayBatch) {
    if (this.closed) return;
    const mine = batch.from === this.deps.shardId;
    if (!mine) {
      if (batch.bye) this.peers.delete(batch.from);
      else this.peers.set(batch.from, { since: batch.since, online: batch.online, heardAt: this.now() });
      // A new shard counts nobody until the others announce themselves.
      if (batch.hello) this.publish();
    }
    if (!batch.items?.length) return;
    if (!this.receiver) return void this.early.push(batch);
    const own = mine ? this.unechoed.get(batch.seq) : undefined;
    if (mine) this.unechoed.delete(batch.seq);
    // The items of this shard's own batch it has not shown yet (all of them when the record was forgotten).
    const items = own ? own.items.filter((_, i) => !own.shown[i]) : batch.items;
    if (items.length > 0) this.receiver(items, mine, false);
  }

  /** The channel did not bring this shard's batch back in time (Redis down): its own clients see it anyway. */
  private echoMissed(seq: number) {
    const own = this.unechoed.get(seq);
    if (!own || this.closed || !this.receiver) return;
    const items = own.items.filter((_, i) => !own.shown[i]);
    // kept, all shown, until the echo comes (or is forgotten), so a late echo shows nothing twice
    own.shown = own.items.map(() => true);
    if (items.length > 0) this.receiver(items, true, false);
  }

  private expire() {
    const horizon = this.now() - 3 * this.deps.settings.keepaliveMs;
    for (const [id, p] of this.peers) if (p.heardAt < horizon) this.peers.delete(id);
  }
}
