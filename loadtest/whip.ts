// WHIP ingest benchmark: N browsers (headless Chromium, fake camera and
// microphone) publish over WebRTC to N rooms of one Liveroom server; reports
// how long each took to go live and what the server side costs per publisher:
// the media process (werift: ICE, DTLS, SRTP in JavaScript), the bridge ffmpegs
// (VP8/Opus -> H.264/AAC) and the HLS ffmpegs that every live room runs.
//
//   node loadtest/whip.ts --publishers 1,2,4 --seconds 15 --size 640x360
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { arg, childrenOf, cpuSeconds, freePort, rssBytes } from './lib/proc.ts';
import { publishFromPage } from '../test/helpers/whip-page.ts';
import { jsonRequester, startServer, stopServer } from './lib/server.ts';

const PUBLISHERS = arg('publishers', '1,2,4').split(',').map(Number).filter((n) => n > 0);
const SECONDS = Number(arg('seconds', '15'));
const [WIDTH, HEIGHT] = arg('size', '640x360').split('x').map(Number) as [number, number];
const log = (msg: string) => process.stderr.write(`[whip-bench] ${msg}\n`);
const request = jsonRequester(new http.Agent({ keepAlive: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? NaN;

interface Row {
  publishers: number;
  live: number;
  toLiveP50Ms: number;
  toLiveMaxMs: number;
  mediaCores: number;
  bridgeCoresPerPublisher: number;
  hlsCoresPerRoom: number;
  serverCoresPerPublisher: number;
  mediaRssMb: number;
  browserNote: string;
}

const publish = async (page: Page, whipUrl: string, key: string) => (await publishFromPage(page, whipUrl, key, { width: WIDTH, height: HEIGHT })).status;

let roundNo = 0;
async function round(n: number, port: number, serverPid: number, browser: Browser): Promise<Row> {
  roundNo++;
  const rooms: { id: string; key: string; whipUrl: string }[] = [];
  for (let i = 0; i < n; i++) {
    const username = `whip_${process.pid}_${roundNo}_${i}`;
    await request(port, 'POST', '/api/auth/register', { username, password: 'whip bench passphrase' });
    const login = await request(port, 'POST', '/api/auth/login', { username, password: 'whip bench passphrase' });
    const created = await request(port, 'POST', '/api/rooms', { title: `WHIP ${i}` }, { authorization: `Bearer ${login.body.token}` });
    if (created.status !== 201) throw new Error(`room: ${created.status} ${JSON.stringify(created.body)}`);
    rooms.push({ id: created.body.room.id, key: created.body.ingest.streamKey, whipUrl: created.body.ingest.whipUrl });
  }
  const pages: Page[] = [];
  const toLive: number[] = [];
  await Promise.all(
    rooms.map(async (r) => {
      const page = await browser.newPage();
      pages.push(page);
      await page.goto(`http://localhost:${port}/`); // the web app page: its CSP lets it reach the media node
      const t0 = Date.now();
      const status = await publish(page, r.whipUrl, r.key);
      if (status !== 201) throw new Error(`WHIP answered ${status}`);
      for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(100)) {
        const room = (await request(port, 'GET', `/api/rooms/${r.id}`)).body.room;
        if (room.status === 'live') {
          toLive.push(Date.now() - t0);
          return;
        }
      }
    }),
  );
  await sleep(3000); // past the encoders' start-up
  const media = childrenOf(serverPid).find((c) => c.cmd.includes('media-process.ts'));
  if (!media) throw new Error('no media process');
  const procs = () => {
    const kids = childrenOf(media.pid);
    return { bridges: kids.filter((k) => k.cmd.includes('/live/whip_')).map((k) => k.pid), hls: kids.filter((k) => k.cmd.includes('.m3u8')).map((k) => k.pid) };
  };
  const before = procs();
  const sum = (pids: number[]) => pids.reduce((a, p) => a + cpuSeconds(p), 0);
  const c0 = { media: cpuSeconds(media.pid), bridges: sum(before.bridges), hls: sum(before.hls), server: cpuSeconds(serverPid) };
  await sleep(SECONDS * 1000);
  const c1 = { media: cpuSeconds(media.pid), bridges: sum(before.bridges), hls: sum(before.hls), server: cpuSeconds(serverPid) };
  const mediaRssMb = rssBytes(media.pid) / 2 ** 20;
  for (const p of pages) await p.close();
  const cores = (a: number, b: number) => (b - a) / SECONDS;
  const mediaCores = cores(c0.media, c1.media);
  const bridges = cores(c0.bridges, c1.bridges);
  const hls = cores(c0.hls, c1.hls);
  const server = cores(c0.server, c1.server);
  // wait for the rooms to end before the next round
  for (const r of rooms)
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(200))
      if ((await request(port, 'GET', `/api/rooms/${r.id}`)).body.room.status !== 'live') break;
  return {
    publishers: n,
    live: toLive.length,
    toLiveP50Ms: pct(toLive, 0.5),
    toLiveMaxMs: Math.max(...toLive),
    mediaCores,
    bridgeCoresPerPublisher: bridges / Math.max(1, before.bridges.length),
    hlsCoresPerRoom: hls / Math.max(1, before.hls.length),
    serverCoresPerPublisher: (mediaCores + bridges + hls + server) / n,
    mediaRssMb,
    browserNote: `${before.bridges.length} bridges, ${before.hls.length} HLS`,
  };
}

async function main() {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'liveroom-whip-bench-'));
  const env = {
    DATA_DIR: dataDir,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    RTMP_PORT: String(await freePort()),
    MEDIA_HTTP_PORT: String(await freePort()),
    SHED_TARGET_DELAY_MS: '600000',
    RATE_LIMIT_IP_PER_MIN: '100000',
    REGISTER_PER_IP_PER_HOUR: '100000',
    WHIP_MAX_SESSIONS: String(Math.max(...PUBLISHERS)),
    // every publisher offers from loopback at the same moment
    WEBRTC_MAX_OFFERS_PER_ADDRESS: String(Math.max(...PUBLISHERS)),
  };
  log(`starting a server (PGlite in ${dataDir})`);
  const { child, port } = await startServer(env, request);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'],
  });
  const rows: Row[] = [];
  try {
    for (const n of PUBLISHERS) {
      log(`${n} publisher(s), ${WIDTH}x${HEIGHT}, ${SECONDS} s (load1 ${loadavg()[0]!.toFixed(2)})`);
      rows.push(await round(n, port, child.pid!, browser));
    }
  } finally {
    await browser.close();
    await stopServer(child);
    rmSync(dataDir, { recursive: true, force: true });
  }
  const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  process.stdout.write(`\nWHIP ${WIDTH}x${HEIGHT}, ${SECONDS} s steady window, load1 at the end ${loadavg()[0]!.toFixed(2)}\n\n`);
  process.stdout.write('| publishers | live | POST to live p50 | max | media process (cores) | bridge ffmpeg per publisher | HLS ffmpeg per room | server side per publisher | media RSS |\n|---|---|---|---|---|---|---|---|---|\n');
  for (const r of rows)
    process.stdout.write(
      `| ${r.publishers} | ${r.live} | ${r.toLiveP50Ms} ms | ${r.toLiveMaxMs} ms | ${f(r.mediaCores)} | ${f(r.bridgeCoresPerPublisher)} | ${f(r.hlsCoresPerRoom)} | ${f(r.serverCoresPerPublisher)} | ${f(r.mediaRssMb, 0)} MB |\n`,
    );
  process.stdout.write(`\n${JSON.stringify(rows)}\n`);
}

await main();
