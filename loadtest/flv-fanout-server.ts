// One server under test for loadtest/flv-fanout.ts, in its own process so its
// CPU and memory can be read from /proc:
//   --mode liveroom  node-media-server RTMP ingest + Liveroom's playback (src/media/flv-playback.ts)
//   --mode nms       a bare node-media-server serving its own HTTP-FLV
//   --mode edge      Liveroom's playback as an edge: no publisher, every stream pulled
//                    once from --origin (a liveroom-mode server) on its first viewer
// Prints one JSON line {"ready":true} when listening; stops on SIGTERM.
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadConfig } from '../src/config.ts';
import { mediaSettings } from '../src/media-control/media-settings.ts';
import { createFlvPlayback, type FlvPlayback } from '../src/media/flv-playback.ts';
import { pullSource } from '../src/media/stream-source.ts';

const require = createRequire(import.meta.url);
const NodeMediaServer = require('node-media-server');
const nmsContext = require('node-media-server/src/core/context.js');
const nmsLogger = require('node-media-server/src/core/logger.js');

const { values } = parseArgs({
  options: { mode: { type: 'string' }, 'rtmp-port': { type: 'string' }, 'http-port': { type: 'string' }, origin: { type: 'string' } },
});
const mode = values.mode;
const rtmpPort = Number(values['rtmp-port']);
const httpPort = Number(values['http-port']);
if ((mode !== 'liveroom' && mode !== 'nms' && mode !== 'edge') || !httpPort || (mode === 'edge' ? !values.origin : !rtmpPort)) {
  process.stderr.write('usage: flv-fanout-server.ts --mode liveroom|nms --rtmp-port N --http-port N | --mode edge --http-port N --origin URL\n');
  process.exit(2);
}

if (mode === 'edge') {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'liveroom-bench-edge-'));
  const settings = mediaSettings(loadConfig({ JWT_SECRET: 'x'.repeat(32), DATA_DIR: dataDir }), { rtmp: 0, http: httpPort }, 'bench-edge');
  const edge = await createFlvPlayback({
    host: '127.0.0.1',
    port: httpPort,
    logger: pino({ level: 'warn' }),
    ...settings.flv,
    requestTimeoutMs: settings.httpRequestTimeoutMs,
    edgeIdleMs: settings.edge.idleMs,
    locate: async (room) => pullSource({ url: `${values.origin}/live/${room}.flv`, nodeId: 'bench-edge', timeoutMs: settings.edge.timeoutMs }),
  });
  process.stdout.write(JSON.stringify({ ready: true, pid: process.pid }) + '\n');
  const stop = async () => {
    await edge.close();
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  await new Promise(() => {});
}

const dir = mkdtempSync(path.join(tmpdir(), 'liveroom-bench-nms-'));
const nms = new NodeMediaServer({
  bind: '127.0.0.1',
  rtmp: { port: rtmpPort, chunk_size: 60000, gop_cache: true, ping: 30, ping_timeout: 60 },
  ...(mode === 'nms' ? { http: { port: httpPort } } : {}),
  store: { path: dir },
});
// node-media-server logs every session start to stdout; both peers run quiet
nmsLogger.level = 'warn';

let playback: FlvPlayback | null = null;
if (mode === 'liveroom') {
  // the app's playback limits (config.ts defaults), as the supervisor hands them to the media process
  const settings = mediaSettings(loadConfig({ JWT_SECRET: 'x'.repeat(32), DATA_DIR: dir }), { rtmp: rtmpPort, http: httpPort }, 'bench');
  playback = await createFlvPlayback({ host: '127.0.0.1', port: httpPort, logger: pino({ level: 'warn' }), ...settings.flv, requestTimeoutMs: settings.httpRequestTimeoutMs });
  // the benchmark names the room after the stream
  nms.on('postPublish', (s: { streamPath: string; streamName: string }) => {
    const b = nmsContext.broadcasts.get(s.streamPath);
    if (b) playback!.attach(s.streamName, b);
  });
  nms.on('donePublish', (s: { streamName: string }) => playback!.detach(s.streamName));
}
await nms.run();
process.stdout.write(JSON.stringify({ ready: true, pid: process.pid }) + '\n');

const stop = async () => {
  await playback?.close();
  await nms.stop();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
