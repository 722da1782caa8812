// The SDK and load shedding: a request the server shed (503 `overloaded`) did
// nothing, so the client sends it again after Retry-After; any other 503 (a
// dependency down) reaches the caller at once. Driven with a fake fetch.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LiveroomClient, LiveroomError } from '../src/client/index.ts';

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

function fakeFetch(replies: Response[]) {
  const calls: number[] = [];
  const fetch = (async () => {
    calls.push(Date.now());
    return replies.shift() ?? json(500, { error: { code: 'internal', message: 'no more replies' } });
  }) as typeof globalThis.fetch;
  return { fetch, calls };
}

test('a shed request is sent again after its Retry-After, and the caller sees only the answer', async () => {
  const f = fakeFetch([json(503, { error: { code: 'overloaded', message: 'retry shortly' } }, { 'retry-after': '1' }), json(200, { items: [] })]);
  const client = new LiveroomClient({ baseUrl: 'http://liveroom.test', fetch: f.fetch });
  assert.deepEqual(await client.request('GET', '/gifts'), { items: [] });
  assert.equal(f.calls.length, 2);
  assert.ok(f.calls[1]! - f.calls[0]! >= 900, 'it waited for Retry-After');
});

test('a 503 for a dependency that is down is not retried; retries stop after retryShedForMs', async () => {
  const down = fakeFetch([json(503, { error: { code: 'unavailable', message: 'the database is down' } })]);
  const client = new LiveroomClient({ baseUrl: 'http://liveroom.test', fetch: down.fetch });
  await assert.rejects(client.request('GET', '/gifts'), (e) => e instanceof LiveroomError && e.code === 'unavailable' && e.status === 503);
  assert.equal(down.calls.length, 1);

  const shed = () => json(503, { error: { code: 'overloaded', message: 'retry shortly' } }, { 'retry-after': '1' });
  const busy = fakeFetch([shed(), shed(), shed()]);
  const impatient = new LiveroomClient({ baseUrl: 'http://liveroom.test', fetch: busy.fetch, retryShedForMs: 0 });
  await assert.rejects(impatient.request('GET', '/gifts'), (e) => e instanceof LiveroomError && e.code === 'overloaded');
  assert.equal(busy.calls.length, 1);
});
