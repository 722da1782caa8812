// WHIP (WebRTC) ingest end to end: headless Chromium with a fake camera and
// microphone publishes to the room's whipUrl with its stream key; the room goes
// live and plays over HTTP-FLV as H.264 + AAC; DELETE ends the broadcast.
// Bad requests are refused with a code and never disturb the media process.
// A session answered before its room was ended or its key rotated never goes
// live; requests that stall before their SDP body hold no place of anyone's.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { ConfigError, loadConfig } from '../src/config.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { chromiumAvailable, launchBrowser, screenshot, visitor } from './helpers/browser.ts';
import { inCI } from './helpers/db.ts';
import { ffprobe, getRoom, MEDIA_ENV, newRoom, push, sessions, stalledPost, waitStatus, type Push } from './helpers/media.ts';
import { eventually } from './helpers/wait.ts';
import { firstCodedVideo, isKeyframe, readFlv } from './helpers/flv.ts';
import { playFromPage } from './helpers/whep-page.ts';
import { publishFromPage, sendHeldMedia, whipState } from './helpers/whip-page.ts';

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
      // The room is live once the bridge publishes; its first video keyframe (transcoded from VP8) may come a
      // moment later. Wait for a player to get one, then probe: a new reader starts on the cached keyframe.
      const player = readFlv(room.playback.flv);
      try {
        const first = await eventually(() => firstCodedVideo(player.tags), 'a video frame in the FLV', 30_000);
        assert.ok(isKeyframe(first), 'a player starts on a keyframe');
      } finally {
        player.close();
      }
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

  for (const [what, act] of [
    ['the owner ends the room', (r: { roomId: string; token: string }) => app.http.request('POST', `/api/rooms/${r.roomId}/end`, { token: r.token })],
    ['the owner rotates the key', (r: { roomId: string; token: string }) => app.http.request('POST', `/api/rooms/${r.roomId}/stream-key`, { token: r.token })],
  ] as const) {
    test(`a session answered before ${what} never goes live when its media comes`, async () => {
      const r = await newRoom(app);
      const { whipUrl } = (await app.http.request('GET', `/api/rooms/${r.roomId}/ingest`, { token: r.token })).body.ingest;
      const page = await browser.newPage();
      try {
        await page.goto(app.url);
        const answer = await publishFromPage(page, whipUrl, r.key, undefined, { holdMedia: true });
        assert.equal(answer.status, 201, answer.body);
        await page.waitForFunction(() => (window as unknown as { whipPc: RTCPeerConnection }).whipPc.connectionState === 'connected', undefined, { timeout: 30_000 });
        const done = await act(r);
        assert.ok(done.status === 201 || done.status === 204, JSON.stringify(done.body));
        // the session sends media only now: before the fix its bridge went live on the authorization of the offer
        await sendHeldMedia(page);
        const outcome = await eventually(
          async () => ((await getRoom(app, r.roomId)).status === 'live' ? 'live' : ['closed', 'failed', 'disconnected'].includes(await whipState(page)) && 'session closed'),
          'the room live or the WHIP session closed',
          40_000,
        );
        assert.equal(outcome, 'session closed');
        assert.equal((await fetch(new URL(answer.location!, whipUrl), { method: 'DELETE' })).status, 404, 'the server closed the session');
        assert.notEqual((await getRoom(app, r.roomId)).status, 'live');
        const flv = await fetch(r.playback.flv);
        await flv.body?.cancel();
        assert.equal(flv.status, 404, 'FLV does not play');
      } finally {
        await page.close();
      }
    });
  }

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
    // one after the other: one address has at most WEBRTC_MAX_OFFERS_PER_ADDRESS offers in flight
    const cases: [string, () => Promise<Response>, number, string][] = [
      ['no key', () => post({ 'Content-Type': 'application/sdp' }, offer), 401, 'unauthorized'],
      ['a wrong key', () => post({ 'Content-Type': 'application/sdp', Authorization: 'Bearer lr_not_a_real_key_000000000000000000' }, offer), 401, 'invalid_stream_key'],
      ['JSON, not SDP', () => post({ 'Content-Type': 'application/json', Authorization: `Bearer ${r.key}` }, '{}'), 415, 'unsupported_media_type'],
      ['not an offer', () => post({ 'Content-Type': 'application/sdp', Authorization: `Bearer ${r.key}` }, 'hello'), 400, 'invalid_sdp'],
      ['garbage after the header', () => post({ 'Content-Type': 'application/sdp', Authorization: `Bearer ${r.key}` }, 'v=0\r\nm=video x\r\n\u0000\u0001\u00ff'.repeat(50)), 400, 'invalid_sdp'],
      ['an offer without ICE or DTLS', () => post({ 'Content-Type': 'application/sdp', Authorization: `Bearer ${r.key}` }, offer), 400, 'invalid_sdp'],
      ['too large', () => post({ 'Content-Type': 'application/sdp', Authorization: `Bearer ${r.key}` }, `v=0\r\nm=video 9 RTP/AVP 96\r\n${'a=x\r\n'.repeat(20_000)}`), 413, 'payload_too_large'],
    ];
    for (const [what, send, status, code] of cases) {
      const res = await send();
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

describe('WHIP and WHEP under stalled offers (pglite)', { skip: !chromiumAvailable() && 'needs Debian chromium' }, () => {
  const SDP_READ_MS = 5000;
  const REQUEST_MS = 7000;
  let app: TestApp;
  let browser: Browser;
  const pushes: Push[] = [];
  before(async () => {
    app = await startTestApp('pglite', {
      ...MEDIA_ENV,
      WHIP_MAX_SESSIONS: '2',
      WHEP_MAX_VIEWERS: '2',
      WEBRTC_MAX_OFFERS_PER_ADDRESS: '2',
      WEBRTC_SDP_READ_TIMEOUT_MS: String(SDP_READ_MS),
      MEDIA_HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_MS),
    });
    browser = await launchBrowser({ fakeMedia: true });
  });
  after(async () => {
    for (const p of pushes) p.kill();
    await browser?.close();
    await app?.close();
  });

  test('offers that never send their SDP hold no place: a publisher and a viewer still get in, and the stalled ones are answered and closed in time', async () => {
    const watched = await newRoom(app);
    const p = push(watched.rtmpUrl);
    pushes.push(p);
    await waitStatus(app, watched.roomId, 'live');
    const whep = (await getRoom(app, watched.roomId)).playback.whep as string;
    const publisher = await newRoom(app);
    const { whipUrl } = (await app.http.request('GET', `/api/rooms/${publisher.roomId}/ingest`, { token: publisher.token })).body.ingest;
    const attacker = await newRoom(app); // a streamer of their own room, with a valid key
    const port = Number(new URL(whipUrl).port);

    const [pubPage, viewPage] = await Promise.all([browser.newPage(), browser.newPage()]);
    try {
      await Promise.all([pubPage.goto(app.url), viewPage.goto(app.url)]);
      // more stalled offers than there are WHIP sessions and WHEP viewers, from three addresses that are not the real clients'
      const noKey = Array.from({ length: 6 }, () => stalledPost(port, '/whip', { from: '127.0.0.2', headers: { Authorization: 'Bearer not-a-stream-key' } }));
      const ownKey = Array.from({ length: 4 }, () => stalledPost(port, '/whip', { from: '127.0.0.3', headers: { Authorization: `Bearer ${attacker.key}` } }));
      const viewers = Array.from({ length: 6 }, () => stalledPost(port, `/whep/${watched.roomId}`, { from: '127.0.0.4' }));
      const all = [...noKey, ...ownKey, ...viewers];
      await Promise.all(all.map((s) => s.connected));

      const [published, played] = await Promise.all([publishFromPage(pubPage, whipUrl, publisher.key), playFromPage(viewPage, whep)]);
      assert.equal(published.status, 201, published.body);
      assert.equal(played.status, 201, played.body);
      assert.ok(all.some((s) => s.waiting()), `stalled offers were still waiting for their body meanwhile: ${JSON.stringify(all.map((s) => [s.status(), Math.round(s.answeredAfter() ?? -1)]))}`);
      await waitStatus(app, publisher.roomId, 'live', 30_000);

      // every stalled offer is answered within the SDP read time and its connection closed within the request timeout
      const closedAfter = await Promise.all(all.map((s) => s.closed));
      for (const [i, s] of all.entries()) {
        assert.ok((s.answeredAfter() ?? Infinity) < SDP_READ_MS + 2000, `stalled offer ${i} answered (${s.answeredAfter()} ms, status ${s.status()})`);
        assert.ok(closedAfter[i]! < REQUEST_MS + 4000, `stalled offer ${i} closed (${closedAfter[i]} ms)`);
      }
      for (const s of noKey) assert.ok([401, 429].includes(s.status()), `a bad key: ${s.status()}`);
      for (const group of [ownKey, viewers]) {
        for (const s of group) assert.ok([408, 429].includes(s.status()), `a stalled body: ${s.status()}`);
        assert.ok(group.some((s) => s.status() === 408), 'the ones let in timed out waiting for their SDP');
      }
      assert.equal((await getRoom(app, attacker.roomId)).status, 'idle');
    } finally {
      await Promise.all([pubPage.close(), viewPage.close()]);
    }
  });
});

test('a WHIP port range needs both bounds, the lower first', () => {
  for (const env of [{ WEBRTC_ICE_PORT_MIN: '40000' }, { WEBRTC_ICE_PORT_MAX: '40100' }, { WEBRTC_ICE_PORT_MIN: '40100', WEBRTC_ICE_PORT_MAX: '40000' }])
    assert.throws(() => loadConfig({ JWT_SECRET: 'x'.repeat(32), ...env }), (e: unknown) => e instanceof ConfigError && /WEBRTC_ICE_PORT_MIN/.test(e.message));
  assert.equal(loadConfig({ JWT_SECRET: 'x'.repeat(32), WEBRTC_ICE_PORT_MIN: '40000', WEBRTC_ICE_PORT_MAX: '40100' }).WEBRTC_ICE_PORT_MAX, 40100);
});
