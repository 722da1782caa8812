// A PostgreSQL and a Redis of a test's own (Debian's binaries, a scratch data
// directory, a free port), so the test can stop and restart them. Missing
// binaries are installed with apt-get, as for ffmpeg.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { atExit, freePort, killOnExit } from './server-process.ts';

export interface ScratchService {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

function pgBin(): string {
  const root = '/usr/lib/postgresql';
  const find = () => (existsSync(root) ? readdirSync(root).map((v) => path.join(root, v, 'bin')).find((d) => existsSync(path.join(d, 'pg_ctl'))) : undefined);
  let bin = find();
  if (!bin) {
    spawnSync('apt-get', ['install', '-y', 'postgresql'], { stdio: 'ignore' });
    bin = find();
  }
  if (!bin) throw new Error('PostgreSQL server binaries are missing (apt-get install postgresql)');
  return bin;
}

/** Runs as the `postgres` user when we are root: PostgreSQL refuses to run as root. */
function asPostgres(cmd: string, args: string[]) {
  return process.getuid?.() === 0 ? { cmd: 'runuser', args: ['-u', 'postgres', '--', cmd, ...args] } : { cmd, args };
}

async function waitFor(probe: () => boolean, what: string, ms = 30_000) {
  const end = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startScratchPostgres(): Promise<ScratchService> {
  const bin = pgBin();
  const dir = await mkdtemp(path.join(tmpdir(), 'liveroom-pg-'));
  await chmod(dir, 0o777);
  const data = path.join(dir, 'data');
  const port = await freePort();
  const run = (cmd: string, args: string[]) => {
    const c = asPostgres(path.join(bin, cmd), args);
    execFileSync(c.cmd, c.args, { stdio: 'pipe' });
  };
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const start = async () => {
    run('pg_ctl', ['-D', data, '-l', path.join(dir, 'log'), '-w', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
  };
  await start();
  // pg_ctl's server is a daemon: stopped by pg_ctl if the test process ends without close()
  atExit(() => {
    const c = asPostgres(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']);
    if (existsSync(path.join(data, 'postmaster.pid'))) spawnSync(c.cmd, c.args, { stdio: 'ignore' });
  });
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    // immediate: the server goes away as in a crash or a network cut, without saying goodbye to clients
    stop: async () => run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']),
    start,
    close: async () => {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } catch {
        // already stopped
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Every write is on disk before it is acknowledged, so a kill loses nothing (BullMQ's jobs live here). */
export async function startScratchRedis(): Promise<ScratchService> {
  if (spawnSync('redis-server', ['--version']).status !== 0) spawnSync('apt-get', ['install', '-y', 'redis-server'], { stdio: 'ignore' });
  const port = await freePort();
  const dir = await mkdtemp(path.join(tmpdir(), 'liveroom-redis-'));
  let child: ChildProcess | undefined;
  const start = async () => {
    const c = killOnExit(spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always'], { stdio: ['ignore', 'pipe', 'ignore'] }));
    child = c;
    let out = '';
    c.stdout!.on('data', (d) => (out += d));
    await waitFor(() => out.includes('Ready to accept connections') || c.exitCode !== null, 'redis-server to start');
    if (c.exitCode !== null) throw new Error(`redis-server exited: ${out}`);
  };
  const stop = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGKILL');
    await gone;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    stop,
    start,
    close: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
