// HTTP fuzzing from the OpenAPI document: for every operation, requests built
// from its schemas (fast-check arbitraries) and then mutated the way a
// hostile or broken client would — wrong types, missing and extra fields,
// huge and odd strings, broken JSON, wrong content types, invalid UTF-8, bad
// path ids and queries, bad or foreign tokens. Used by test/http-fuzz.test.ts
// (bounded) and loadtest/http-fuzz.ts (20,000 requests and more).
import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { startTestApp, type TestApp } from './app.ts';
import { adminToken, createRoom } from './wallet.ts';

type Schema = Record<string, any>;

export interface Operation {
  method: string;
  /** OpenAPI path, e.g. /api/rooms/{id} */
  path: string;
  params: { name: string; in: 'path' | 'query' | 'header'; required: boolean; schema: Schema }[];
  body?: { type: 'json' | 'multipart'; schema: Schema };
  auth: boolean;
}

export interface Fixtures {
  /** Valid ids for path parameters, by the operation's path (a user, a room, a lottery, ...). */
  ids: string[];
  userToken: string;
  adminToken: string;
}

export interface FuzzRequest {
  op: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string | Uint8Array<ArrayBuffer> | FormData;
  /** What was done to it (for the report of a failure). */
  mutation: string;
}

export function operations(doc: Schema): Operation[] {
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries<Schema>(doc.paths)) {
    for (const [method, op] of Object.entries<Schema>(item)) {
      const content = op.requestBody?.content ?? {};
      const json = content['application/json']?.schema;
      const multipart = content['multipart/form-data']?.schema;
      ops.push({
        method: method.toUpperCase(),
        path,
        params: (op.parameters ?? []).map((p: Schema) => ({ name: p.name, in: p.in, required: Boolean(p.required), schema: resolve(doc, p.schema ?? {}) })),
        body: json ? { type: 'json', schema: json } : multipart ? { type: 'multipart', schema: multipart } : undefined,
        auth: Array.isArray(op.security) && op.security.length > 0,
      });
    }
  }
  return ops;
}

function resolve(doc: Schema, s: Schema): Schema {
  if (typeof s?.$ref !== 'string') return s;
  const parts = s.$ref.replace(/^#\//, '').split('/');
  let out: any = doc;
  for (const p of parts) out = out?.[p];
  return resolve(doc, out ?? {});
}

/** A value valid for the schema (as far as JSON Schema says; refinements in code may still refuse it). */
export function valid(doc: Schema, schema: Schema, depth = 0): fc.Arbitrary<unknown> {
  const s = resolve(doc, schema);
  if (s.enum) return fc.constantFrom(...(s.enum as unknown[]));
  if (s.const !== undefined) return fc.constant(s.const);
  const alts = s.anyOf ?? s.oneOf;
  if (alts) return fc.oneof(...(alts as Schema[]).map((a) => valid(doc, a, depth + 1)));
  const type = Array.isArray(s.type) ? s.type : [s.type];
  if (type.length > 1) return fc.oneof(...type.map((t: string) => valid(doc, { ...s, type: t }, depth + 1)));
  switch (type[0]) {
    case 'string':
      if (s.pattern) return fc.stringMatching(new RegExp(s.pattern));
      return fc.string({ minLength: s.minLength ?? 0, maxLength: Math.min(s.maxLength ?? 40, 200), unit: 'grapheme' });
    case 'integer':
      return fc.integer({ min: s.minimum ?? -1000, max: s.maximum ?? 1_000_000 });
    case 'number':
      return fc.double({ min: s.minimum ?? -1e6, max: s.maximum ?? 1e6, noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return depth > 4 ? fc.constant([]) : fc.array(valid(doc, s.items ?? {}, depth + 1), { maxLength: Math.min(s.maxItems ?? 4, 4) });
    case 'object': {
      const props = Object.fromEntries(Object.entries<Schema>(s.properties ?? {}).map(([k, v]) => [k, valid(doc, v, depth + 1)]));
      return fc.record(props, { requiredKeys: (s.required as string[]) ?? [] });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

const ODD_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\uD800', // a lone surrogate
  '\u202Eevil',
  'rt_al\u2060ice',
  '\u3164',
  '<script>alert(1)</script>',
  "' OR '1'='1",
  '../../../../etc/passwd',
  '%00',
  '%',
  '${jndi:ldap://x}',
  '🎉'.repeat(3000),
  'x'.repeat(70_000), // past BODY_LIMIT_BYTES
  '\n\r\t',
  '-1',
  '1e309',
  'NaN',
  'null',
  'undefined',
  '__proto__',
  'constructor',
];
const ODD_NUMBERS = [-1, 0, -0, 1.5, 2 ** 53 + 1, 2 ** 64, -(2 ** 63), 1e308, Number.MAX_SAFE_INTEGER];
const oddValue = fc.oneof(
  fc.constantFrom<unknown>(...ODD_STRINGS, ...ODD_NUMBERS, true, false, null, [], {}, [[[[[]]]]], { __proto__: { admin: true } }, { constructor: { prototype: {} } }),
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ unit: 'binary', maxLength: 50 }),
);

const ODD_IDS = ['0', 'nope', '%00', '..%2F..%2Fsecrets.json', '%E0%A4%A', 'x'.repeat(5000), encodeURIComponent("' OR 1=1--"), '%F0%9F%8E%89', '__proto__', '-1', '1e9'];

function mutateObject(doc: Schema, schema: Schema): fc.Arbitrary<{ value: unknown; mutation: string }> {
  const s = resolve(doc, schema);
  const keys = Object.keys(s.properties ?? {});
  const base = valid(doc, s) as fc.Arbitrary<Record<string, unknown>>;
  const arbs: fc.Arbitrary<{ value: unknown; mutation: string }>[] = [
    oddValue.map((value) => ({ value, mutation: 'body replaced by an odd value' })),
    fc.tuple(base, fc.string({ maxLength: 12 }), oddValue).map(([v, k, x]) => ({ value: { ...v, [k || 'extra']: x }, mutation: `extra field ${JSON.stringify(k)}` })),
  ];
  if (keys.length > 0) {
    arbs.push(
      fc.tuple(base, fc.constantFrom(...keys), oddValue).map(([v, k, x]) => ({ value: { ...v, [k]: x }, mutation: `field ${k} set to an odd value` })),
      fc.tuple(base, fc.constantFrom(...keys)).map(([v, k]) => {
        const copy = { ...v };
        delete copy[k];
        return { value: copy, mutation: `field ${k} removed` };
      }),
    );
  }
  return fc.oneof(...arbs);
}

/** A token signed with another key: well-formed, never valid here. */
export async function foreignToken(sub: string): Promise<string> {
  return new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setJti('fuzz').setIssuedAt().setExpirationTime('1h').sign(new TextEncoder().encode('another-secret-another-secret-another-secret'));
}

export function requestArbitrary(doc: Schema, op: Operation, fx: Fixtures & { foreign: string }): fc.Arbitrary<FuzzRequest> {
  const name = `${op.method} ${op.path}`;
  const auth = fc.oneof(
    { weight: 6, arbitrary: fc.constant(`Bearer ${fx.userToken}`) },
    { weight: 3, arbitrary: fc.constant(`Bearer ${fx.adminToken}`) },
    { weight: 1, arbitrary: fc.constantFrom('', 'Bearer', 'Bearer x', `Bearer ${fx.foreign}`, 'Basic YWxpY2U6cHc=', `Bearer ${'a'.repeat(9000)}`, `Bearer ${fx.userToken}x`) },
  );
  const pathValue = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...fx.ids) }, { weight: 1, arbitrary: fc.constantFrom(...ODD_IDS) }, { weight: 1, arbitrary: fc.string({ maxLength: 30 }).map(encodeURIComponent) });
  const paramValue = (p: Operation['params'][number]) =>
    fc.oneof({ weight: 3, arbitrary: valid(doc, p.schema).map(String) }, { weight: 1, arbitrary: oddValue.map((v) => (typeof v === 'string' ? v : JSON.stringify(v) ?? '')) });
  const query = fc.record(
    Object.fromEntries(op.params.filter((p) => p.in === 'query').map((p) => [p.name, paramValue(p)])),
    { requiredKeys: [] },
  );
  const headers = fc.record(
    Object.fromEntries(op.params.filter((p) => p.in === 'header').map((p) => [p.name, paramValue(p).map((v) => v.replace(/[^\t\x20-\x7e]/g, '?').slice(0, 8000))])),
    { requiredKeys: [] },
  );
  const body = bodyArbitrary(doc, op);
  return fc.record({ id: pathValue, query, headers, auth, body, dupQuery: fc.boolean() }).map(({ id, query, headers, auth, body, dupQuery }) => {
    const path = op.path.replace(/\{[^}]+\}/g, id);
    const qs = new URLSearchParams(Object.entries(query) as [string, string][]);
    if (dupQuery && [...qs.keys()].length > 0) qs.append([...qs.keys()][0]!, '2');
    const h = { ...headers, ...body.headers } as Record<string, string>;
    if (auth) h.authorization = auth;
    return { op: name, method: op.method, url: `${path}${qs.size ? `?${qs}` : ''}`, headers: h, body: body.body, mutation: body.mutation };
  });
}

function bodyArbitrary(doc: Schema, op: Operation): fc.Arbitrary<{ body?: FuzzRequest['body']; headers: Record<string, string>; mutation: string }> {
  const json = (value: unknown, mutation: string, type = 'application/json') => ({ body: JSON.stringify(value), headers: { 'content-type': type }, mutation });
  const broken = fc.constantFrom(
    { body: '{', headers: { 'content-type': 'application/json' }, mutation: 'truncated JSON' },
    { body: '{"a":1,}', headers: { 'content-type': 'application/json' }, mutation: 'invalid JSON' },
    { body: '[' .repeat(5000) + ']'.repeat(5000), headers: { 'content-type': 'application/json' }, mutation: 'deeply nested JSON' },
    { body: Uint8Array.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), headers: { 'content-type': 'application/json' }, mutation: 'invalid UTF-8 in JSON' },
    { body: 'a=1&b=2', headers: { 'content-type': 'application/x-www-form-urlencoded' }, mutation: 'form-encoded body' },
    { body: '{"a":1}', headers: { 'content-type': 'text/plain' }, mutation: 'JSON as text/plain' },
    { body: '{"a":1}', headers: { 'content-type': 'application/json; charset=utf-16' }, mutation: 'unsupported charset' },
    { body: undefined, headers: { 'content-type': 'application/json' }, mutation: 'JSON content type, no body' },
    { body: JSON.stringify({ x: 'y'.repeat(100_000) }), headers: { 'content-type': 'application/json' }, mutation: 'body past the size limit' },
  );
  if (!op.body) return fc.oneof({ weight: 4, arbitrary: fc.constant({ headers: {}, mutation: 'none' }) }, { weight: 1, arbitrary: broken });
  if (op.body.type === 'multipart') {
    return fc
      .tuple(fc.constantFrom('avatar', 'cover', 'nope', ''), fc.uint8Array({ maxLength: 2000 }).map((b) => new Uint8Array(b)), fc.constantFrom('file', 'other'), fc.constantFrom('image/png', 'text/plain', ''))
      .map(([kind, bytes, field, type]) => {
        const form = new FormData();
        form.set('kind', kind);
        form.set(field, new Blob([bytes], { type }), 'x.png');
        return { body: form, headers: {}, mutation: `multipart kind=${kind} ${field} of ${bytes.length} random bytes` };
      });
  }
  const schema = op.body.schema;
  return fc.oneof(
    { weight: 3, arbitrary: valid(doc, schema).map((v) => json(v, 'valid by schema')) },
    { weight: 4, arbitrary: mutateObject(doc, schema).map(({ value, mutation }) => json(value, mutation)) },
    { weight: 2, arbitrary: broken },
  );
}

/** Why a reply breaks the contract, or null. */
export function violation(status: number, contentType: string, text: string): string | null {
  if (status >= 500) return `status ${status}`;
  if (status < 400) return null;
  if (!contentType.includes('application/json')) return `${status} with content type ${contentType || 'none'}`;
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    return `${status} with a body that is not JSON`;
  }
  const keys = Object.keys(body ?? {});
  if (keys.length !== 1 || keys[0] !== 'error') return `${status} body keys ${keys.join(',')}`;
  if (typeof body.error?.code !== 'string' || typeof body.error?.message !== 'string') return `${status} error without code and message`;
  if (/\bat .+\(.+:\d+:\d+\)/.test(text)) return `${status} with a stack trace`;
  return null;
}

export async function send(base: string, r: FuzzRequest): Promise<{ status: number; contentType: string; text: string }> {
  const res = await fetch(base + r.url, { method: r.method, headers: r.headers, body: r.method === 'GET' ? undefined : r.body });
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', text: await res.text() };
}

export interface FuzzReport {
  seed: number;
  requests: number;
  operations: number;
  byStatus: Record<number, number>;
  /** Replies that break the contract (5xx, a 4xx without the error body). */
  violations: { request: FuzzRequest; status: number; why: string; text: string }[];
  /** Refused requests (4xx) after which the database was not as before. */
  written: { request: FuzzRequest; status: number }[];
  /** Requests after which the database changed (accepted ones): shows the digest sees writes at all. */
  changed: number;
  ms: number;
}

/**
 * Sends `perOperation` requests for every operation, one at a time (so a
 * database digest before and after tells what each one wrote). The same seed
 * gives the same requests.
 */
export async function runFuzz(opts: {
  base: string;
  doc: Schema;
  fixtures: Fixtures;
  perOperation: number;
  seed: number;
  digest?: () => Promise<string>;
  skip?: (op: Operation) => boolean;
}): Promise<FuzzReport> {
  const foreign = await foreignToken('fuzz');
  const ops = operations(opts.doc).filter((o) => !opts.skip?.(o));
  const batches = ops.map((op, i) => fc.sample(requestArbitrary(opts.doc, op, { ...opts.fixtures, foreign }), { numRuns: opts.perOperation, seed: opts.seed + i }));
  const report: FuzzReport = { seed: opts.seed, requests: 0, operations: ops.length, byStatus: {}, violations: [], written: [], changed: 0, ms: 0 };
  const t0 = performance.now();
  let before = await opts.digest?.();
  // Interleaved: operation after operation, so the state one leaves (an ended room, a rotated key) meets the others.
  for (let n = 0; n < opts.perOperation; n++) {
    for (const batch of batches) {
      const request = batch[n]!;
      const reply = await send(opts.base, request);
      report.requests++;
      report.byStatus[reply.status] = (report.byStatus[reply.status] ?? 0) + 1;
      const why = violation(reply.status, reply.contentType, reply.text);
      if (why) report.violations.push({ request, status: reply.status, why, text: reply.text.slice(0, 500) });
      if (opts.digest) {
        const after = await opts.digest();
        if (after !== before) report.changed++;
        if (reply.status >= 400 && after !== before) report.written.push({ request, status: reply.status });
        before = after;
      }
    }
  }
  report.ms = performance.now() - t0;
  return report;
}

/** A request as a line a person can replay with curl. */
export function describeRequest(r: FuzzRequest): string {
  const body = typeof r.body === 'string' ? r.body.slice(0, 200) : r.body instanceof Uint8Array ? `<${r.body.length} bytes>` : r.body ? '<multipart>' : '';
  return `${r.method} ${r.url.slice(0, 200)} [${r.mutation}] ${JSON.stringify({ ...r.headers, authorization: r.headers.authorization ? '<set>' : undefined })} ${body}`;
}

const ADMIN = { username: 'fuzz_admin', password: 'a long admin passphrase' };

/**
 * Counts every committed write to any table (a rolled-back one undoes its
 * count too): a trigger per table bumps one counter. Reading the counter is
 * one cheap query, so it can be read after every request. Refused logins are
 * recorded by design (`auth.login_failed`) and are not counted.
 */
async function countWrites(app: TestApp): Promise<() => Promise<string>> {
  const db = app.database.db;
  const statements = [
    'create table fuzz_writes (n bigint not null)',
    'insert into fuzz_writes values (0)',
    'create function fuzz_count() returns trigger language plpgsql as $$ begin update fuzz_writes set n = n + 1; return null; end $$',
    `do $$ declare t text; begin
      for t in select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' and table_name not in ('fuzz_writes', 'audit_log') loop
        execute format('create trigger fuzz_count after insert or update or delete on %I for each statement execute function fuzz_count()', t);
      end loop;
    end $$`,
    "create trigger fuzz_count after insert on audit_log for each row when (new.action <> 'auth.login_failed') execute function fuzz_count()",
  ];
  for (const s of statements) await db.execute(sql.raw(s));
  return async () => {
    const r = (await db.execute(sql`select n::text as n from fuzz_writes`)) as unknown as { rows: { n: string }[] };
    return r.rows[0]!.n;
  };
}


export interface FuzzTarget {
  app: TestApp;
  base: string;
  doc: Schema;
  fixtures: Fixtures;
  digest: () => Promise<string>;
  skip: (op: Operation) => boolean;
}

/** A server (PGlite, http role only: no job runner writing between requests) with fixtures to aim at. */
export async function startFuzzTarget(): Promise<FuzzTarget> {
  const app = await startTestApp('pglite', {
    ROLES: 'http',
    ADMIN_USERNAME: ADMIN.username,
    ADMIN_PASSWORD: ADMIN.password,
    SIGNUP_BONUS: '1000',
    // Limits high enough that requests reach the handlers instead of meeting a 429.
    RATE_LIMIT_IP_PER_MIN: '100000000',
    RATE_LIMIT_USER_PER_MIN: '100000000',
    REGISTER_PER_IP_PER_HOUR: '100000000',
    LOGIN_FAILS_PER_IP_PER_HOUR: '100000000',
    LOGIN_FAILS_PER_USER: '100000000',
    LOGIN_FAILS_PER_ACCOUNT: '100000000',
  });
  const streamer = await app.http.register('fuzz_streamer');
  const other = await app.http.register('fuzz_other');
  const room = await createRoom(app, streamer);
  const lottery = await app.http.request('POST', `/api/rooms/${room}/lotteries`, { token: streamer.token, json: { prize: 'a mug', winners: 1, method: 'click', durationSec: 86400 } });
  if (lottery.status !== 201) throw new Error(`lottery: ${lottery.status} ${JSON.stringify(lottery.body)}`);
  const digest = await countWrites(app);
  return {
    app,
    base: app.url,
    doc: (await app.http.request('GET', '/api/openapi.json')).body,
    fixtures: { ids: [streamer.id, other.id, room, lottery.body.lottery.id], userToken: streamer.token, adminToken: await adminToken(app, ADMIN) },
    digest,
    // Logging out with the fixture token would leave the rest of the run unauthenticated.
    skip: (op) => op.path === '/api/auth/logout',
  };
}
