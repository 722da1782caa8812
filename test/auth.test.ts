import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dbKinds } from './helpers/db.ts';
import { startTestApp, uniqueName, type TestApp } from './helpers/app.ts';

const ADMIN = { username: 'auth_admin', password: 'a long admin passphrase' };

for (const kind of await dbKinds()) {
  describe(`accounts over HTTP (${kind})`, () => {
    let app: TestApp;
    before(async () => {
      app = await startTestApp(kind, { ADMIN_USERNAME: ADMIN.username, ADMIN_PASSWORD: ADMIN.password });
    });
    after(() => app.close());

    test('register, login, me and logout revoke the token at once', async () => {
      const username = uniqueName('alice');
      const reg = await app.http.request('POST', '/api/auth/register', { json: { username, password: 'correct horse battery', nickname: '爱丽丝' } });
      assert.equal(reg.status, 201);
      assert.equal(reg.body.user.username, username);
      assert.equal(reg.body.user.nickname, '爱丽丝');
      assert.equal(reg.body.user.role, 'user');
      assert.equal(reg.body.user.passwordHash, undefined);

      const login = await app.http.request('POST', '/api/auth/login', { json: { username, password: 'correct horse battery' } });
      assert.equal(login.status, 200);
      const token = login.body.token as string;
      assert.ok(token.length > 20);

      const me = await app.http.request('GET', '/api/auth/me', { token });
      assert.equal(me.status, 200);
      assert.equal(me.body.user.id, reg.body.user.id);

      const out = await app.http.request('POST', '/api/auth/logout', { token });
      assert.equal(out.status, 204);
      const again = await app.http.request('GET', '/api/auth/me', { token });
      assert.equal(again.status, 401);
      assert.equal(again.body.error.code, 'unauthorized');
    });

    test('a signed-in user changes their password with the current one: the old one stops working, the token stays valid, it is audited', async () => {
      const username = uniqueName('pw');
      const old = 'the first long passphrase';
      const user = await app.http.register(username, old);
      const change = (json: unknown, token = user.token) => app.http.request('POST', '/api/auth/password', { token, json });

      // refused, and nothing changes: wrong current password, weak or unchanged new one, bad bodies, no token
      const wrong = await change({ currentPassword: 'not the password at all', newPassword: 'a brand new passphrase' });
      assert.equal(wrong.status, 403);
      assert.equal(wrong.body.error.code, 'wrong_password');
      assert.equal((await change({ currentPassword: old, newPassword: 'short' })).body.error.code, 'weak_password');
      assert.equal((await change({ currentPassword: old, newPassword: username })).body.error.code, 'weak_password');
      assert.equal((await change({ currentPassword: old, newPassword: old })).body.error.code, 'weak_password');
      for (const bad of [{}, { currentPassword: old }, { currentPassword: old, newPassword: 42 }, { currentPassword: old, newPassword: 'x'.repeat(5000) }, { currentPassword: old, newPassword: 'a brand new passphrase', extra: 1 }]) {
        const r = await change(bad);
        assert.equal(r.status, 400, JSON.stringify(bad));
        assert.equal(r.body.error.code, 'validation_failed');
      }
      assert.equal((await app.http.request('POST', '/api/auth/password', { json: { currentPassword: old, newPassword: 'a brand new passphrase' } })).status, 401);
      assert.equal((await app.http.request('POST', '/api/auth/login', { json: { username, password: old } })).status, 200, 'the old password still works after the refusals');

      // changed
      assert.equal((await change({ currentPassword: old, newPassword: 'a brand new passphrase' })).status, 204);
      const withOld = await app.http.request('POST', '/api/auth/login', { json: { username, password: old } });
      assert.equal(withOld.status, 401);
      assert.equal(withOld.body.error.code, 'invalid_credentials');
      assert.equal((await app.http.request('POST', '/api/auth/login', { json: { username, password: 'a brand new passphrase' } })).status, 200);
      assert.equal((await app.http.request('GET', '/api/auth/me', { token: user.token })).status, 200, 'the session that changed it goes on');

      const admin = (await app.http.request('POST', '/api/auth/login', { json: ADMIN })).body.token;
      const audit = await app.http.request('GET', '/api/admin/audit-log?action=user.password_change&limit=100', { token: admin });
      assert.deepEqual(audit.body.items.filter((a: any) => a.target === user.id).map((a: any) => a.actorId), [user.id], 'one entry, for the change that happened');
    });

    test('guessing the current password through the change endpoint is limited like logins', async () => {
      const username = uniqueName('pwguess');
      const user = await app.http.register(username, 'the real long passphrase');
      let status = 0;
      for (let i = 0; i < 30 && status !== 429; i++) {
        status = (await app.http.request('POST', '/api/auth/password', { token: user.token, json: { currentPassword: `guess number ${i}`, newPassword: 'a brand new passphrase' } })).status;
        if (status !== 429) assert.equal(status, 403);
      }
      assert.equal(status, 429, 'wrong guesses are rate limited');
    });

    test('a duplicate username (any case) is a 409 and creates nothing', async () => {
      const username = uniqueName('bob');
      assert.equal((await app.http.request('POST', '/api/auth/register', { json: { username, password: 'correct horse battery' } })).status, 201);
      const dup = await app.http.request('POST', '/api/auth/register', { json: { username: username.toUpperCase(), password: 'another good passphrase' } });
      assert.equal(dup.status, 409);
      assert.equal(dup.body.error.code, 'username_taken');
      // the first password still works; the second never did
      assert.equal((await app.http.request('POST', '/api/auth/login', { json: { username, password: 'another good passphrase' } })).status, 401);
    });

    test('weak, short and common passwords are refused with a clear code', async () => {
      for (const password of ['short', 'password1', '12345678', 'qwertyuiop', 'iloveyou']) {
        const r = await app.http.request('POST', '/api/auth/register', { json: { username: uniqueName('weak'), password } });
        assert.equal(r.status, 400, password);
        assert.equal(r.body.error.code, 'weak_password', password);
      }
      const same = uniqueName('same');
      const r = await app.http.request('POST', '/api/auth/register', { json: { username: same, password: same } });
      assert.equal(r.body.error.code, 'weak_password');
    });

    test('long passwords are not truncated', async () => {
      const username = uniqueName('long');
      const password = 'x'.repeat(100) + 'tail-one';
      assert.equal((await app.http.request('POST', '/api/auth/register', { json: { username, password } })).status, 201);
      const wrongTail = await app.http.request('POST', '/api/auth/login', { json: { username, password: 'x'.repeat(100) + 'tail-two' } });
      assert.equal(wrongTail.status, 401);
      assert.equal((await app.http.request('POST', '/api/auth/login', { json: { username, password } })).status, 200);
    });

    test('bad register bodies get 400 and write nothing', async () => {
      const username = uniqueName('bad');
      const cases: unknown[] = [
        {},
        { username },
        { password: 'correct horse battery' },
        { username, password: 'correct horse battery', extra: 1 },
        { username: 42, password: 'correct horse battery' },
        { username: "x'; drop table users; --", password: 'correct horse battery' },
        { username: 'ab', password: 'correct horse battery' },
        { username: 'a'.repeat(33), password: 'correct horse battery' },
        { username: '用户名', password: 'correct horse battery' },
        { username, password: 'correct horse battery', nickname: 'a\u0000b' },
        { username, password: 'correct horse battery', nickname: 'x'.repeat(33) },
        { username, password: 'correct horse battery', nickname: '   ' },
        [],
      ];
      for (const json of cases) {
        const r = await app.http.request('POST', '/api/auth/register', { json });
        assert.equal(r.status, 400, JSON.stringify(json));
        assert.equal(r.body.error.code, 'validation_failed', JSON.stringify(json));
        assert.equal(typeof r.body.error.message, 'string');
      }
      const malformed = await app.http.request('POST', '/api/auth/register', { json: '{"username": "x",' });
      assert.equal(malformed.status, 400);
      assert.equal(malformed.body.error.code, 'malformed_json');
      const huge = await app.http.request('POST', '/api/auth/register', { json: { username, password: 'p'.repeat(200_000) } });
      assert.equal(huge.status, 413);
      assert.equal(huge.body.error.code, 'payload_too_large');
      // nothing was created under that name
      const login = await app.http.request('POST', '/api/auth/login', { json: { username, password: 'correct horse battery' } });
      assert.equal(login.status, 401);
    });

    test('wrong password and unknown user give the same 401', async () => {
      const { username } = await app.http.register(uniqueName('carol'));
      const wrong = await app.http.request('POST', '/api/auth/login', { json: { username, password: 'not the password' } });
      const unknown = await app.http.request('POST', '/api/auth/login', { json: { username: uniqueName('ghost'), password: 'not the password' } });
      assert.equal(wrong.status, 401);
      assert.equal(unknown.status, 401);
      assert.deepEqual(wrong.body, unknown.body);
    });

    test('a token is taken from the Authorization header only, never from the query string or the body', async () => {
      const { token } = await app.http.register(uniqueName('hdr'));
      const inQuery = await app.http.request('GET', `/api/auth/me?access_token=${token}`);
      assert.equal(inQuery.status, 401);
      assert.equal(inQuery.body.error.code, 'unauthorized');
      const inBody = await app.http.request('POST', '/api/auth/logout', { json: { access_token: token } });
      assert.equal(inBody.status, 401);
      // the token was not used: it still works, from the header
      assert.equal((await app.http.request('GET', '/api/auth/me', { token })).status, 200);
    });

    test('garbage, forged and missing tokens are 401', async () => {
      for (const authorization of ['Bearer nope', 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', 'Basic abc', '']) {
        const r = await app.http.request('GET', '/api/auth/me', { headers: authorization ? { authorization } : {} });
        assert.equal(r.status, 401, authorization);
        assert.equal(r.body.error.code, 'unauthorized');
      }
    });
  });
}
