// Every free-text field a user can store, over REST and room messages, with one
// list of invisible and formatting characters (test/helpers/text.ts): each is a
// 400 / `validation_failed` naming the field, and nothing is stored. Emoji
// sequences that need ZWJ, variation selectors or tags are still accepted.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, uniqueName, type TestApp } from './helpers/app.ts';
import { dbKinds } from './helpers/db.ts';
import { newUser, next, until } from './helpers/live.ts';
import { INVISIBLE_SAMPLES, VISIBLE_SAMPLES } from './helpers/text.ts';
import { createRoom } from './helpers/wallet.ts';

const ADMIN = { username: 'text_admin', password: 'a long admin passphrase' };
// Text validation does not depend on the database: one kind is enough.
const kind = (await dbKinds())[0]!;

const refused = (r: { status: number; body: any }, field: string, what: string) => {
  assert.equal(r.status, 400, `${field}, ${what}: ${JSON.stringify(r.body)}`);
  assert.equal(r.body.error.code, 'validation_failed', `${field}, ${what}`);
  assert.match(r.body.error.message, new RegExp(`${field}.*(invisible or formatting|control) characters`), `${field}, ${what}`);
};

describe(`invisible and formatting characters in user text (${kind})`, () => {
  let app: TestApp;
  let admin: string;
  before(async () => {
    app = await startTestApp(kind, { ADMIN_USERNAME: ADMIN.username, ADMIN_PASSWORD: ADMIN.password, CHAT_RATE_POINTS: '1000', ROOM_MAX_MESSAGES_PER_SEC: '1000', LOTTERY_MIN_DURATION_SEC: '1' });
    const login = await app.http.request('POST', '/api/auth/login', { json: ADMIN });
    assert.equal(login.status, 200);
    admin = login.body.token;
  });
  after(() => app.close());

  test('nickname: at registration and in PATCH /users/me', async () => {
    const u = await newUser(app, 'nick');
    for (const { name, text } of INVISIBLE_SAMPLES) {
      const username = uniqueName('nick');
      refused(await app.http.request('POST', '/api/auth/register', { json: { username, password: 'a long enough passphrase', nickname: text } }), 'nickname', name);
      const login = await app.http.request('POST', '/api/auth/login', { json: { username, password: 'a long enough passphrase' } });
      assert.equal(login.status, 401, `${name}: no account was made`);
      refused(await app.http.request('PATCH', '/api/users/me', { token: u.token, json: { nickname: text } }), 'nickname', name);
    }
    const me = await app.http.request('GET', '/api/auth/me', { token: u.token });
    assert.equal(me.body.user.nickname, u.username);
    for (const { name, text } of VISIBLE_SAMPLES) {
      const r = await app.http.request('PATCH', '/api/users/me', { token: u.token, json: { nickname: text } });
      assert.equal(r.status, 200, `${name}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.user.nickname, text.normalize('NFC'));
    }
  });

  test('room title and description: at creation and in PATCH /rooms/:id', async () => {
    const s = await newUser(app, 'room');
    for (const { name, text } of INVISIBLE_SAMPLES) {
      refused(await app.http.request('POST', '/api/rooms', { token: s.token, json: { title: text } }), 'title', name);
      refused(await app.http.request('POST', '/api/rooms', { token: s.token, json: { title: 'ok', description: `line one\n${text}` } }), 'description', name);
    }
    const profile = await app.http.request('GET', `/api/users/${s.id}`);
    assert.equal(profile.body.roomId, null, 'no room was made');
    const roomId = await createRoom(app, s);
    const before = (await app.http.request('GET', `/api/rooms/${roomId}`)).body.room;
    for (const { name, text } of INVISIBLE_SAMPLES) {
      refused(await app.http.request('PATCH', `/api/rooms/${roomId}`, { token: s.token, json: { title: text } }), 'title', name);
      refused(await app.http.request('PATCH', `/api/rooms/${roomId}`, { token: s.token, json: { description: text } }), 'description', name);
    }
    const afterAll = (await app.http.request('GET', `/api/rooms/${roomId}`)).body.room;
    assert.equal(afterAll.title, before.title);
    assert.equal(afterAll.description, before.description);
    // Line breaks and tabs stay allowed in a description; emoji sequences everywhere.
    for (const { name, text } of VISIBLE_SAMPLES) {
      const r = await app.http.request('PATCH', `/api/rooms/${roomId}`, { token: s.token, json: { title: text, description: `${text}\n\tmore` } });
      assert.equal(r.status, 200, `${name}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.room.title, text.normalize('NFC'));
    }
  });

  test('lottery prize and keyword', async () => {
    const s = await newUser(app, 'lot');
    const roomId = await createRoom(app, s);
    for (const { name, text } of INVISIBLE_SAMPLES) {
      refused(await app.http.request('POST', `/api/rooms/${roomId}/lotteries`, { token: s.token, json: { prize: text, winners: 1, method: 'click', durationSec: 60 } }), 'prize', name);
      refused(
        await app.http.request('POST', `/api/rooms/${roomId}/lotteries`, { token: s.token, json: { prize: 'a mug', winners: 1, method: 'danmaku', keyword: text, durationSec: 60 } }),
        'keyword',
        name,
      );
    }
    assert.equal(await app.services.lotteries.current(roomId), undefined, 'no lottery was made');
    const ok = await app.http.request('POST', `/api/rooms/${roomId}/lotteries`, { token: s.token, json: { prize: VISIBLE_SAMPLES[0]!.text, winners: 1, method: 'danmaku', keyword: '👨‍👩‍👧', durationSec: 60 } });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
  });

  test('an admin grant note', async () => {
    const u = await newUser(app, 'note');
    const balance = async () => (await app.http.request('GET', '/api/wallet', { token: u.token })).body.balance;
    const start = await balance();
    for (const { name, text } of INVISIBLE_SAMPLES)
      refused(await app.http.request('POST', '/api/admin/wallet/grant', { token: admin, json: { userId: u.id, amount: 10, note: text } }), 'note', name);
    assert.equal(await balance(), start);
  });

  test('chat (danmaku) in a live room: an error to the sender, nothing shown or stored', async () => {
    const s = await newUser(app, 'chat');
    const b = await newUser(app, 'chat');
    const roomId = await createRoom(app, s);
    const sc = await s.client.joinRoom(roomId);
    const bc = await b.client.joinRoom(roomId);
    try {
      for (const { name, text } of INVISIBLE_SAMPLES) {
        const err = next(bc, 'error');
        bc.chat(text);
        const e = await err;
        assert.equal(e.code, 'validation_failed', name);
        assert.match(e.message, /text .*(invisible or formatting|control) characters/, name);
      }
      for (const { text } of VISIBLE_SAMPLES) bc.chat(text);
      await until(sc, () => sc.state.chat.length === VISIBLE_SAMPLES.length, 'the visible lines');
      assert.deepEqual(
        sc.state.chat.map((l) => l.text),
        VISIBLE_SAMPLES.map((v) => v.text.normalize('NFC')),
      );
      assert.deepEqual(
        (await app.services.chat.recent(roomId, 100)).map((m) => m.text),
        VISIBLE_SAMPLES.map((v) => v.text.normalize('NFC')),
      );
    } finally {
      await Promise.allSettled([sc.leave(), bc.leave()]);
    }
  });
});
