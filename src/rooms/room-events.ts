// Routes bus events to the live rooms of this process by room id: one bus
// subscription per topic for the whole process, however many rooms are open.
import type { EventBus, EventMap } from '../domain/events.ts';

export type RoomTopic = 'room.status' | 'room.updated' | 'room.gift' | 'lottery.created' | 'lottery.entered' | 'lottery.drawn';
type Payload<T extends RoomTopic> = EventMap[T];

export interface RoomEvents {
  /** Calls `handler` for events of `topic` about `roomId`; returns the function that stops it. */
  on<T extends RoomTopic>(topic: T, roomId: string, handler: (e: Payload<T>) => void): () => void;
  /** Handlers currently registered, for one room or all (the leak test checks a disposed room leaves none). */
  size(roomId?: string): number;
  close(): void;
}

export function createRoomEvents(bus: EventBus, onError: (e: unknown) => void): RoomEvents {
  const byTopic = new Map<RoomTopic, { off: () => void; rooms: Map<string, Set<(e: never) => void>> }>();
  return {
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
    },
  };
}
