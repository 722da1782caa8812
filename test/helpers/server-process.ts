// A real `node src/main.ts` in a child process, for tests that need the
// server apart from the test's own event loop (crashes, load, two processes).
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { httpClient, type HttpClient } from './app.ts';

export const ROOT = path.resolve(import.meta.dirname, '../..');

// A test file that times out is ended by the runner (--test-force-exit) without its after() hooks: whatever it
// started must not outlive it and load the next files. Exit handlers run synchronously, so signals only.
const started = new Set<ChildProcess>();
const onExit: (() => void)[] = [];
process.once('exit', () => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const fn of onExit) fn();
});

/** SIGKILLs `child` when the test process exits, if it is still running then. */
export function killOnExit(child: ChildProcess): ChildProcess {
  started.add(child);
  child.once('exit', () => started.delete(child));
  return child;
}

/** Runs `fn` (synchronous) when the test process exits: for services a child no longer holds (daemons). */
export function atExit(fn: () => void) {
  onExit.push(fn);
}

/** Ports this test process has handed out: the OS may offer a probed-and-released port again before its user binds it. */
const handedOut = new Set<number>();

export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.listen(0, '127.0.0.1', () => {
        const { port } = s.address() as net.AddressInfo;
        s.close(() => resolve(port));
      });
      s.on('error', reject);
    });
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  http: HttpClient;
  stderr(): string;
  /** stderr, and stdout too when started with `captureStdout`, in the order they came. */
  output(): string;
  /** SIGKILL (default) or another signal; resolves once the process is gone. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface ServerProcessOptions {
  timeoutMs?: number;
  /** Keep what the server writes to stdout (its log) in output(); otherwise stdout is discarded. */
  captureStdout?: boolean;
  /** The endpoint that must answer 200 before the server counts as started: /readyz waits for every role, media too. */
  readyPath?: '/healthz' | '/readyz';
}

/** Starts the server with `env` on a free port and resolves once `/healthz` (or `readyPath`) answers 200. */
export async function startServerProcess(env: Record<string, string | undefined>, opts: ServerProcessOptions = {}): Promise<ServerProcess> {
  const { timeoutMs = 60_000, captureStdout = false, readyPath = '/healthz' } = opts;
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(ROOT, 'src/main.ts')], {
    cwd: ROOT,
    env: { ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', captureStdout ? 'pipe' : 'ignore', 'pipe'],
  });
  killOnExit(child);
  let stderr = '';
  let output = '';
  child.stderr!.on('data', (d) => {
    stderr += d;
    output += d;
  });
  child.stdout?.on('data', (d) => (output += d));
  const url = `http://127.0.0.1:${port}`;
  const http = httpClient(url);
  const stop = (signal: NodeJS.Signals = 'SIGKILL') => {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    return exited;
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited ${child.exitCode}: ${output}`);
    const ok = await http.request('GET', readyPath).then((r) => r.status === 200, () => false);
    if (ok) return { child, url, http, stderr: () => stderr, output: () => output, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`server did not start: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
