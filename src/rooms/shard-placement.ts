// Where Colyseus creates a room. A live room's new shard goes to the rooms
// process holding fewest shards of that room (then fewest rooms, then fewest
// clients), so a hot room spreads over every rooms process; any other room
// goes where Colyseus puts it by default, the process with fewest rooms.
import { matchMaker } from '@colyseus/core';

export interface ProcessLoad {
  processId: string;
  roomCount: number;
  ccu: number;
}

/** The process to create the room on: fewest `shardsOn` it, then fewest rooms, then fewest clients. */
export function pickProcess(processes: ProcessLoad[], shardsOn: Map<string, number>): string | undefined {
  const key = (p: ProcessLoad) => [shardsOn.get(p.processId) ?? 0, p.roomCount, p.ccu];
  const sorted = [...processes].sort((p, q) => {
    const [a, b] = [key(p), key(q)];
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
    return p.processId < q.processId ? -1 : 1;
  });
  return sorted[0]?.processId;
}

/** Colyseus's `selectProcessIdToCreateRoom` for this server's room types. */
export async function selectProcessForRoom(roomName: string, clientOptions: { roomId?: unknown } | undefined): Promise<string> {
  const processes = await matchMaker.stats.fetchAll();
  const shardsOn = new Map<string, number>();
  if (roomName === 'live' && typeof clientOptions?.roomId === 'string') {
    for (const shard of await matchMaker.query({ name: 'live', liveRoomId: clientOptions.roomId }))
      shardsOn.set(shard.processId, (shardsOn.get(shard.processId) ?? 0) + 1);
  }
  return pickProcess(processes, shardsOn) ?? matchMaker.processId;
}
