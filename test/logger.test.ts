// What the log keeps of an error (src/logger.ts): a failed query is logged
// with its text, never with its bound values (a password hash, a token id),
// whether the error comes straight, as another error's cause, or through
// pino-http's request line.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { DrizzleQueryError } from 'drizzle-orm/errors';
import { createLogger } from '../src/logger.ts';

const HASH = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: createLogger('info', 'test', stream), lines };
}

test('a failed query is logged with its text and without its parameters, also as a cause', () => {
  const { logger, lines } = capture();
  const failed = new DrizzleQueryError('insert into "users" ("id", "password_hash") values ($1, $2)', ['u1', HASH], new Error('duplicate key value violates unique constraint'));
  logger.error({ err: failed }, 'registration failed');
  logger.error({ err: new Error('the request failed', { cause: failed }) }, 'wrapped');
  assert.equal(lines.length, 2);
  for (const line of lines) {
    assert.ok(!line.includes(HASH), line);
    assert.ok(!line.includes('u1'), line);
    assert.match(line, /insert into \\"users\\"/, 'the query text stays');
    assert.match(line, /params: \[redacted\]/);
  }
  const first = JSON.parse(lines[0]!);
  assert.equal(first.err.params, '[redacted]');
  assert.match(first.err.stack, /Failed query: insert into/);
  assert.match(first.err.stack, /\n {4}at /, 'the stack itself stays');
});
