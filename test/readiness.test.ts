// Ready means ready: /readyz answers 200 only when every role of the process
// can serve, so an encoder that pushes the moment it does gets in, and a
// media process being restarted turns it 503 (with media down) until it is back.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type HttpClient, type TestApp } from './helpers/app.ts';
import { MEDIA_ENV, newRoom, push, waitStatus, type Push } from './helpers/media.ts';
import { freePort, startServerProcess } from './helpers/server-process.ts';

/** Polls /readyz as a load balancer would and resolves with the first reply of the wanted status. */
async function readyz(http: HttpClient, status: number, ms = 60_000) {
  const end = Date.now() + ms;
  for (;;) {
    const r = await http.request('GET', '/readyz').catch(() => undefined);
    if (r?.status === status) return r;
    if (Date.now() > end) throw new Error(`/readyz never answered ${status}: ${JSON.stringify(r?.body)}`);
    await new Promise((res) => setTimeout(res, 10));
  }
}

describe('/readyz covers every role of the process', () => {
  const pushes: Push[] = [];
  after(() => {
    for (const p of pushes) p.kill();
  });

  test('a push the moment /readyz first answers 200 goes live, start after start (no retry)', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'liveroom-ready-'));
    const env = (rtmpPort: number, httpPort: number) => ({
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      JWT_SECRET: 'ready-test-secret-ready-test-secret-0123',
      RTMP_PORT: String(rtmpPort),
      MEDIA_HTTP_PORT: String(httpPort),
    });
    try {
      // First start: a streamer and a room (the key is what the encoder is configured with).
      const first = await startServerProcess(env(await freePort(), await freePort()));
      const room = await newRoom(first);
      await first.stop('SIGTERM');
      for (let i = 0; i < 3; i++) {
        const rtmpPort = await freePort();
        const server = await startServerProcess(env(rtmpPort, await freePort()));
        try {
          const ready = await readyz(server.http, 200);
          const encoder = push(`rtmp://127.0.0.1:${rtmpPort}/live/${room.key}`);
          pushes.push(encoder);
          assert.deepEqual(Object.keys(ready.body.checks).sort(), ['database', 'jobs', 'media', 'rooms']);
          await waitStatus(server, room.roomId, 'live', 30_000).catch((e) => {
            throw new Error(`start ${i + 1}: ${(e as Error).message}; ffmpeg: ${encoder.stderr()}`);
          });
          encoder.kill();
        } finally {
          await server.stop('SIGTERM');
        }
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  describe('while the media process restarts', () => {
    let app: TestApp;
    before(async () => {
      app = await startTestApp('pglite', { ...MEDIA_ENV, MEDIA_RESTART_BACKOFF_MS: '1000' });
    });
    after(() => app.close());

    test('/readyz is 503 with media down while /healthz stays 200, then 200, and a push right after goes live', async () => {
      const ok = await readyz(app.http, 200);
      assert.deepEqual(ok.body, { status: 'ready', checks: { database: 'up', rooms: 'up', media: 'up', jobs: 'up' } });
      const room = await newRoom(app);
      process.kill(app.media!.pid()!, 'SIGKILL');
      const down = await readyz(app.http, 503, 10_000);
      assert.equal(down.body.checks.media, 'down');
      assert.equal(down.body.checks.database, 'up');
      assert.equal((await app.http.request('GET', '/healthz')).status, 200);
      await readyz(app.http, 200);
      const encoder = push(`rtmp://127.0.0.1:${app.media!.ports().rtmp}/live/${room.key}`);
      pushes.push(encoder);
      await waitStatus(app, room.roomId, 'live', 30_000);
    });
  });
});
