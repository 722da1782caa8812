// WHIP (WebRTC) ingest end to end: headless Chromium with a fake camera and
// microphone publishes to the room's whipUrl with its stream key; the room goes
// live and plays over HTTP-FLV as H.264 + AAC; DELETE ends the broadcast.
// Bad requests are refused with a code and never disturb the media process.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { ConfigError, loadConfig } from '../src/config.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { chromiumAvailable, launchBrowser, screenshot, visitor } from './helpers/browser.ts';
import { inCI } from './helpers/db.ts';
import { ffprobe, getRoom, MEDIA_ENV, newRoom, sessions, waitStatus } from './helpers/media.ts';
import { eventually } from './helpers/wait.ts';
import { publishFromPage } from './helpers/whip-page.ts';

if (inCI && !chromiumAvailable()) throw new Error('Chromium is required under CI (npm test installs it)');

const publish = (page: Page, whipUrl: string, key: string) => publishFromPage(page, whipUrl, key);

describe('WHIP ingest (pglite)', { skip: !chromiumAvailable() && 'needs Debian chromium' }, () => {
  let app: TestApp;
  let browser: Browser;
  before(async () => {
    app = await startTestApp('pglite', MEDIA_ENV);
    browser = await launchBrowser({ fakeMedia: true });
  });
  after(async () => {
    await browser?.close();
    await app?.close();
  });

  test('a browser publishes with the stream key: the room goes live and plays as H.264 + AAC; DELETE ends it', async () => {
    const r = await newRoom(app);
    const created = await app.http.request('GET', `/api/rooms/${r.roomId}/ingest`, { token: r.token });
    const whipUrl = created.body.ingest.whipUrl as string;
    assert.match(whipUrl, /^http:\/\/localhost:\d+\/whip$/);
    const page = await browser.newPage();
    try {
      await page.goto(app.url); // any page: the WHIP endpoint allows every origin
      const answer = await publish(page, whipUrl, r.key);
      assert.equal(answer.status, 201, answer.body);
      assert.match(answer.location ?? '', /^\/whip\/[A-Za-z0-9_-]+$/);
      assert.match(answer.body, /^v=0/);
      await waitStatus(app, r.roomId, 'live', 30_000);
      const room = await getRoom(app, r.roomId);
      assert.ok(!JSON.stringify(room).includes(r.key), 'the room never shows the key');
      const probe = await ffprobe(room.playback.flv, 'stream=codec_type,codec_name,width,height');
      const video = probe.streams.find((s) => s.codec_type === 'video');
      assert.equal(video?.codec_name, 'h264');
      assert.deepEqual([video?.width, video?.height], [640, 360]);
      assert.equal(probe.streams.find((s) => s.codec_type === 'audio')?.codec_name, 'aac');

      // a second WHIP publisher on the same key is refused while the first is live
      const second = await browser.newPage();
      try {
        await second.goto(app.url);
        const refused = await publish(second, whipUrl, r.key);
        assert.equal(refused.status, 409);
        assert.equal(JSON.parse(refused.body).error.code, 'already_live');
      } finally {
        await second.close();
      }

      const session = new URL(answer.location!, whipUrl).toString();
      const del = await fetch(session, { method: 'DELETE' });
      assert.equal(del.status, 200);
      await waitStatus(app, r.roomId, 'ended', 20_000);
      assert.equal((await sessions(app, r.roomId))[0].endReason, 'streamer_stopped');
      assert.equal((await fetch(session, { method: 'DELETE' })).status, 404, 'the session is gone');
    } finally {
      await page.close();
    }
  });

  test('ending the broadcast from the API closes the WebRTC session', async () => {
    const r = await newRoom(app);
    const { whipUrl } = (await app.http.request('GET', `/api/rooms/${r.roomId}/ingest`, { token: r.token })).body.ingest;
    const page = await browser.newPage();
    try {
      await page.goto(app.url);
      assert.equal((await publish(page, whipUrl, r.key)).status, 201);
      await waitStatus(app, r.roomId, 'live', 30_000);
      assert.equal((await app.http.request('POST', `/api/rooms/${r.roomId}/end`, { token: r.token })).status, 204);
      await page.waitForFunction(() => ['closed', 'failed', 'disconnected'].includes((window as unknown as { whipPc: RTCPeerConnection }).whipPc.connectionState), undefined, { timeout: 30_000 });
      assert.equal((await sessions(app, r.roomId))[0].endReason, 'ended_by_owner');
    } finally {
      await page.close();
    }
  });

  test('the creator console goes live from the browser with the camera and stops again', async () => {
    const r = await newRoom(app);
    const { context, page, errors } = await visitor(browser, { token: r.token });
    try {
      await page.goto(`${app.url}/#/console`);
      // a console opened later does not know the key: the streamer gives it
      await page.getByTestId('key-hidden').waitFor();
      await page.getByTestId('whip-key').fill(r.key);
      await page.getByTestId('whip-start').click();
      await page.getByTestId('whip-stop').waitFor({ timeout: 30_000 });
      await waitStatus(app, r.roomId, 'live', 30_000);
      await page.waitForFunction(() => ((document.querySelector('[data-testid="whip-preview"]') as HTMLVideoElement | null)?.readyState ?? 0) >= 2);
      await screenshot(page, 'console-whip-live');
      await page.getByTestId('whip-stop').click();
      await page.getByTestId('whip-start').waitFor();
      await waitStatus(app, r.roomId, 'ended', 20_000);
      assert.equal((await sessions(app, r.roomId))[0].endReason, 'streamer_stopped');
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('bad requests get a code and change nothing; the media process keeps running', async () => {
    const r = await newRoom(app);
    const { whipUrl } = (await app.http.request('GET', `/api/rooms/${r.roomId}/ingest`, { token: r.token })).body.ingest;
    const pid = app.media!.pid();
    const offer = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n';
    const post = (headers: Record<string, string>, body: string) => fetch(whipUrl, { method: 'POST', headers, body });
    const cases: [string, Promise<Response>, number, string][] = [
      ['no key', post({ 'Content-Type': 'application/sdp' }, offer), 401, 'unauthorized'],
      ['a wrong key', post({ 'Content-Type': 'application/sdp', Authorization: 'Bearer lr_not_a_real_key_000000000000000000' }, offer), 401, 'invalid_stream_key'],
      ['JSON, not SDP', post({ 'Content-Type': 'application/json', Authorization: `Bearer ${r.key}` }, '{}'), 415, 'unsupported_media_type'],
      ['not an offer', post({ 'Content-Type': 'application/sdp', Authorization: `Bearer ${r.key}` }, 'hello'), 400, 'invalid_sdp'],
      ['garbage after the header', post({ 'Content-Type': 'application/sdp', Authorization: `Bearer ${r.key}` }, 'v=0\r\nm=video x\r\n\u0000\u0001\u00ff'.repeat(50)), 400, 'invalid_sdp'],
      ['an offer without ICE or DTLS', post({ 'Content-Type': 'application/sdp', Authorization: `Bearer ${r.key}` }, offer), 400, 'invalid_sdp'],
      ['too large', post({ 'Content-Type': 'application/sdp', Authorization: `Bearer ${r.key}` }, `v=0\r\nm=video 9 RTP/AVP 96\r\n${'a=x\r\n'.repeat(20_000)}`), 413, 'payload_too_large'],
    ];
    for (const [what, pending, status, code] of cases) {
      const res = await pending;
      assert.equal(res.status, status, what);
      assert.equal((await res.json()).error.code, code, what);
    }
    assert.equal((await fetch(`${whipUrl}/nope`, { method: 'DELETE' })).status, 404);
    assert.equal((await fetch(whipUrl, { method: 'GET' })).status, 405);
    const preflight = await fetch(whipUrl, { method: 'OPTIONS' });
    assert.equal(preflight.status, 204);
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /Authorization/);
    assert.equal((await getRoom(app, r.roomId)).status, 'idle');
    // still the same media process, still serving
    await eventually(async () => app.media!.pid() === pid && (await fetch(whipUrl, { method: 'OPTIONS' })).status === 204, 'media still up');
  });
});

test('a WHIP port range needs both bounds, the lower first', () => {
  for (const env of [{ WEBRTC_ICE_PORT_MIN: '40000' }, { WEBRTC_ICE_PORT_MAX: '40100' }, { WEBRTC_ICE_PORT_MIN: '40100', WEBRTC_ICE_PORT_MAX: '40000' }])
    assert.throws(() => loadConfig({ JWT_SECRET: 'x'.repeat(32), ...env }), (e: unknown) => e instanceof ConfigError && /WEBRTC_ICE_PORT_MIN/.test(e.message));
  assert.equal(loadConfig({ JWT_SECRET: 'x'.repeat(32), WEBRTC_ICE_PORT_MIN: '40000', WEBRTC_ICE_PORT_MAX: '40100' }).WEBRTC_ICE_PORT_MAX, 40100);
});
