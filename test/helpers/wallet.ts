// Wallet and gift helpers for tests: rooms to gift in, balances, and the
// ledger check, all through the public API the way a client does.
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import type { HttpClient, TestApp } from './app.ts';

/** A room owned by `streamer`; returns its id. */
export async function createRoom(app: TestApp, streamer: { id: string; token: string }): Promise<string> {
  return createRoomVia(app.http, streamer);
}

export async function createRoomVia(http: HttpClient, streamer: { id: string; token: string }): Promise<string> {
  const r = await http.request('POST', '/api/rooms', { token: streamer.token, json: { title: 'Gift test room' } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.room.id;
}

export async function balanceOf(app: TestApp, token: string): Promise<{ balance: number; earnings: number }> {
  const r = await app.http.request('GET', '/api/wallet', { token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

/** The platform's revenue (sum of its balance slots), read from the database. */
export async function platformBalance(app: TestApp): Promise<number> {
  const r = (await app.database.db.execute(sql`select coalesce(sum(balance), 0)::text as b from accounts where id = 'platform'`)) as unknown as {
    rows: { b: string }[];
  };
  return Number(r.rows[0]!.b);
}

export async function ledgerOk(app: TestApp, adminToken: string) {
  const r = await app.http.request('GET', '/api/admin/ledger/check', { token: adminToken });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.violations, []);
  assert.equal(r.body.ok, true);
  assert.equal(r.body.total, 0);
  return r.body as { issued: number; transfers: number; entries: number; accounts: number };
}

export async function adminToken(app: TestApp, creds: { username: string; password: string }): Promise<string> {
  const login = await app.http.request('POST', '/api/auth/login', { json: creds });
  assert.equal(login.status, 200, JSON.stringify(login.body));
  return login.body.token;
}
