// Starts a real Liveroom on a free port for a test and talks to it over HTTP
// the way a client does.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { startLiveroom, type Liveroom } from '../../src/server.ts';
import { openTestDatabase, type DbKind } from './db.ts';

export interface TestApp extends Liveroom {
  dataDir: string;
  /** PostgreSQL only: the test database's URL. */
  databaseUrl?: string;
  http: HttpClient;
}

export async function startTestApp(kind: DbKind, env: Record<string, string> = {}): Promise<TestApp> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'liveroom-test-'));
  const database = await openTestDatabase(kind);
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    JWT_SECRET: 'test-secret-test-secret-test-secret-0123',
    // Media (a child process with RTMP and HTTP ports) only where a test asks for it with ROLES; ports of its own per test.
    ROLES: 'http,rooms,jobs',
    RTMP_PORT: '0',
    MEDIA_HTTP_PORT: '0',
    ...env,
  });
  const live = await startLiveroom(config, { database, logger: createLogger(config.LOG_LEVEL) });
  // PUBLIC_URL must name the real port for URLs the server hands out (file URLs).
  if (!env.PUBLIC_URL) (live.config as { publicUrl: string }).publicUrl = live.url;
  const close = live.close;
  return {
    ...live,
    dataDir,
    databaseUrl: database.url,
    http: httpClient(live.url),
    async close() {
      await close();
      await database.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Reply<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export interface HttpClient {
  request<T = any>(method: string, path: string, opts?: { json?: unknown; token?: string; headers?: Record<string, string>; body?: BodyInit }): Promise<Reply<T>>;
  register(username: string, password?: string, nickname?: string): Promise<{ id: string; token: string; username: string }>;
}

export interface HttpClientOptions {
  /**
   * A request the load shedder refused (503 `overloaded`) did nothing, so the
   * client tries it again after its Retry-After, for up to this long, as a
   * well-behaved client does: a test on a busy machine is not failed by the
   * server protecting itself. 0 shows every 503 (the shedding tests).
   */
  retryShedForMs?: number;
}

export function httpClient(base: string, clientOpts: HttpClientOptions = {}): HttpClient {
  const retryShedForMs = clientOpts.retryShedForMs ?? 30_000;
  const request: HttpClient['request'] = async (method, path, opts = {}) => {
    const giveUpAt = Date.now() + retryShedForMs;
    for (;;) {
      const reply = await requestOnce(method, path, opts);
      if (reply.status !== 503 || reply.body?.error?.code !== 'overloaded' || Date.now() >= giveUpAt) return reply;
      const waitSec = Math.min(Number(reply.headers.get('retry-after')) || 1, 2);
      await new Promise((r) => setTimeout(r, waitSec * 1000));
    }
  };
  const requestOnce: HttpClient['request'] = async (method, path, opts = {}) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body = opts.body;
    if (opts.json !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = typeof opts.json === 'string' ? opts.json : JSON.stringify(opts.json);
    }
    const res = await fetch(base + path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text);
    return { status: res.status, headers: res.headers, body: parsed as any };
  };
  return {
    request,
    async register(username, password = 'a long enough passphrase', nickname) {
      const r = await request('POST', '/api/auth/register', { json: { username, password, nickname } });
      if (r.status !== 201) throw new Error(`register ${username}: ${r.status} ${JSON.stringify(r.body)}`);
      const l = await request('POST', '/api/auth/login', { json: { username, password } });
      if (l.status !== 200) throw new Error(`login ${username}: ${l.status} ${JSON.stringify(l.body)}`);
      return { id: l.body.user.id, token: l.body.token, username };
    },
  };
}

let counter = 0;
/** A username unique within the run (tests never share data). */
export const uniqueName = (prefix = 'u') => `${prefix}_${process.pid.toString(36)}_${(counter++).toString(36)}`;
