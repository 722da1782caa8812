// Routes bus events to the live rooms of this process by room id: one bus
// subscription per topic for the whole process, however many rooms are open.
import type { EventBus, EventMap } from '../domain/events.ts';

export type RoomTopic = 'room.status' | 'room.updated' | 'room.gift' | 'lottery.created' | 'lottery.entered' | 'lottery.refused' | 'lottery.drawn';
type Payload<T extends RoomTopic> = EventMap[T];

export interface RoomEvents {
  /** Calls `handler` for events of `topic` about `roomId`; returns the function that stops it. */
  on<T extends RoomTopic>(topic: T, roomId: string, handler: (e: Payload<T>) => void): () => void;
  /** Calls `handler` when the token `jti` is revoked (logout in any process); returns the function that stops it. */
  onRevoked(jti: string, handler: () => void): () => void;
  /** Handlers currently registered, for one room or all (the leak test checks a disposed room leaves none). */
  size(roomId?: string): number;
  /** Revocation watches currently registered (one per signed-in session). */
  watchedTokens(): number;
  close(): void;
}

export function createRoomEvents(bus: EventBus, onError: (e: unknown) => void): RoomEvents {
  const byTopic = new Map<RoomTopic, { off: () => void; rooms: Map<string, Set<(e: never) => void>> }>();
  // One subscription for every session of the process, looked up by token id: a logout costs one lookup.
  const byJti = new Map<string, Set<() => void>>();
  let offRevoked: (() => void) | undefined;
  return {
    onRevoked(jti, handler) {
      offRevoked ??= bus.subscribe('auth.revoked', (e) => {
        for (const h of byJti.get(e.jti) ?? []) {
          try {
            h();
          } catch (err) {
            onError(err);
          }
        }
      });
      let set = byJti.get(jti);
      if (!set) byJti.set(jti, (set = new Set()));
      const h = () => handler();
      set.add(h);
      return () => {
        set.delete(h);
        if (set.size === 0 && byJti.get(jti) === set) byJti.delete(jti);
      };
    },
    watchedTokens() {
      let n = 0;
      for (const set of byJti.values()) n += set.size;
      return n;
    },
    on(topic, roomId, handler) {
      let entry = byTopic.get(topic);
      if (!entry) {
        const rooms = new Map<string, Set<(e: never) => void>>();
        const off = bus.subscribe(topic, (e) => {
          for (const h of rooms.get(e.roomId) ?? []) {
            try {
              (h as (p: typeof e) => void)(e);
            } catch (err) {
              onError(err);
            }
          }
        });
        entry = { off, rooms };
        byTopic.set(topic, entry);
      }
      let set = entry.rooms.get(roomId);
      if (!set) entry.rooms.set(roomId, (set = new Set()));
      const h = handler as (e: never) => void;
      set.add(h);
      const rooms = entry.rooms;
      return () => {
        set.delete(h);
        if (set.size === 0) rooms.delete(roomId);
      };
    },
    size(roomId) {
      let n = 0;
      for (const { rooms } of byTopic.values())
        for (const [id, set] of rooms) if (roomId === undefined || id === roomId) n += set.size;
      return n;
    },
    close() {
      for (const { off } of byTopic.values()) off();
      byTopic.clear();
      offRevoked?.();
      offRevoked = undefined;
      byJti.clear();
    },
  };
}
