// The web app end to end in headless Chromium against a real Liveroom (API,
// rooms, jobs and the media process on free ports): a streamer signs up and
// creates a room in the console, ffmpeg pushes to the key the console shows,
// viewers watch (frames decoded), chat (danmaku), gift (animation, balance),
// enter a lottery the console started and see the result (a gift lottery
// names the catalog's gift); moderation (delete, slow mode, mute, ban and
// followers-only chat, each seen from the viewer's own page),
// recovery of the player after the stream drops, the home page, the language
// switch and a phone-width layout. Screenshots go to test-artifacts/.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startTestApp, uniqueName, type TestApp } from './helpers/app.ts';
import { chromiumAvailable, launchBrowser, screenshot, visitor, type Visitor } from './helpers/browser.ts';
import { MEDIA_ENV, push, type Push } from './helpers/media.ts';
import { WEB_DIST } from '../src/http/web.ts';
import { existsSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { buildWeb } from '../scripts/build-web.ts';

const PASSWORD = 'a long enough passphrase';
const XSS = '<img src=x onerror=alert(1)>';

/** Resolves once the page's video has advanced `seconds` past where it was, with frames decoded. */
async function playing(page: Page, seconds = 1, timeout = 30_000): Promise<{ time: number; frames: number }> {
  const start = await page.evaluate(() => document.querySelector<HTMLVideoElement>('[data-testid="video"]')?.currentTime ?? 0);
  await page.waitForFunction(
    ([from, by]) => {
      const v = document.querySelector<HTMLVideoElement>('[data-testid="video"]');
      return !!v && v.currentTime > from + by && v.getVideoPlaybackQuality().totalVideoFrames > 0;
    },
    [start, seconds] as const,
    { timeout, polling: 100 },
  );
  return page.evaluate(() => {
    const v = document.querySelector<HTMLVideoElement>('[data-testid="video"]')!;
    return { time: v.currentTime, frames: v.getVideoPlaybackQuality().totalVideoFrames };
  });
}

const text = (page: Page, testid: string) => page.getByTestId(testid).first().textContent();

/** Sends a chat line from a room page or the console (the input is enabled once the room connection is up). */
async function say(page: Page, line: string): Promise<void> {
  await page.getByTestId('chat-input').fill(line);
  await page.getByTestId('chat-send').click();
}

const chatLine = (page: Page, hasText: string) => page.getByTestId('chat-line').filter({ hasText });

describe('web app in Chromium', { skip: !chromiumAvailable() && 'no /usr/bin/chromium (npm test installs it)' }, () => {
  let app: TestApp;
  let browser: Browser;
  const visitors: Visitor[] = [];
  const pushes: Push[] = [];
  let streamer: Visitor;
  let viewer1: Visitor;
  let viewer2: Visitor;
  let roomId = '';
  let rtmpUrl = '';
  const names = {
    streamer: uniqueName('web_s'),
    viewer1: uniqueName('web_a'),
    viewer2: uniqueName('web_b'),
    muted: uniqueName('web_mu'),
    banned: uniqueName('web_ban'),
    fan: uniqueName('web_f'),
  };
  const nick1 = `Alice ${names.viewer1.slice(-4)}`;
  const nick2 = `Bob ${names.viewer2.slice(-4)}`;

  const open = async (opts: Parameters<typeof visitor>[1] = {}) => {
    const v = await visitor(browser, opts);
    visitors.push(v);
    return v;
  };

  before(async () => {
    // npm test builds it in pretest; run alone, this file builds it (a no-op when web/dist is up to date)
    await buildWeb({ quiet: true });
    assert.ok(existsSync(path.join(WEB_DIST, 'index.html')), 'web/dist is built');
    app = await startTestApp('pglite', MEDIA_ENV);
    browser = await launchBrowser();
  });

  after(async () => {
    for (const p of pushes.splice(0)) {
      p.kill();
      await p.exited;
    }
    for (const v of visitors.splice(0)) await v.context.close().catch(() => {});
    await browser?.close();
    await app?.close();
  });

  test('the server serves the app with a CSP that lets the player work, and never shadows the API', async () => {
    const page = await app.http.request('GET', '/');
    assert.equal(page.status, 200);
    assert.match(String(page.headers.get('content-type')), /text\/html/);
    const csp = String(page.headers.get('content-security-policy'));
    assert.match(csp, /media-src [^;]*blob:/);
    assert.match(csp, /connect-src [^;]*ws:\/\/localhost:\*/);
    assert.match(csp, /script-src 'self'(;|$)/);
    // pages are hash routes (/#/room/<id>): any other path, API, files and unknown assets keep their JSON 404s
    for (const p of ['/some/page', '/api/nope', '/files/nope.webp', '/nope.js']) {
      const r = await app.http.request('GET', p);
      assert.equal(r.status, 404, p);
      assert.equal(r.body.error.code, 'not_found', p);
    }
    assert.equal((await app.http.request('GET', '/healthz')).status, 200);
  });

  test('a streamer signs up and creates a room in the console; the stream key is shown', async () => {
    streamer = await open();
    const { page } = streamer;
    await page.goto(`${app.url}/#/register`);
    await page.getByTestId('username').fill(names.streamer);
    await page.getByTestId('password').fill(PASSWORD);
    await page.getByTestId('nickname').fill('Streamer Sam');
    await page.getByTestId('submit').click();
    await page.getByTestId('me').waitFor();
    assert.equal(await text(page, 'me'), 'Streamer Sam');

    await page.getByTestId('nav-console').click();
    await page.getByTestId('room-create').waitFor();
    await page.getByTestId('room-title-input').fill('Evening test pattern');
    await page.getByTestId('room-description').fill('colour bars and a 440 Hz tone');
    await page.getByTestId('room-submit').click();
    await page.getByTestId('stream-key').waitFor();
    const key = (await text(page, 'stream-key'))!;
    rtmpUrl = (await text(page, 'rtmp-url'))!;
    assert.match(key, /^lr_[A-Za-z0-9_-]{32}$/);
    assert.ok(rtmpUrl.endsWith(`/live/${key}`), rtmpUrl);
    assert.match((await text(page, 'rtmp-server'))!, /^rtmp:\/\/.+\/live$/);
    const href = await page.getByTestId('view-room').getAttribute('href');
    roomId = decodeURIComponent(href!.replace('#/room/', ''));
    assert.ok(roomId);
    assert.equal(await page.getByTestId('console-status').getAttribute('data-status'), 'idle');
    await screenshot(page, 'console-created', { fullPage: true });
  });

  test('ffmpeg pushes to the key from the console; a viewer page plays the video', async () => {
    viewer1 = await open({ token: (await app.http.register(names.viewer1, PASSWORD, nick1)).token });
    const { page } = viewer1;
    // the viewer opens the room before the stream starts: offline, then it plays by itself
    await page.goto(`${app.url}/#/room/${roomId}`);
    await page.getByTestId('room-title').waitFor();
    await page.waitForFunction(() => document.querySelector('[data-testid="player"]')?.getAttribute('data-state') === 'offline');
    pushes.push(push(rtmpUrl));
    const p = await playing(page, 1, 40_000);
    assert.ok(p.frames > 0);
    await page.waitForFunction(() => document.querySelector('[data-testid="player"]')?.getAttribute('data-state') === 'playing');
    assert.equal(await text(page, 'room-status'), 'LIVE');
    // the console follows: live, and the viewer counted
    await streamer.page.waitForFunction(() => document.querySelector('[data-testid="console-status"]')?.getAttribute('data-status') === 'live');
    await page.getByTestId('online').filter({ hasText: /^[1-9]\d* online$/ }).waitFor();
  });

  test("a second viewer's chat message appears on the first viewer's page, in the panel and as danmaku; markup stays text", async () => {
    viewer2 = await open({ token: (await app.http.register(names.viewer2, PASSWORD, nick2)).token });
    const { page } = viewer2;
    await page.goto(`${app.url}/#/room/${roomId}`);
    await page.getByTestId('chat-input').waitFor();
    let dialogs = 0;
    for (const v of [viewer1, viewer2]) v.page.on('dialog', (d) => (dialogs++, void d.dismiss()));

    // the input is enabled once the room connection is up (fill waits for that)
    await page.getByTestId('chat-input').fill('hello from Bob');
    await page.getByTestId('chat-send').click();
    const line = viewer1.page.getByTestId('chat-line').filter({ hasText: 'hello from Bob' });
    await line.waitFor();
    assert.equal(await line.locator('.nick').textContent(), nick2);
    await viewer1.page.getByTestId('danmaku').locator('.dm', { hasText: 'hello from Bob' }).waitFor({ state: 'attached' });

    await page.getByTestId('chat-input').fill(XSS);
    await page.getByTestId('chat-send').click();
    const xss = viewer1.page.getByTestId('chat-text').filter({ hasText: XSS });
    await xss.waitFor();
    assert.equal(await xss.textContent(), XSS);
    for (const v of [viewer1, viewer2]) {
      assert.equal(await v.page.locator('[data-testid="chat-lines"] img, [data-testid="danmaku"] img').count(), 0, 'no element was made from chat text');
    }
    assert.equal(dialogs, 0, 'no script ran');
    await screenshot(viewer1.page, 'room-viewer');
  });

  test('a gift shows its animation with a combo, and the balance drops', async () => {
    const { page } = viewer1;
    const balance = page.getByTestId('balance');
    await balance.filter({ hasText: /\d/ }).waitFor();
    const before = Number(await balance.getAttribute('data-value'));
    assert.ok(before >= 20, `signup bonus: ${before}`);
    await page.getByTestId('gift-rose').click();
    const fx = page.getByTestId('gift-fx').filter({ hasText: 'Rose' });
    await fx.waitFor();
    assert.match((await fx.textContent())!, new RegExp(`${nick1} sent Rose ×1`));
    await page.waitForFunction((want) => document.querySelector('[data-testid="balance"]')?.getAttribute('data-value') === String(want), before - 10);
    // the same gift again within the combo window: one banner, combo ×2, count 2
    await page.getByTestId('gift-rose').click();
    await page.getByTestId('gift-combo').filter({ hasText: 'Combo ×2' }).waitFor();
    assert.match((await fx.textContent())!, /Rose ×2/);
    // the banner's entrance has finished: the screenshot shows it in place
    await fx.evaluate((el) => Promise.all(el.getAnimations({ subtree: true }).map((a) => a.finished)));
    await screenshot(page, 'room-gift');
    await page.waitForFunction((want) => document.querySelector('[data-testid="balance"]')?.getAttribute('data-value') === String(want), before - 20);
    // the other viewer sees the animation too, and the streamer's earnings and top fans move
    await viewer2.page.getByTestId('gift-fx').filter({ hasText: nick1 }).waitFor();
    await streamer.page.getByTestId('earnings').filter({ hasText: /^10 coins earned$/ }).waitFor();
    await page.getByTestId('top-fans').filter({ hasText: nick1 }).waitFor();
  });

  test('a lottery started in the console is entered from a viewer page and the result appears', async () => {
    const c = streamer.page;
    await c.getByTestId('lottery-prize-input').fill('A signed poster');
    await c.getByTestId('lottery-winners-input').fill('1');
    await c.getByTestId('lottery-duration').fill('10');
    await c.getByTestId('lottery-start').click();

    const { page } = viewer1;
    await page.getByTestId('lottery-prize').filter({ hasText: 'A signed poster' }).waitFor();
    // the commitment a viewer keeps to check the draw later, in full while the lottery is open
    await page.getByTestId('lottery-seed-hash').filter({ hasText: /\b[0-9a-f]{64}\b/ }).waitFor();
    await page.getByTestId('lottery-enter').click();
    await page.getByTestId('lottery-entered').waitFor();
    await c.getByTestId('lottery-entries').filter({ hasText: '1 entered' }).waitFor();
    await screenshot(page, 'room-lottery');
    // the draw runs as a job at the end; the only entrant wins
    await page.getByTestId('lottery-winners').filter({ hasText: nick1 }).waitFor({ timeout: 30_000 });
    await page.getByTestId('lottery-won').waitFor();
    await viewer2.page.getByTestId('lottery-winners').filter({ hasText: nick1 }).waitFor();
    await c.getByTestId('lottery-winners').filter({ hasText: nick1 }).waitFor();
  });

  test("a gift lottery names the gift from the catalog on the viewer page and in the console; sending it enters", async () => {
    const c = streamer.page;
    await c.getByTestId('lottery-prize-input').fill('A bunch of roses');
    await c.getByTestId('lottery-winners-input').fill('1');
    await c.getByTestId('lottery-duration').fill('10');
    await c.getByTestId('lottery-method').selectOption('gift');
    await c.getByTestId('lottery-gift').selectOption('rose');
    await c.getByTestId('lottery-start').click();

    const { page } = viewer2;
    await page.getByTestId('lottery-prize').filter({ hasText: 'A bunch of roses' }).waitFor();
    // the catalog's display name (GET /api/gifts), not the gift's id
    for (const p of [page, c]) await p.getByTestId('lottery-how').filter({ hasText: /^Send the gift Rose to enter$/ }).waitFor();
    // the name is the catalog's in Chinese too
    await page.getByTestId('lang').click();
    await page.getByTestId('lottery-how').filter({ hasText: /^赠送礼物 Rose 即可参与$/ }).waitFor();
    await page.getByTestId('lang').click();
    await page.getByTestId('lottery-how').filter({ hasText: /^Send the gift Rose to enter$/ }).waitFor();
    await screenshot(page, 'room-lottery-gift');

    await page.getByTestId('balance').filter({ hasText: /\d/ }).waitFor();
    await page.getByTestId('gift-rose').click();
    await c.getByTestId('lottery-entries').filter({ hasText: '1 entered' }).waitFor();
    await page.getByTestId('lottery-winners').filter({ hasText: nick2 }).waitFor({ timeout: 30_000 });
    await page.getByTestId('lottery-won').waitFor();
    await c.getByTestId('lottery-winners').filter({ hasText: nick2 }).waitFor();
  });

  test('the streamer moderates from the console: a deleted message disappears for viewers, slow mode shows', async () => {
    const c = streamer.page;
    const line = c.getByTestId('chat-line').filter({ hasText: 'hello from Bob' });
    await line.getByTestId('mod-delete').click();
    await viewer1.page.getByTestId('chat-line').filter({ hasText: 'hello from Bob' }).waitFor({ state: 'detached' });
    await c.getByTestId('slow-seconds').fill('5');
    await c.getByTestId('slow-apply').click();
    await viewer1.page.getByTestId('chat-mode').filter({ hasText: 'Slow mode: one message every 5 s' }).waitFor();
    await c.getByTestId('slow-seconds').fill('0');
    await c.getByTestId('slow-apply').click();
    await viewer1.page.getByTestId('chat-mode').waitFor({ state: 'hidden' });
    await screenshot(c, 'console-live', { fullPage: true });
  });

  test("a viewer muted from the console has their next message refused on their own page; nobody else sees it", async () => {
    const c = streamer.page;
    const nick = `Mia ${names.muted.slice(-4)}`;
    const { page } = await open({ token: (await app.http.register(names.muted, PASSWORD, nick)).token });
    await page.goto(`${app.url}/#/room/${roomId}`);
    await say(page, 'mute me if you dare');
    const line = chatLine(c, 'mute me if you dare');
    await line.waitFor();
    assert.equal(await line.locator('.nick').textContent(), nick);
    await line.getByTestId('mod-mute').click();
    await c.getByText('Done: mute').waitFor();
    // the viewer is told at once, and the refusal of the next line shows on their page
    await page.getByTestId('chat-notice').filter({ hasText: /muted until/ }).waitFor();
    await say(page, 'am I still on air?');
    await page.getByTestId('chat-notice').filter({ hasText: 'You are muted in this room.' }).waitFor();
    // a later line from someone else arrives everywhere; the refused one is nowhere before it
    await say(viewer1.page, 'after the mute');
    for (const p of [c, viewer1.page, viewer2.page, page]) {
      await chatLine(p, 'after the mute').waitFor();
      assert.equal(await chatLine(p, 'am I still on air?').count(), 0, 'the muted line was not shown');
    }
    // muting leaves the earlier line, and the input stays usable (the mute runs out)
    await chatLine(viewer1.page, 'mute me if you dare').waitFor();
    assert.equal(await page.getByTestId('chat-input').isEnabled(), true);
    await screenshot(page, 'room-muted');
  });

  test('a viewer banned from the console is removed from the room, told so, and cannot rejoin on reload', async () => {
    const c = streamer.page;
    const nick = `Ben ${names.banned.slice(-4)}`;
    const banned = await open({ token: (await app.http.register(names.banned, PASSWORD, nick)).token });
    const { page } = banned;
    await page.goto(`${app.url}/#/room/${roomId}`);
    await say(page, 'spam spam spam');
    const line = chatLine(c, 'spam spam spam');
    await line.waitFor();
    let asked = '';
    c.once('dialog', (d) => ((asked = d.message()), void d.accept()));
    await line.getByTestId('mod-ban').click();
    await c.getByText('Done: ban').waitFor();
    assert.match(asked, new RegExp(`Ban ${nick} `));
    // the room connection is closed for them: the page says why (in the chat and over the stopped player) and the chat is off
    const told = async () => {
      await page.getByTestId('chat-notice').filter({ hasText: 'You are banned from this room.' }).waitFor();
      await page.getByTestId('player-overlay').filter({ hasText: 'You are banned from this room.' }).waitFor();
      await page.waitForFunction(() => document.querySelector('[data-testid="player"]')?.getAttribute('data-state') === 'offline');
      assert.equal(await page.getByTestId('chat-input').isDisabled(), true);
    };
    await told();
    await screenshot(page, 'room-banned');
    // a reload is refused at the join, and says so again
    await page.reload();
    await page.getByTestId('room-title').waitFor();
    await told();
    assert.equal(await page.getByTestId('chat-line').filter({ hasText: 'spam spam spam' }).count(), 0, 'no room state reached the banned page');
  });

  test('followers-only chat from the console: a non-follower is refused with a notice, gets through after following, and off again', async () => {
    const c = streamer.page;
    const { page } = await open({ token: (await app.http.register(names.fan, PASSWORD, `Fay ${names.fan.slice(-4)}`)).token });
    await page.goto(`${app.url}/#/room/${roomId}`);
    await page.getByTestId('follow').filter({ hasText: /^Follow$/ }).waitFor();
    await c.getByTestId('followers-only').check();
    await c.getByText('Done: followers_only').waitFor();
    for (const p of [page, viewer1.page]) await p.getByTestId('chat-mode').filter({ hasText: 'Followers-only chat' }).waitFor();

    await say(page, 'let me in please');
    await page.getByTestId('chat-notice').filter({ hasText: 'Only followers can do that.' }).waitFor();
    await page.getByTestId('follow').click();
    await page.getByTestId('follow').filter({ hasText: 'Following' }).waitFor();
    await say(page, 'following now');
    for (const p of [c, viewer1.page, page]) {
      await chatLine(p, 'following now').waitFor();
      assert.equal(await chatLine(p, 'let me in please').count(), 0, 'the refused line was not shown');
    }

    // off again: the console's switch clears the note, and a non-follower chats once more
    await c.getByTestId('followers-only').uncheck();
    for (const p of [page, viewer1.page]) await p.getByTestId('chat-mode').waitFor({ state: 'hidden' });
    await page.getByTestId('follow').click();
    await page.getByTestId('follow').filter({ hasText: /^Follow$/ }).waitFor();
    await say(page, 'open to everyone again');
    for (const p of [c, viewer1.page]) await chatLine(p, 'open to everyone again').waitFor();
    assert.equal(await c.getByTestId('followers-only').isChecked(), false);
  });

  test('the player recovers when the stream drops and comes back', async () => {
    const { page } = viewer1;
    for (const p of pushes.splice(0)) p.kill();
    // the room ends when the publisher goes: the player stops and says so, the console too
    await page.waitForFunction(() => document.querySelector('[data-testid="player"]')?.getAttribute('data-state') === 'ended', undefined, { timeout: 30_000 });
    await page.getByTestId('player-overlay').filter({ hasText: 'The broadcast has ended.' }).waitFor();
    await streamer.page.waitForFunction(() => document.querySelector('[data-testid="console-status"]')?.getAttribute('data-status') === 'ended');
    await screenshot(page, 'room-ended');
    // the streamer comes back: the room goes live and the same page plays again, untouched
    pushes.push(push(rtmpUrl));
    await page.waitForFunction(() => document.querySelector('[data-testid="player"]')?.getAttribute('data-state') === 'playing', undefined, { timeout: 40_000 });
    await playing(page, 1, 30_000);
  });

  test('home lists the live room with its online count; the language switch turns the UI Chinese and is remembered', async () => {
    const home = await open();
    const { page } = home;
    await page.goto(`${app.url}/#/`);
    const card = page.locator(`[data-room-id="${roomId}"]`);
    await card.waitFor();
    assert.match((await card.textContent())!, /Evening test pattern/);
    assert.match((await card.textContent())!, /Streamer Sam/);
    await card.getByTestId('card-online').filter({ hasText: /[1-9]\d* online/ }).waitFor();
    await page.getByTestId('rankings').filter({ hasText: 'Top earners' }).waitFor();
    await page.getByTestId('board-streamer_revenue').filter({ hasText: 'Streamer Sam' }).waitFor({ timeout: 30_000 });
    await screenshot(page, 'home');

    await page.getByTestId('lang').click();
    await page.getByTestId('rankings').filter({ hasText: '排行榜' }).waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
    await page.reload();
    await page.getByTestId('rankings').filter({ hasText: '收入榜' }).waitFor();
    await screenshot(page, 'home-zh');
    await page.getByTestId('lang').click();
    await page.getByTestId('rankings').filter({ hasText: 'Leaderboards' }).waitFor();
  });

  test('at phone width the room page stacks and plays (over WS-FLV)', async () => {
    const phone = await open({ token: (await app.http.register(uniqueName('web_m'), PASSWORD)).token, viewport: { width: 390, height: 844 } });
    const { page } = phone;
    const sockets: string[] = [];
    page.on('websocket', (ws) => sockets.push(ws.url()));
    await page.goto(`${app.url}/#/room/${roomId}?flv=ws`);
    await playing(page, 1, 40_000);
    assert.ok(sockets.some((u) => u.startsWith('ws://localhost:') && u.endsWith(`/live/${roomId}.flv`)), `WS-FLV was used: ${sockets.join(' ')}`);
    const widths = await page.evaluate(() => ({
      doc: document.documentElement.scrollWidth,
      player: document.querySelector('[data-testid="player"]')!.getBoundingClientRect().width,
      chatTop: document.querySelector('[data-testid="chat"]')!.getBoundingClientRect().top,
      playerBottom: document.querySelector('[data-testid="player"]')!.getBoundingClientRect().bottom,
    }));
    assert.ok(widths.doc <= 390, `no horizontal scrolling (${widths.doc}px)`);
    assert.ok(widths.player >= 380, `the player spans the screen (${widths.player}px)`);
    assert.ok(widths.chatTop >= widths.playerBottom, 'the chat is below the player');
    await screenshot(page, 'room-phone', { fullPage: true });
  });

  test('the HLS fallback plays too', async () => {
    const v = await open();
    const { page } = v;
    await page.goto(`${app.url}/#/room/${roomId}?player=hls`);
    await playing(page, 1, 60_000);
    await page.waitForFunction(() => document.querySelector('[data-testid="player"]')?.getAttribute('data-state') === 'playing');
    assert.equal(await page.getByTestId('player').getAttribute('data-tech'), 'hls');
    await v.context.close();
  });

  test('the WebRTC player (WHEP) plays too', async () => {
    const v = await open();
    const { page } = v;
    await page.goto(`${app.url}/#/room/${roomId}?player=webrtc`);
    await playing(page, 1, 60_000);
    await page.waitForFunction(() => document.querySelector('[data-testid="player"]')?.getAttribute('data-state') === 'playing');
    assert.equal(await page.getByTestId('player').getAttribute('data-tech'), 'webrtc');
    await v.context.close();
  });

  test('a viewer follows the streamer from the room page', async () => {
    const { page } = viewer1;
    await page.getByTestId('follow').filter({ hasText: 'Follow' }).click();
    await page.getByTestId('follow').filter({ hasText: 'Following' }).waitFor();
    await page.getByTestId('followers').filter({ hasText: '1 followers' }).waitFor();
    // the choice survives a reload (read back from the server)
    await page.reload();
    await page.getByTestId('follow').filter({ hasText: 'Following' }).waitFor();
  });

  test('the console uploads a cover, rotates the stream key (the old push is cut off) and ends the broadcast', async () => {
    const c = streamer.page;
    c.on('dialog', (d) => void d.accept());
    const cover = await sharp({ create: { width: 640, height: 360, channels: 3, background: { r: 250, g: 114, b: 153 } } }).png().toBuffer();
    await c.getByTestId('cover-input').setInputFiles({ name: 'cover.png', mimeType: 'image/png', buffer: cover });
    await c.locator('.cover-preview img[src*="/files/"]').waitFor();
    await c.getByTestId('room-submit').click();
    await c.getByText('Room saved').waitFor();
    assert.match((await app.http.request('GET', `/api/rooms/${roomId}`)).body.room.coverUrl, /\/files\//);

    const oldKey = await text(c, 'stream-key');
    const oldPush = pushes[0]!;
    await c.getByTestId('rotate-key').click();
    await c.getByText('New stream key ready').waitFor();
    const key = await text(c, 'stream-key');
    assert.notEqual(key, oldKey);
    rtmpUrl = (await text(c, 'rtmp-url'))!;
    assert.ok(rtmpUrl.endsWith(`/live/${key}`));
    await oldPush.exited; // the publisher on the old key is disconnected
    await c.waitForFunction(() => document.querySelector('[data-testid="console-status"]')?.getAttribute('data-status') === 'ended');

    pushes.push(push(rtmpUrl));
    await c.waitForFunction(() => document.querySelector('[data-testid="console-status"]')?.getAttribute('data-status') === 'live', undefined, { timeout: 30_000 });
    await playing(viewer1.page, 1, 40_000);
    await c.getByTestId('end-broadcast').click();
    await c.getByText('Broadcast ended').waitFor();
    await pushes.at(-1)!.exited;
    await viewer1.page.waitForFunction(() => document.querySelector('[data-testid="player"]')?.getAttribute('data-state') === 'ended', undefined, { timeout: 30_000 });
    await c.getByTestId('end-broadcast').waitFor({ state: 'hidden' });
  });

  test('profile: avatar upload shows the new avatar', async () => {
    const { page } = viewer2;
    await page.goto(`${app.url}/#/profile`);
    await page.getByTestId('profile').waitFor();
    const png = await sharp({ create: { width: 256, height: 256, channels: 3, background: { r: 40, g: 160, b: 220 } } }).png().toBuffer();
    await page.getByTestId('avatar-input').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: png });
    await page.locator('[data-testid="avatar"] img[src*="/files/"]').waitFor();
    await page.locator('[data-testid="me"] img[src*="/files/"]').waitFor();
    await screenshot(page, 'profile');
  });

  test('states: an unknown room says so, and losing the network shows the offline banner', async () => {
    const v = await open();
    const { page } = v;
    await page.goto(`${app.url}/#/room/no_such_room`);
    await page.getByTestId('empty').filter({ hasText: 'This room does not exist.' }).waitFor();
    await page.goto(`${app.url}/#/console`);
    await page.getByText('Log in to open your creator console.').waitFor();
    await v.context.setOffline(true);
    await page.locator('#offline-banner').filter({ hasText: 'You are offline' }).waitFor();
    await v.context.setOffline(false);
    await page.locator('#offline-banner').waitFor({ state: 'hidden' });
  });

  test('no page hit a CSP violation or an uncaught error', () => {
    const problems = visitors.flatMap((v) => v.errors).filter((e) => !/Failed to load resource/.test(e));
    assert.deepEqual(problems, []);
  });
});
