// PGlite is one process's database: two processes opening one data directory
// each keep their own copy in memory and overwrite each other's files, so
// writes acknowledged by one are lost. A lock file beside the data directory
// is held for the life of the process that opened it; a second process is
// refused at once. A lock left by a process that died (SIGKILL, power loss)
// is recognised by its pid no longer running, or running as another program
// (pid reuse, told apart by the process start time on Linux), and taken over.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';

export class DataDirInUseError extends Error {
  readonly pid: number;
  readonly lockPath: string;
  constructor(dataDir: string, lockPath: string, pid: number) {
    super(
      `the embedded database in ${dataDir} is in use by another Liveroom process (pid ${pid}). ` +
        'PGlite can be opened by one process at a time: stop that process first, ' +
        'or set DATABASE_URL to a PostgreSQL server, which any number of processes can share.',
    );
    this.name = 'DataDirInUseError';
    this.pid = pid;
    this.lockPath = lockPath;
  }
}

interface LockOwner {
  pid: number;
  host: string;
  /** Start time of the process in clock ticks since boot (Linux), to tell a reused pid apart. */
  startTicks: string | null;
}

export interface DataDirLock {
  readonly path: string;
  release(): void;
}

export function acquireDataDirLock(dataDir: string): DataDirLock {
  const lockPath = `${dataDir}.lock`;
  const me: LockOwner = { pid: process.pid, host: hostname(), startTicks: startTicksOf(process.pid) };
  // Two tries: the second after removing a stale lock.
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(lockPath, 'wx', 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = readOwner(lockPath);
      if (owner && isRunning(owner)) throw new DataDirInUseError(dataDir, lockPath, owner.pid);
      removeIfSame(lockPath, owner);
      continue;
    }
    try {
      writeSync(fd, JSON.stringify(me));
    } finally {
      closeSync(fd);
    }
    let released = false;
    const onExit = () => release();
    const release = () => {
      if (released) return;
      released = true;
      process.off('exit', onExit);
      // Only our own lock: never remove one another process took over.
      if (readOwner(lockPath)?.pid === me.pid) unlinkSync(lockPath);
    };
    // A normal exit without close() (an uncaught error) still frees the directory.
    process.on('exit', onExit);
    return { path: lockPath, release };
  }
  const owner = readOwner(lockPath);
  throw new DataDirInUseError(dataDir, lockPath, owner?.pid ?? -1);
}

function readOwner(lockPath: string): LockOwner | null {
  try {
    const parsed = JSON.parse(readFileSync(lockPath, 'utf8')) as Partial<LockOwner>;
    if (typeof parsed.pid !== 'number') return null;
    return { pid: parsed.pid, host: String(parsed.host ?? ''), startTicks: parsed.startTicks ?? null };
  } catch {
    // Missing (just released) or half-written by a process killed mid-write: not a live owner.
    return null;
  }
}

function isRunning(owner: LockOwner): boolean {
  // A lock written on another machine (a shared volume) cannot be checked: it counts as held.
  if (owner.host !== hostname()) return true;
  try {
    process.kill(owner.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const ticks = startTicksOf(owner.pid);
  return owner.startTicks === null || ticks === null || ticks === owner.startTicks;
}

function removeIfSame(lockPath: string, owner: LockOwner | null) {
  const now = readOwner(lockPath);
  if (now?.pid !== owner?.pid) return;
  try {
    unlinkSync(lockPath);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/** Field 22 of /proc/PID/stat; null where there is no /proc. */
function startTicksOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count from its closing one.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}
