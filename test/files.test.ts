// Uploads over HTTP, on PostgreSQL and on PGlite: images sniffed from their
// bytes, re-encoded to WebP, served with the right headers; everything else
// refused with nothing written; no path traversal; no orphan files.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { startTestApp, uniqueName, type TestApp } from './helpers/app.ts';
import { dbKinds } from './helpers/db.ts';

const MAX_BYTES = 300 * 1024;
const ENV = {
  ROLES: 'http',
  UPLOAD_MAX_BYTES: String(MAX_BYTES),
  UPLOAD_MAX_PIXELS: '4000000',
};

const png = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, background: { r: 200, g: 30, b: 90 } } }).png().toBuffer();
const jpeg = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, background: { r: 10, g: 130, b: 200 } } }).jpeg({ quality: 90 }).toBuffer();
/** Random pixels do not compress: a big file from a modest image. */
const noisyPng = async (width: number, height: number) => {
  const raw = Buffer.alloc(width * height * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 2654435761) >>> 24;
  return sharp(raw, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
};

function form(parts: { file?: { data: Buffer | string; name: string; type: string }; kind?: string; extra?: Record<string, string> }): FormData {
  const f = new FormData();
  if (parts.kind !== undefined) f.set('kind', parts.kind);
  for (const [k, v] of Object.entries(parts.extra ?? {})) f.set(k, v);
  if (parts.file) f.set('file', new Blob([typeof parts.file.data === 'string' ? parts.file.data : new Uint8Array(parts.file.data)], { type: parts.file.type }), parts.file.name);
  return f;
}

for (const kind of await dbKinds()) {
  describe(`files (${kind})`, () => {
    let app: TestApp;
    let filesDir: string;
    before(async () => {
      app = await startTestApp(kind, ENV);
      filesDir = path.join(app.dataDir, 'files');
    });
    after(() => app.close());

    const stored = async () => (await readdir(filesDir).catch(() => [] as string[])).sort();
    const upload = (token: string | undefined, body: FormData | string, headers: Record<string, string> = {}) =>
      app.http.request('POST', '/api/files', { token, body: body as BodyInit, headers });

    test('an avatar (PNG) and a cover (JPEG) are stored as WebP and served with cache headers', async () => {
      const me = await app.http.register(uniqueName('img'));
      const avatar = await upload(me.token, form({ kind: 'avatar', file: { data: await png(600, 400), name: 'me.png', type: 'image/png' } }));
      assert.equal(avatar.status, 201, JSON.stringify(avatar.body));
      assert.match(avatar.body.id, /^[0-9a-f-]{36}$/);
      assert.equal(avatar.body.url, `${app.url}/files/${avatar.body.id}.webp`);
      assert.equal(avatar.body.contentType, 'image/webp');
      assert.deepEqual([avatar.body.width, avatar.body.height], [256, 256], 'avatars are cropped to AVATAR_SIZE_PX');

      const got = await fetch(avatar.body.url);
      assert.equal(got.status, 200);
      assert.equal(got.headers.get('content-type'), 'image/webp');
      assert.match(got.headers.get('cache-control') ?? '', /max-age=31536000/);
      assert.match(got.headers.get('cache-control') ?? '', /immutable/);
      assert.equal(got.headers.get('x-content-type-options'), 'nosniff');
      const meta = await sharp(Buffer.from(await got.arrayBuffer())).metadata();
      assert.equal(meta.format, 'webp');
      assert.deepEqual([meta.width, meta.height], [256, 256]);

      // an uploaded avatar becomes the user's avatar at once
      const me2 = await app.http.request('GET', '/api/auth/me', { token: me.token });
      assert.equal(me2.body.user.avatarUrl, avatar.body.url);
      assert.equal((await app.http.request('GET', `/api/users/${me.id}`)).body.avatarUrl, avatar.body.url);

      const cover = await upload(me.token, form({ kind: 'cover', file: { data: await jpeg(2000, 1000), name: 'c.jpg', type: 'image/jpeg' } }));
      assert.equal(cover.status, 201, JSON.stringify(cover.body));
      assert.deepEqual([cover.body.width, cover.body.height], [1280, 640], 'covers are scaled to COVER_WIDTH_PX');
      const small = await upload(me.token, form({ kind: 'cover', file: { data: await jpeg(300, 200), name: 'c.jpg', type: 'image/jpeg' } }));
      assert.deepEqual([small.body.width, small.body.height], [300, 200], 'never enlarged');
      // the type comes from the bytes: a PNG named .gif with a made-up type is still a PNG
      const misnamed = await upload(me.token, form({ kind: 'cover', file: { data: await png(50, 50), name: 'x.gif', type: 'application/octet-stream' } }));
      assert.equal(misnamed.status, 201);
    });

    test('replacing or clearing an avatar leaves no orphan file', async () => {
      const me = await app.http.register(uniqueName('orphan'));
      const first = await upload(me.token, form({ kind: 'avatar', file: { data: await png(100, 100), name: 'a.png', type: 'image/png' } }));
      const second = await upload(me.token, form({ kind: 'avatar', file: { data: await jpeg(100, 100), name: 'b.jpg', type: 'image/jpeg' } }));
      assert.equal(second.status, 201);
      assert.equal((await fetch(first.body.url)).status, 404, 'the replaced avatar is gone');
      assert.ok(!(await stored()).includes(`${first.body.id}.webp`));
      assert.ok((await stored()).includes(`${second.body.id}.webp`));

      // PATCH back to an avatar that was deleted is refused; clearing deletes the file
      const stale = await app.http.request('PATCH', '/api/users/me', { token: me.token, json: { avatarUrl: first.body.url } });
      assert.equal(stale.status, 400);
      assert.equal(stale.body.error.code, 'invalid_avatar_url');
      const cleared = await app.http.request('PATCH', '/api/users/me', { token: me.token, json: { avatarUrl: null } });
      assert.equal(cleared.status, 200);
      assert.equal(cleared.body.user.avatarUrl, null);
      assert.equal((await fetch(second.body.url)).status, 404);
      assert.ok(!(await stored()).includes(`${second.body.id}.webp`));
      assert.ok(!(await stored()).some((n) => n.endsWith('.tmp')), 'no temporary files left');

      // someone else's avatar cannot be taken over
      const other = await app.http.register(uniqueName('other'));
      const theirs = await upload(other.token, form({ kind: 'avatar', file: { data: await png(64, 64), name: 'o.png', type: 'image/png' } }));
      const steal = await app.http.request('PATCH', '/api/users/me', { token: me.token, json: { avatarUrl: theirs.body.url } });
      assert.equal(steal.status, 400);
      assert.equal(steal.body.error.code, 'invalid_avatar_url');
    });

    test('non-images, broken images, oversized files and bad forms are refused and nothing is stored', async () => {
      const me = await app.http.register(uniqueName('bad'));
      const before = await stored();
      const pngBytes = await png(200, 200);
      const refused: [string, FormData | string, number, string, Record<string, string>?][] = [
        ['text renamed .png', form({ kind: 'avatar', file: { data: 'just some text, honestly', name: 'evil.png', type: 'image/png' } }), 415, 'unsupported_media_type'],
        ['html renamed .jpg', form({ kind: 'avatar', file: { data: '<html><script>alert(1)</script></html>', name: 'x.jpg', type: 'image/jpeg' } }), 415, 'unsupported_media_type'],
        ['svg', form({ kind: 'avatar', file: { data: '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', name: 'x.svg', type: 'image/svg+xml' } }), 415, 'unsupported_media_type'],
        ['zip renamed .png', form({ kind: 'avatar', file: { data: Buffer.from('504b0304140000000800', 'hex'), name: 'x.png', type: 'image/png' } }), 415, 'unsupported_media_type'],
        ['truncated png', form({ kind: 'avatar', file: { data: pngBytes.subarray(0, 60), name: 'x.png', type: 'image/png' } }), 415, 'unsupported_media_type'],
        ['too many pixels (decompression bomb)', form({ kind: 'cover', file: { data: await png(3000, 3000), name: 'big.png', type: 'image/png' } }), 415, 'unsupported_media_type'],
        ['too big', form({ kind: 'avatar', file: { data: await noisyPng(400, 400), name: 'huge.png', type: 'image/png' } }), 413, 'file_too_large'],
        ['no file', form({ kind: 'avatar' }), 400, 'validation_failed'],
        ['no kind', form({ file: { data: pngBytes, name: 'x.png', type: 'image/png' } }), 400, 'validation_failed'],
        ['unknown kind', form({ kind: 'banner', file: { data: pngBytes, name: 'x.png', type: 'image/png' } }), 400, 'validation_failed'],
        ['extra field', form({ kind: 'avatar', extra: { owner: 'someone' }, file: { data: pngBytes, name: 'x.png', type: 'image/png' } }), 400, 'validation_failed'],
        ['JSON instead of multipart', JSON.stringify({ kind: 'avatar', file: 'aGVsbG8=' }), 415, 'unsupported_media_type', { 'content-type': 'application/json' }],
        ['broken multipart', '--x\r\ncontent-disposition: form-data; name="file"\r\n\r\nabc', 400, 'validation_failed', { 'content-type': 'multipart/form-data; boundary=x' }],
      ];
      for (const [what, body, status, code, headers] of refused) {
        const r = await upload(me.token, body, headers);
        assert.equal(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error.code, code, what);
      }
      assert.equal((await app.http.request('GET', '/api/auth/me', { token: me.token })).body.user.avatarUrl, null);

      // without a token: 401 before anything is read
      const anon = await upload(undefined, form({ kind: 'avatar', file: { data: pngBytes, name: 'x.png', type: 'image/png' } }));
      assert.equal(anon.status, 401);
      assert.equal(anon.body.error.code, 'unauthorized');
      assert.deepEqual(await stored(), before, 'nothing was written');
    });

    test('the stored name is chosen by the server; /files never serves anything else', async () => {
      const me = await app.http.register(uniqueName('trav'));
      const r = await upload(me.token, form({ kind: 'avatar', file: { data: await png(64, 64), name: '../../../secrets.json', type: 'image/png' } }));
      assert.equal(r.status, 201);
      assert.ok((await stored()).includes(`${r.body.id}.webp`));
      assert.ok(!existsSync(path.resolve(filesDir, '../../../secrets.json')), 'the client-given name is never used');
      assert.ok(!(await readdir(app.dataDir)).includes('secrets.json'));

      for (const p of [
        '/files/../secrets.json',
        '/files/..%2fsecrets.json',
        '/files/%2e%2e%2fsecrets.json',
        '/files/..%252fsecrets.json',
        '/files/%2e%2e/%2e%2e/etc/passwd',
        '/files/....//secrets.json',
        `/files/${r.body.id}.webp%00.png`,
        `/files/${r.body.id}.png`,
        `/files/${r.body.id.toUpperCase()}.webp`,
        '/files/00000000-0000-4000-8000-000000000000.webp',
        '/files/',
      ]) {
        const res = await app.http.request('GET', p);
        assert.equal(res.status, 404, p);
        assert.equal(res.body.error?.code, 'not_found', p);
      }
      // raw request path, as curl --path-as-is would send it (fetch normalises ../)
      const raw = await new Promise<number>((resolve, reject) => {
        import('node:http').then(({ request }) => {
          const req = request(`${app.url}/files/..%2F..%2Fsecrets.json`, { path: '/files/../../secrets.json' }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
          req.on('error', reject);
          req.end();
        }, reject);
      });
      assert.equal(raw, 404);
    });
  });
}
