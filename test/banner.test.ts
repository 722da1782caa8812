// What `npm start` prints once it is up: the addresses a newcomer opens next,
// which must be the ones the server really answers on, also when PORT=0 lets
// the system pick the port.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT } from './helpers/server-process.ts';

test('with PORT=0 the banner names the port the server picked, and that URL answers', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'liveroom-banner-'));
  const child = spawn(process.execPath, [path.join(ROOT, 'src/main.ts'), '--port', '0', '--host', '127.0.0.1', '--roles', 'http'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: dataDir, LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d) => {
        out += d;
        const m = /Liveroom is running at (\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`server exited ${code} before its banner: ${out}`)));
    });
    assert.match(url, /^http:\/\/localhost:\d+$/);
    assert.notEqual(new URL(url).port, '0');
    const health = await fetch(`http://127.0.0.1:${new URL(url).port}/healthz`);
    assert.equal(health.status, 200);
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    await rm(dataDir, { recursive: true, force: true });
  }
});
