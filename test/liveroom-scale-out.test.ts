// Two app processes sharing rooms through Redis (RedisPresence + RedisDriver)
// and one PostgreSQL database: a client entering through either process
// reaches the same live room, sees the same chat, and events published
// anywhere reach the room wherever it lives.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';
import { LiveroomClient } from '../src/client/index.ts';
import { createRedisEventBus } from '../src/events/redis-bus.ts';
import { httpClient } from './helpers/app.ts';
import { POSTGRES_URL, postgresAvailable, REDIS_URL } from './helpers/db.ts';
import { redisAvailable } from './helpers/jobs.ts';
import { newUser, texts, until } from './helpers/live.ts';
import { createRoomVia } from './helpers/wallet.ts';
import { freePort, killOnExit } from './helpers/server-process.ts';

const root = path.resolve(import.meta.dirname, '..');


const ready = (await postgresAvailable()) && (await redisAvailable());

describe('live rooms across two processes (Redis + PostgreSQL)', { skip: !ready && 'needs PostgreSQL and Redis' }, () => {
  const dbName = `lr_t_scale_${randomBytes(4).toString('hex')}`;
  const dbUrl = new URL(POSTGRES_URL);
  dbUrl.pathname = `/${dbName}`;
  // A Redis database of its own keeps the matchmaker from seeing other tests' processes.
  const redisUrl = new URL(REDIS_URL);
  redisUrl.pathname = `/${4 + (process.pid % 3)}`;
  const children: ChildProcess[] = [];
  let dataDir: string;
  let urls: string[] = [];

  async function spawnApp(): Promise<string> {
    const port = await freePort();
    const child = spawn(process.execPath, [path.join(root, 'src/main.ts')], {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        PORT: String(port),
        HOST: '127.0.0.1',
        DATABASE_URL: dbUrl.toString(),
        REDIS_URL: redisUrl.toString(),
        DATA_DIR: dataDir,
        LOG_LEVEL: 'warn',
        JWT_SECRET: 'scale-test-secret-scale-test-secret-0123',
        SIGNUP_BONUS: '0',
        // no media role: two media processes would want the same RTMP port, and this test pushes no stream
        ROLES: 'http,rooms,jobs',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(killOnExit(child));
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const url = `http://127.0.0.1:${port}`;
    const http = httpClient(url);
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`app exited ${child.exitCode}: ${stderr}`);
      if (await http.request('GET', '/healthz').then((r) => r.status === 200, () => false)) return url;
      if (Date.now() > deadline) throw new Error(`app did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  before(async () => {
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    dataDir = await mkdtemp(path.join(tmpdir(), 'liveroom-scale-'));
    // one after the other: the first one migrates the database
    urls = [await spawnApp(), await spawnApp()];
  });

  after(async () => {
    await Promise.all(
      children.map((c) => {
        if (c.exitCode !== null || c.signalCode !== null) return;
        const exited = once(c, 'exit');
        c.kill('SIGTERM');
        return exited;
      }),
    );
    await rm(dataDir, { recursive: true, force: true });
    const a = new pg.Client({ connectionString: POSTGRES_URL });
    await a.connect();
    await a.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await a.end();
  });

  test('clients entering through either process share one room, its chat and its events', async () => {
    const [a, b] = urls as [string, string];
    const viaA = { url: a, http: httpClient(a) };
    const viaB = { url: b, http: httpClient(b) };
    const streamer = await newUser(viaA, 'streamer');
    const bob = await newUser(viaB, 'bob');
    const roomId = await createRoomVia(viaA.http, streamer);

    const s = await streamer.client.joinRoom(roomId);
    const v = await bob.client.joinRoom(roomId);
    const anon = await new LiveroomClient({ baseUrl: b }).joinRoom(roomId);
    try {
      assert.equal(s.roomId, roomId);
      assert.equal(v.roomId, roomId);
      for (const c of [s, v, anon]) await until(c, () => c.state.online === 3, 'three in the one room');

      s.chat('from A');
      await until(v, () => texts(v).includes('from A'), 'A line at B');
      v.chat('from B');
      for (const c of [s, v, anon]) await until(c, () => texts(c).join('|') === 'from A|from B', 'same chat everywhere');

      // an event published on the bus by any process (here: this one) reaches the room
      const publisher = new Redis(REDIS_URL);
      const subscriber = new Redis(REDIS_URL);
      const bus = createRedisEventBus({ publisher, subscriber });
      try {
        await bus.publish('room.status', { roomId, status: 'live', at: new Date().toISOString() });
        for (const c of [s, v, anon]) await until(c, () => c.state.status === 'live', 'live everywhere');
      } finally {
        await bus.close();
        publisher.disconnect();
      }

      // the seat each client holds is in the process that owns the room, whichever process it asked
      const owners = new Set([s, v, anon].map((c) => new URL((c.room.connection.transport as unknown as { ws: { url: string } }).ws.url).port));
      assert.equal(owners.size, 1, 'all connected to one process');
    } finally {
      await Promise.allSettled([s.leave(), v.leave(), anon.leave()]);
    }
  });

  test('a logout through the other process ends the room session at once', async () => {
    const [a, b] = urls as [string, string];
    const viaA = { url: a, http: httpClient(a) };
    const streamer = await newUser(viaA, 'streamer');
    const bob = await newUser(viaA, 'bob');
    const roomId = await createRoomVia(viaA.http, streamer);
    const s = await streamer.client.joinRoom(roomId);
    const v = await bob.client.joinRoom(roomId);
    try {
      await until(s, () => s.state.online === 2, 'two in the room');
      const ownerPort = new URL((v.room.connection.transport as unknown as { ws: { url: string } }).ws.url).port;
      const other = new URL(a).port === ownerPort ? b : a;
      const ended = new Promise<number>((resolve) => v.onLeave((code) => resolve(code)));
      await new LiveroomClient({ baseUrl: other, token: bob.token }).logout();
      assert.equal(await ended, 4401);
      await until(s, () => s.state.online === 1, 'the session is gone');
    } finally {
      await Promise.allSettled([s, v].filter((c) => c.room.connection.isOpen).map((c) => c.leave()));
    }
  });
});
