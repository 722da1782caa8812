// What every error reply must look like (docs/api.md "Conventions"): only
// `error`, a stable code, a message, and never a stack trace.
import assert from 'node:assert/strict';

export function assertErrorBody(body: any, code: string) {
  assert.deepEqual(Object.keys(body), ['error'], JSON.stringify(body));
  assert.equal(body.error.code, code, JSON.stringify(body));
  assert.equal(typeof body.error.message, 'string');
  assert.ok(!/\bat .+\(.+:\d+:\d+\)/.test(JSON.stringify(body)), 'no stack trace in a reply');
}
