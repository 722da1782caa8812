// FLV fan-out benchmark: one 2.5 Mbps live stream, N concurrent readers on
// loopback, against these peers side by side in the same run:
//   liveroom     node-media-server RTMP ingest + Liveroom's HTTP-FLV (src/media/flv-playback.ts)
//   liveroom-ws  the same, read as WS-FLV
//   liveroom-edge  every viewer on a Liveroom edge, which pulls the stream once from a
//               liveroom origin (both servers pinned to the server CPU; CPU is their sum)
//   nms          a bare node-media-server 4 serving its own HTTP-FLV
//   nginx        nginx + Debian's libnginx-mod-rtmp serving RTMP play
//
//   node loadtest/flv-fanout.ts [--viewers 100,500,1000] [--seconds 20] [--peers liveroom,liveroom-ws,nms,nginx]
//                               [--bitrate 2500] [--ramp 1000] [--no-pin]
//
// The clip is encoded once by ffmpeg (testsrc 1280x720 25 fps, x264 CBR, AAC,
// 2 s GOP) and published by the reader process's own RTMP publisher at real-time
// pace, so each frame's send time is known: added latency = arrival - send.
// Server CPU comes from /proc/<pid>/stat over the steady window, memory from
// VmRSS (with readers minus before readers). By default the server is pinned to
// CPU 1 and the readers to CPU 0 (taskset), as in the figures of docs/benchmarks.md.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir, loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ReaderJob, ReaderResult } from './flv-fanout-readers.ts';
import { cpuSeconds, freePort, rssBytes } from './lib/proc.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    viewers: { type: 'string', default: '100,500,1000' },
    seconds: { type: 'string', default: '20' },
    peers: { type: 'string', default: 'liveroom,liveroom-ws,nms,nginx' }, // and liveroom-edge
    bitrate: { type: 'string', default: '2500' },
    ramp: { type: 'string', default: '1000' },
    'no-pin': { type: 'boolean', default: false },
  },
});
const viewerCounts = values.viewers!.split(',').map(Number).filter((n) => n > 0);
const seconds = Number(values.seconds);
const peers = values.peers!.split(',') as ('liveroom' | 'liveroom-ws' | 'liveroom-edge' | 'nms' | 'nginx')[];
for (const p of peers) {
  if (!['liveroom', 'liveroom-ws', 'liveroom-edge', 'nms', 'nginx'].includes(p)) {
    process.stderr.write(`unknown peer ${p}: use liveroom, liveroom-ws, liveroom-edge, nms, nginx\n`);
    process.exit(2);
  }
}
const bitrate = Number(values.bitrate);
const rampPerSec = Number(values.ramp);
const NGINX_MODULE = '/usr/lib/nginx/modules/ngx_rtmp_module.so';

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
if (!has('ffmpeg')) {
  process.stderr.write('ffmpeg is needed: apt-get install -y ffmpeg\n');
  process.exit(1);
}
if (peers.includes('nginx') && (!has('nginx') || !existsSync(NGINX_MODULE))) {
  process.stderr.write('nginx-rtmp is needed for the nginx peer: apt-get update && apt-get install -y nginx libnginx-mod-rtmp\n(or leave it out: --peers liveroom,nms)\n');
  process.exit(1);
}
const pin = !values['no-pin'] && has('taskset');
const withCpu = (cpu: number, cmd: string, args: string[]): [string, string[]] => (pin ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, args]);

const rssMb = (pid: number) => rssBytes(pid) / 2 ** 20;


async function waitPort(port: number, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`port ${port} did not open`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function encodeClip(): string {
  const file = path.join(tmpdir(), `liveroom-bench-clip-720p-${bitrate}k-v1.flv`);
  if (existsSync(file)) return file;
  process.stdout.write(`encoding the ${bitrate} kbps test clip with ffmpeg...\n`);
  const b = `${bitrate}k`;
  // prettier-ignore
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc=size=1280x720:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-t', '30', '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p',
    '-b:v', b, '-minrate', b, '-maxrate', b, '-bufsize', `${bitrate / 2}k`, '-x264-params', 'nal-hrd=cbr',
    '-g', '50', '-keyint_min', '50', '-sc_threshold', '0', '-c:a', 'aac', '-b:a', '128k', '-f', 'flv', file + '.tmp'], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('ffmpeg could not encode the clip');
  spawnSync('mv', [file + '.tmp', file]);
  return file;
}

interface Server {
  pid: number;
  /** Every process of the peer whose CPU counts (an edge and its origin); default [pid]. */
  pids?: number[];
  readPort: number;
  publishPort: number;
  protocol: ReaderJob['protocol'];
  stop: () => Promise<void>;
}

async function startNodeServer(mode: 'liveroom' | 'nms' | 'edge', protocol: ReaderJob['protocol'], origin?: string): Promise<Server> {
  const rtmpPort = await freePort();
  const httpPort = await freePort();
  const modeArgs = mode === 'edge' ? ['--origin', origin!] : ['--rtmp-port', String(rtmpPort)];
  const [cmd, args] = withCpu(1, process.execPath, [path.join(here, 'flv-fanout-server.ts'), '--mode', mode, '--http-port', String(httpPort), ...modeArgs]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const pid = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /\{"ready":true,"pid":(\d+)\}/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`${mode} server exited (${code})`)));
  });
  child.stdout!.resume();
  if (mode !== 'edge') await waitPort(rtmpPort);
  await waitPort(httpPort);
  return { pid, readPort: httpPort, publishPort: rtmpPort, protocol, stop: () => stopChild(child) };
}

/** A liveroom origin taking the publish and an edge the readers play from. */
async function startEdgePair(): Promise<Server> {
  const origin = await startNodeServer('liveroom', 'http-flv');
  const edge = await startNodeServer('edge', 'http-flv', `http://127.0.0.1:${origin.readPort}`);
  return {
    pid: edge.pid,
    pids: [edge.pid, origin.pid],
    readPort: edge.readPort,
    publishPort: origin.publishPort,
    protocol: 'http-flv',
    stop: async () => {
      await edge.stop();
      await origin.stop();
    },
  };
}

async function startNginx(): Promise<Server> {
  const dir = mkdtempSync(path.join(tmpdir(), 'liveroom-bench-nginx-'));
  const port = await freePort();
  const conf = `load_module ${NGINX_MODULE};
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; }
rtmp {
  server {
    listen 127.0.0.1:${port};
    chunk_size 4096;
    application live { live on; }
  }
}
`;
  writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const [cmd, args] = withCpu(1, 'nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  await waitPort(port);
  // with taskset the child is taskset, which execs nginx: same pid
  return {
    pid: child.pid!,
    readPort: port,
    publishPort: port,
    protocol: 'rtmp',
    stop: async () => {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(child.pid!, 'SIGTERM');
  const timer = setTimeout(() => child.pid && child.exitCode === null && process.kill(child.pid, 'SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

interface Row {
  peer: string;
  viewers: number;
  result: ReaderResult;
  cpuPct: number;
  /** with the publish alone, no viewers */
  baseCpuPct: number;
  rssBeforeMb: number;
  rssMb: number;
  load: string;
}

async function runLoad(server: Server, peer: string, viewers: number, clip: string, stream: string): Promise<Row> {
  const job: ReaderJob = { protocol: server.protocol, host: '127.0.0.1', readPort: server.readPort, publishPort: server.publishPort, stream, viewers, seconds, clip, rampPerSec };
  const [cmd, args] = withCpu(0, process.execPath, [path.join(here, 'flv-fanout-readers.ts')]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let rssBefore = NaN;
  let base0 = 0;
  let bt0 = 0;
  let baseCpuPct = NaN;
  let cpu0 = 0;
  let t0 = 0;
  let cpuPct = NaN;
  let rss = NaN;
  const load = loadavg()[0]!.toFixed(2);
  const cpuOf = () => (server.pids ?? [server.pid]).reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  try {
    const result = await new Promise<ReaderResult>((resolve, reject) => {
      child.on('message', (m: { event: string; result?: ReaderResult; error?: string }) => {
        if (m.event === 'publishing') {
          rssBefore = rssMb(server.pid);
          base0 = cpuOf();
          bt0 = performance.now();
        } else if (m.event === 'connecting') {
          baseCpuPct = ((cpuOf() - base0) / ((performance.now() - bt0) / 1000)) * 100;
        }
        else if (m.event === 'steady') {
          cpu0 = cpuOf();
          t0 = performance.now();
        } else if (m.event === 'end') {
          cpuPct = ((cpuOf() - cpu0) / ((performance.now() - t0) / 1000)) * 100;
          rss = rssMb(server.pid);
        } else if (m.event === 'result') resolve(m.result!);
        else if (m.event === 'error') reject(new Error(m.error));
        else if (m.event === 'publisher-closed') process.stderr.write(`  ${peer}: the publisher was disconnected (${m.error ?? ''})\n`);
      });
      child.once('exit', (code) => reject(new Error(`reader process exited (${code})`)));
      child.send(job);
    });
    return { peer, viewers, result, cpuPct, baseCpuPct, rssBeforeMb: rssBefore, rssMb: rss, load };
  } finally {
    await stopChild(child);
  }
}

function pctl(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(s.length * p) - 1)]!;
}

const fmt = (n: number, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : '-');

async function main(): Promise<void> {
  const clip = encodeClip();
  const rows: Row[] = [];
  process.stdout.write(`load before: ${readFileSync('/proc/loadavg', 'utf8').trim()}; cpus pinned: ${pin ? 'server 1, readers 0' : 'no'}; joins ${rampPerSec}/s; ${bitrate} kbps\n`);
  let run = 0;
  for (const peer of peers) {
    const server =
      peer === 'nginx'
        ? await startNginx()
        : peer === 'liveroom-ws'
          ? await startNodeServer('liveroom', 'ws-flv')
          : peer === 'liveroom-edge'
            ? await startEdgePair()
            : await startNodeServer(peer, 'http-flv');
    try {
      for (const n of viewerCounts) {
        process.stdout.write(`${peer}: ${n} viewers for ${seconds} s...\n`);
        // a fresh stream name per run: node-media-server resumes a same-IP publish within 30 s otherwise
        const row = await runLoad(server, peer, n, clip, `bench${run++}`);
        rows.push(row);
        printRow(row);
      }
    } finally {
      await server.stop();
    }
  }
  process.stdout.write(`\nload after: ${readFileSync('/proc/loadavg', 'utf8').trim()}\n\n`);
  printTable(rows);
}

function printRow(r: Row): void {
  process.stdout.write(
    `  ok ${r.result.complete}/${r.viewers}, cpu ${fmt(r.cpuPct, 1)}%, rss ${fmt(r.rssMb)} MB, ttff first viewer ${fmt(r.result.ttffMs[0] ?? NaN)} ms, p50 ${fmt(pctl(r.result.ttffMs, 0.5))} ms, latency p50 ${r.result.latencyP50} ms p99 ${r.result.latencyP99} ms, errors ${JSON.stringify(r.result.errors)}\n`,
  );
}

/** Core-microseconds per second per viewer, over the cost of the publish alone. */
function cpuPerViewer(r: Row): number {
  return ((r.cpuPct - r.baseCpuPct) / 100 / r.viewers) * 1e6;
}

function printTable(rows: Row[]): void {
  const head = ['peer', 'viewers', '>=99% bytes', 'CPU % core', 'idle CPU %', 'CPU µs/s per viewer', 'vs nginx', 'RSS MB', 'KB/viewer', 'TTFF 1st', 'TTFF p50', 'TTFF p99', 'latency p50', 'latency p99', 'load1'];
  const lines = [head];
  for (const r of rows) {
    const perViewer = cpuPerViewer(r);
    const nginx = rows.find((x) => x.peer === 'nginx' && x.viewers === r.viewers);
    const ratio = nginx ? perViewer / cpuPerViewer(nginx) : NaN;
    lines.push([
      r.peer,
      String(r.viewers),
      `${fmt((r.result.complete / r.viewers) * 100, 1)}%`,
      fmt(r.cpuPct, 1),
      fmt(r.baseCpuPct, 1),
      fmt(perViewer, 0),
      Number.isFinite(ratio) ? `${ratio.toFixed(2)}x` : '-',
      fmt(r.rssMb),
      fmt(((r.rssMb - r.rssBeforeMb) * 1024) / r.viewers, 0),
      `${fmt(r.result.ttffMs[0] ?? NaN)} ms`,
      `${fmt(pctl(r.result.ttffMs, 0.5))} ms`,
      `${fmt(pctl(r.result.ttffMs, 0.99))} ms`,
      `${fmt(r.result.latencyP50)} ms`,
      `${fmt(r.result.latencyP99)} ms`,
      r.load,
    ]);
  }
  const widths = head.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  const out = lines.map((l) => '| ' + l.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |');
  out.splice(1, 0, '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  process.stdout.write(out.join('\n') + '\n');
  const errs = rows.filter((r) => Object.keys(r.result.errors).length || r.result.unmatched);
  for (const r of errs) process.stdout.write(`${r.peer} ${r.viewers}: errors ${JSON.stringify(r.result.errors)}, unmatched video timestamps ${r.result.unmatched}\n`);
}

await main();
