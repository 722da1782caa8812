// Room message fuzzing: clients that send random frames, truncated protocol
// frames, unknown message types, wrong shapes for known ones, huge payloads
// and floods, next to two viewers who chat. The server runs in its own
// process, so a crash shows as a crash: the process and the room stay up,
// the viewers' chat keeps flowing, and every offender's connection is closed.
// ROOM_FUZZ_SEED replays a run; ROOM_FUZZ_OFFENDERS sets how many.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { LiveroomClient, type LiveRoomConnection } from '../src/client/index.ts';
import { until } from './helpers/live.ts';
import { startServerProcess, type ServerProcess } from './helpers/server-process.ts';
import { createRoomVia } from './helpers/wallet.ts';

const SEED = Number(process.env.ROOM_FUZZ_SEED ?? Date.now() % 1_000_000);
const OFFENDERS = Number(process.env.ROOM_FUZZ_OFFENDERS ?? 60);
const ROOM_DATA = 13; // Colyseus protocol: a message to the room
const MAX_PER_SEC = 20;

type Attack = { kind: string; frames: (conn: LiveRoomConnection) => void };

const bytes = (max: number) => fc.uint8Array({ maxLength: max });
const attack: fc.Arbitrary<Attack> = fc.oneof(
  bytes(300).map((b) => ({ kind: 'random bytes', frames: (c: LiveRoomConnection) => c.room.connection.send(b) })),
  bytes(60).map((b) => ({ kind: 'truncated room data', frames: (c: LiveRoomConnection) => c.room.connection.send(Uint8Array.from([ROOM_DATA, ...b])) })),
  fc.tuple(fc.constantFrom(0xd9, 0xda, 0xdb, 0xa5, 0xcc, 0xcd, 0xce, 0xcf, 0xff), bytes(8)).map(([marker, b]) => ({
    kind: 'room data with a cut type marker',
    frames: (c: LiveRoomConnection) => c.room.connection.send(Uint8Array.from([ROOM_DATA, marker, ...b])),
  })),
  fc.tuple(fc.string({ maxLength: 20 }), fc.jsonValue({ maxDepth: 3 })).map(([type, v]) => ({ kind: 'unknown type', frames: (c: LiveRoomConnection) => c.room.send(`x-${type}`, v) })),
  fc.tuple(fc.constantFrom('chat', 'mod:slow', 'mod:mute', 'mod:ban', 'mod:delete', 'mod:followers_only', 'lottery:enter'), fc.jsonValue({ maxDepth: 4 })).map(([type, v]) => ({
    kind: `wrong shape for ${type}, then an unknown type`,
    frames: (c: LiveRoomConnection) => {
      c.room.send(type, v);
      c.room.send('no-such-type', {});
    },
  })),
  fc.constant({ kind: 'payload past the frame limit', frames: (c: LiveRoomConnection) => c.room.send('chat', { text: 'x'.repeat(40_000) }) }),
  fc.constant({
    kind: 'flood',
    frames: (c: LiveRoomConnection) => {
      for (let i = 0; i < MAX_PER_SEC * 5; i++) c.room.send('chat', { text: `flood ${i}` });
    },
  }),
);

describe('room message fuzzing', () => {
  let dataDir: string;
  let server: ServerProcess;
  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'liveroom-roomfuzz-'));
    server = await startServerProcess({
      PATH: process.env.PATH,
      DATA_DIR: dataDir,
      ROLES: 'http,rooms',
      LOG_LEVEL: 'warn',
      ROOM_MAX_MESSAGES_PER_SEC: String(MAX_PER_SEC),
      CHAT_RATE_POINTS: '1000',
      RATE_LIMIT_IP_PER_MIN: '100000',
      MATCHMAKE_PER_IP_PER_MIN: '100000',
      REGISTER_PER_IP_PER_HOUR: '1000',
    });
  });
  after(async () => {
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  test(`${OFFENDERS} offenders (seed ${SEED}): the process and room stay up, viewers chat on, offenders are closed`, async () => {
    const { http } = server;
    const streamer = await http.register('fz_streamer');
    const roomId = await createRoomVia(http, streamer);
    const alice = await http.register('fz_alice');
    const bob = await http.register('fz_bob');
    const a = await new LiveroomClient({ baseUrl: server.url, token: alice.token }).joinRoom(roomId);
    const b = await new LiveroomClient({ baseUrl: server.url, token: bob.token }).joinRoom(roomId);
    const chatReaches = async (text: string) => {
      a.chat(text);
      await until(b, () => b.state.chat.some((l) => l.text === text), `"${text}" reaching bob`);
    };
    await chatReaches('before the storm');

    const attacks = fc.sample(attack, { numRuns: OFFENDERS, seed: SEED });
    const notClosed: string[] = [];
    // In waves of 10 offenders at once, each anonymous and on its own connection.
    for (let i = 0; i < attacks.length; i += 10) {
      await Promise.all(
        attacks.slice(i, i + 10).map(async (atk, j) => {
          const conn = await new LiveroomClient({ baseUrl: server.url }).joinRoom(roomId);
          conn.room.onMessage('error', () => {}); // refusals are expected; the SDK warns about unheard types
          const closed = new Promise<number>((resolve) => conn.room.onLeave((code: number) => resolve(code)));
          atk.frames(conn);
          // Whatever it sent, an unknown type follows: that alone must close the connection.
          conn.room.send('no-such-type', {});
          const outcome = await Promise.race([closed, new Promise<'open'>((r) => setTimeout(() => r('open'), 10_000))]);
          if (outcome === 'open') {
            notClosed.push(`#${i + j} ${atk.kind}`);
            await conn.leave();
          }
        }),
      );
      assert.equal((await http.request('GET', '/healthz')).status, 200, 'the process answers');
      await chatReaches(`after wave ${i / 10}`);
    }
    assert.deepEqual(notClosed, [], `offenders left open (seed ${SEED})`);
    assert.equal(server.child.exitCode, null, `the server is running: ${server.stderr()}`);
    assert.ok(a.room.connection.isOpen && b.room.connection.isOpen, 'the viewers were never disconnected');
    await a.leave();
    await b.leave();
  });
});
