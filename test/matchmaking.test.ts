// Matchmaking (`POST /matchmake/...`, which reserves a seat) passes the
// gateway like /api: one address without an account cannot reserve seats
// faster than the per-address limit, nor hold more than a few unclaimed,
// while viewers who join with their reservations are never held back.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { anonymous, newUser } from './helpers/live.ts';
import { createRoom } from './helpers/wallet.ts';

const PENDING = 5;

describe('matchmaking limits', () => {
  let app: TestApp;
  let roomId: string;
  before(async () => {
    // TRUST_PROXY loopback (the default): X-Forwarded-For names the client, so one test plays several addresses.
    app = await startTestApp('pglite', { MATCHMAKE_PENDING_PER_IP: String(PENDING), MATCHMAKE_PER_IP_PER_MIN: '40' });
    const streamer = await newUser(app, 'mm_streamer');
    roomId = await createRoom(app, streamer);
  });
  after(() => app.close());

  const reserve = (ip: string) =>
    app.http.request('POST', '/matchmake/joinOrCreate/live', { json: { roomId }, headers: { 'x-forwarded-for': ip } });

  test('an address holding unclaimed reservations gets 429 with Retry-After; others are not affected', async () => {
    for (let i = 0; i < PENDING; i++) {
      const r = await reserve('203.0.113.5');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(typeof r.body.sessionId, 'string');
    }
    const refused = await reserve('203.0.113.5');
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error.code, 'rate_limited');
    assert.equal(refused.headers.get('retry-after'), '15', 'until the held reservations lapse');
    // Another address still reserves, and a viewer joins with the SDK.
    assert.equal((await reserve('198.51.100.7')).status, 200);
    const viewer = await anonymous(app).joinRoom(roomId);
    assert.equal(viewer.state.roomId, roomId);
    await viewer.leave();
  });

  test('a viewer that joins with each reservation claims it: many joins in a row from one address all succeed', async () => {
    const viewer = await newUser(app, 'mm_zapper');
    // Twice the pending bound, from 127.0.0.1: each join claims its seat before the next reservation.
    for (let i = 0; i < PENDING * 2; i++) {
      const conn = await viewer.client.joinRoom(roomId);
      await conn.leave();
    }
  });

  test('reservations per address per minute are limited (429) even when every one is claimed', async () => {
    const viewer = await newUser(app, 'mm_storm');
    // 40 a minute per address; the tests before used some of 127.0.0.1's already.
    let joined = 0;
    let refusal: unknown;
    for (let i = 0; i < 41 && !refusal; i++) {
      try {
        const conn = await viewer.client.joinRoom(roomId);
        await conn.leave();
        joined++;
      } catch (e) {
        refusal = e;
      }
    }
    assert.ok(refusal, `all ${joined} joins went through`);
    assert.ok(joined < 40, `joined ${joined}`);
    const r = await app.http.request('POST', '/matchmake/joinOrCreate/live', { json: { roomId } });
    assert.equal(r.status, 429);
    assert.equal(r.body.error.code, 'rate_limited');
    assert.ok(Number(r.headers.get('retry-after')) >= 1);
  });

  test('matchmaking errors keep Colyseus\'s answers, and an unknown matchmaking path is a JSON 404', async () => {
    const missing = await app.http.request('POST', '/matchmake/joinOrCreate/live', { json: { roomId: 'nope' }, headers: { 'x-forwarded-for': '198.51.100.99' } });
    assert.ok(missing.status >= 400 && missing.status < 500, `status ${missing.status}`);
    const unknown = await app.http.request('GET', '/matchmake/nothing-here');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'not_found');
  });
});
