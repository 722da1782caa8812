// WHEP (WebRTC) playback end to end: ffmpeg pushes a test pattern over RTMP;
// headless Chromium plays the room's playback.whep and decodes frames; the
// viewer counts in the room; the stream ending closes the session. Bad offers
// get their codes.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { chromiumAvailable, launchBrowser } from './helpers/browser.ts';
import { inCI } from './helpers/db.ts';
import { getRoom, MEDIA_ENV, newRoom, push, waitStatus, type Push } from './helpers/media.ts';
import { eventually } from './helpers/wait.ts';
import { playFromPage } from './helpers/whep-page.ts';

if (inCI && !chromiumAvailable()) throw new Error('Chromium is required under CI (npm test installs it)');

const play = playFromPage;

const playing = (page: Page) =>
  page.evaluate(() => {
    const v = document.getElementById('whep') as HTMLVideoElement;
    return { time: v.currentTime, frames: v.getVideoPlaybackQuality().totalVideoFrames, width: v.videoWidth };
  });

describe('WHEP playback (pglite)', { skip: !chromiumAvailable() && 'needs Debian chromium' }, () => {
  let app: TestApp;
  let browser: Browser;
  const pushes: Push[] = [];
  before(async () => {
    app = await startTestApp('pglite', MEDIA_ENV);
    browser = await launchBrowser();
  });
  afterEach(() => {
    for (const p of pushes.splice(0)) p.kill();
  });
  after(async () => {
    await browser?.close();
    await app?.close();
  });

  test('a browser plays a live room over WebRTC; it counts as a viewer; the stream ending closes it', async () => {
    const r = await newRoom(app);
    const whep = (await getRoom(app, r.roomId)).playback.whep as string;
    assert.equal(whep, `${new URL(r.playback.flv).origin}/whep/${r.roomId}`);
    const p = push(r.rtmpUrl);
    pushes.push(p);
    await waitStatus(app, r.roomId, 'live');
    const page = await browser.newPage();
    try {
      await page.goto(app.url);
      const answer = await play(page, whep);
      assert.equal(answer.status, 201, answer.body);
      assert.match(answer.location ?? '', new RegExp(`^/whep/${r.roomId}/[A-Za-z0-9_-]+$`));
      await page.waitForFunction(() => {
        const v = document.getElementById('whep') as HTMLVideoElement;
        return v.currentTime > 1 && v.getVideoPlaybackQuality().totalVideoFrames > 10;
      }, undefined, { timeout: 30_000 });
      assert.equal((await playing(page)).width, 640);
      await eventually(async () => (await getRoom(app, r.roomId)).viewers >= 1, 'counted as a viewer');

      p.kill();
      await waitStatus(app, r.roomId, 'ended');
      await page.waitForFunction(() => ['closed', 'failed', 'disconnected'].includes((window as unknown as { whepPc: RTCPeerConnection }).whepPc.connectionState), undefined, { timeout: 30_000 });
    } finally {
      await page.close();
    }
  });

  test('DELETE ends a session; bad offers and offline rooms get a code', async () => {
    const r = await newRoom(app);
    const whep = (await getRoom(app, r.roomId)).playback.whep as string;
    const offer = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 H264/90000\r\na=recvonly\r\n';
    const post = (url: string, type: string, body: string) => fetch(url, { method: 'POST', headers: { 'Content-Type': type }, body });
    const offline = await post(whep, 'application/sdp', offer);
    assert.equal(offline.status, 404);
    assert.equal((await offline.json()).error.code, 'stream_not_found');

    const p = push(r.rtmpUrl);
    pushes.push(p);
    await waitStatus(app, r.roomId, 'live');
    for (const [what, res, status, code] of [
      ['JSON', await post(whep, 'application/json', '{}'), 415, 'unsupported_media_type'],
      ['not SDP', await post(whep, 'application/sdp', 'hello'), 400, 'invalid_sdp'],
      ['no ICE or DTLS', await post(whep, 'application/sdp', offer), 400, 'invalid_sdp'],
      ['an unknown room', await post(`${new URL(whep).origin}/whep/nope`, 'application/sdp', offer), 404, 'stream_not_found'],
    ] as const) {
      assert.equal(res.status, status, what);
      assert.equal((await res.json()).error.code, code, what);
    }
    const page = await browser.newPage();
    try {
      await page.goto(app.url);
      const answer = await play(page, whep);
      assert.equal(answer.status, 201, answer.body);
      const session = new URL(answer.location!, whep).toString();
      assert.equal((await fetch(session, { method: 'DELETE' })).status, 200);
      assert.equal((await fetch(session, { method: 'DELETE' })).status, 404);
      await eventually(async () => (await getRoom(app, r.roomId)).viewers === 0, 'no viewer left');
    } finally {
      await page.close();
    }
  });
});
