// What a rooms process holds, for Prometheus: its Colyseus rooms and their
// clients (the matchmaker's own count of this process), so an operator sees
// how rooms and viewers spread over the rooms processes of a cluster.
import { matchMaker } from '@colyseus/core';
import { Gauge, type Registry } from 'prom-client';

export function registerRoomsMetrics(registry: Registry): void {
  new Gauge({
    name: 'liveroom_rooms_held',
    help: 'Colyseus rooms (live rooms and rankings) held by this process',
    registers: [registry],
    collect() {
      this.set(matchMaker.stats.local.roomCount);
    },
  });
  new Gauge({
    name: 'liveroom_rooms_clients',
    help: 'Clients connected to the rooms of this process',
    registers: [registry],
    collect() {
      this.set(matchMaker.stats.local.ccu);
    },
  });
}
