// The address the audit log records for room actions follows TRUST_PROXY like
// REST: a client's own X-Real-IP / X-Forwarded-For / X-Client-IP count only
// when the hop that sent them is a trusted proxy, and without them the real
// socket address is recorded (never null). Each case does one REST action and
// one room action (slow mode over the WebSocket) with the same headers.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Client } from '@colyseus/sdk';
import type { LiveRoomState } from '../src/client/index.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { dbKinds } from './helpers/db.ts';
import { newUser } from './helpers/live.ts';
import { createRoom } from './helpers/wallet.ts';

// Addressing does not depend on the database: one kind is enough.
const kind = (await dbKinds())[0]!;
const SPOOF = { 'x-real-ip': '203.0.113.66', 'x-forwarded-for': '203.0.113.67', 'x-client-ip': '203.0.113.68' };

/** The IP of the newest audit row of `action` by `actorId`. */
async function auditIp(app: TestApp, action: string, actorId: string): Promise<string | null> {
  const page = await app.services.audit.list({ action, actor: actorId, limit: 1 });
  assert.equal(page.items.length, 1, `one ${action} row`);
  return page.items[0]!.ip;
}

/** Turns slow mode on over a room joined with `headers` on the matchmaking request and the socket. */
async function slowModeVia(app: TestApp, streamer: { token: string }, roomId: string, headers: Record<string, string>, seconds: number) {
  const client = new Client(app.url, { headers });
  const room = await client.joinOrCreate<LiveRoomState>('live', { roomId, token: streamer.token });
  try {
    const applied = new Promise<void>((resolve) => {
      room.onStateChange((s) => {
        if (s.chatMode?.slowSec === seconds) resolve();
      });
    });
    room.send('mod:slow', { seconds });
    await applied;
  } finally {
    await room.leave();
  }
}

const cases: { trust: string; headers: Record<string, string>; expected: string; what: string }[] = [
  { trust: 'false', headers: SPOOF, expected: '127.0.0.1', what: 'spoofed headers from an untrusted hop are ignored' },
  { trust: 'false', headers: {}, expected: '127.0.0.1', what: 'no proxy headers: the socket address' },
  { trust: 'loopback', headers: SPOOF, expected: '203.0.113.67', what: 'a trusted proxy (loopback): X-Forwarded-For, as REST' },
  { trust: 'loopback', headers: {}, expected: '127.0.0.1', what: 'a trusted proxy without headers: the socket address' },
  { trust: '1', headers: { 'x-forwarded-for': '198.51.100.9, 203.0.113.67' }, expected: '203.0.113.67', what: 'one trusted hop: the last X-Forwarded-For address' },
];

for (const trust of [...new Set(cases.map((c) => c.trust))]) {
  describe(`client address of room actions with TRUST_PROXY=${trust} (${kind})`, () => {
    let app: TestApp | undefined;
    after(() => app?.close());

    for (const c of cases.filter((x) => x.trust === trust)) {
      test(c.what, async () => {
        app ??= await startTestApp(kind, { TRUST_PROXY: trust });
        const streamer = await newUser(app, 'ip');
        const roomId = await createRoom(app, streamer);
        assert.equal((await app.http.request('PATCH', '/api/users/me', { token: streamer.token, headers: c.headers, json: { nickname: 'Addr' } })).status, 200);
        const restIp = await auditIp(app, 'user.profile_change', streamer.id);
        await slowModeVia(app, streamer, roomId, c.headers, 7);
        const roomIp = await auditIp(app, 'chat.slow_mode', streamer.id);
        assert.equal(restIp, c.expected, 'REST');
        assert.equal(roomIp, c.expected, 'room action');
      });
    }
  });
}
