// Helpers for live-room tests: SDK clients for registered users and waiting
// for a condition on the room state or a broadcast (never fixed sleeps).
import { LiveroomClient, type LiveRoomConnection, type LiveRoomEvents } from '../../src/client/index.ts';
import type { TestApp } from './app.ts';
import { uniqueName } from './app.ts';

export interface TestUser {
  id: string;
  username: string;
  token: string;
  client: LiveroomClient;
}

export async function newUser(app: { url: string; http: TestApp['http'] }, prefix = 'u'): Promise<TestUser> {
  const r = await app.http.register(uniqueName(prefix));
  return { ...r, client: new LiveroomClient({ baseUrl: app.url, token: r.token }) };
}

export const anonymous = (app: { url: string }) => new LiveroomClient({ baseUrl: app.url });

/** Resolves when `cond()` holds, checking after every patch (and now); rejects after `ms`. */
export function until(conn: LiveRoomConnection, cond: () => boolean, what = 'condition', ms = 20_000): Promise<void> {
  if (cond()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for ${what}`));
    }, ms);
    const off = conn.onStateChange(() => {
      if (!cond()) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

/** The next broadcast of `type` (optionally matching `match`). */
export function next<K extends keyof LiveRoomEvents>(conn: LiveRoomConnection, type: K, match: (p: LiveRoomEvents[K]) => boolean = () => true, ms = 20_000): Promise<LiveRoomEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for ${String(type)}`));
    }, ms);
    const off = conn.on(type, (p) => {
      if (!match(p)) return;
      clearTimeout(timer);
      off();
      resolve(p);
    });
  });
}

export const texts = (conn: LiveRoomConnection) => conn.state.chat.map((l) => l.text);
