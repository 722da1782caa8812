// The audience of a broadcast as the media nodes report it (domain/broadcasts.ts):
// each node counts its own players, and a room shows the sum over every node
// whose report still holds, on both databases.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, uniqueName, type TestApp } from './helpers/app.ts';
import { dbKinds } from './helpers/db.ts';
import { createRoomVia } from './helpers/wallet.ts';
import { eventually } from './helpers/wait.ts';

for (const kind of await dbKinds()) {
  describe(`viewer counts from several media nodes (${kind})`, () => {
    let app: TestApp;
    before(async () => {
      app = await startTestApp(kind);
    });
    after(() => app.close());

    async function liveRoom() {
      const streamer = await app.http.register(uniqueName('vc'));
      const roomId = await createRoomVia(app.http, streamer);
      await app.services.broadcasts.publishStarted(roomId);
      return roomId;
    }
    const viewers = async (roomId: string) => (await app.http.request('GET', `/api/rooms/${roomId}`)).body.room.viewers as number;
    const peak = async (roomId: string) => (await app.http.request('GET', `/api/rooms/${roomId}/sessions`)).body.items[0].peakViewers as number;

    test('a room watched on two nodes shows the sum; a node that no longer names it stops counting; the peak is the largest sum', async () => {
      const roomId = await liveRoom();
      const other = await liveRoom();
      await app.services.broadcasts.reportViewers('node-a', { [roomId]: 3 }, 60_000);
      await app.services.broadcasts.reportViewers('node-b', { [roomId]: 4, [other]: 1 }, 60_000);
      assert.equal(await viewers(roomId), 7, 'one report does not zero the rooms another node counts');
      assert.equal(await viewers(other), 1);
      await app.services.broadcasts.reportViewers('node-a', { [roomId]: 5 }, 60_000);
      assert.equal(await viewers(roomId), 9);
      await app.services.broadcasts.reportViewers('node-b', {}, 60_000);
      assert.equal(await viewers(roomId), 5);
      assert.equal(await viewers(other), 0);
      assert.equal(await peak(roomId), 9);
    });

    test('a node that stops reporting stops counting once its report expires', async () => {
      const roomId = await liveRoom();
      await app.services.broadcasts.reportViewers('node-gone', { [roomId]: 6 }, 200);
      await app.services.broadcasts.reportViewers('node-here', { [roomId]: 2 }, 60_000);
      assert.equal(await viewers(roomId), 8);
      // any node's next report sweeps the expired ones
      await eventually(async () => {
        await app.services.broadcasts.reportViewers('node-here', { [roomId]: 2 }, 60_000);
        return (await viewers(roomId)) === 2;
      }, 'the silent node no longer counted', 10_000);
    });

    test('the end of a broadcast zeroes its audience on every node, and a late report of an ended room is not summed back', async () => {
      const roomId = await liveRoom();
      await app.services.broadcasts.reportViewers('node-a', { [roomId]: 3 }, 60_000);
      await app.services.broadcasts.reportViewers('node-b', { [roomId]: 2 }, 60_000);
      await app.services.broadcasts.publishStopped(roomId, 'streamer_stopped');
      assert.equal(await viewers(roomId), 0);
      await app.services.broadcasts.reportViewers('node-a', { [roomId]: 3 }, 60_000);
      assert.equal(await viewers(roomId), 0, 'a report that crossed the end does not count an ended room');
      await app.services.broadcasts.reportViewers('node-a', {}, 60_000);
      assert.equal(await viewers(roomId), 0, 'node-b counted it before the end: that count went with the broadcast');
    });

    test('counts for a room that does not exist are ignored', async () => {
      const roomId = await liveRoom();
      await app.services.broadcasts.reportViewers('node-a', { no_such_room: 5, [roomId]: 1 }, 60_000);
      assert.equal(await viewers(roomId), 1);
    });
  });
}
