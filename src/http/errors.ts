// The one place where errors become HTTP replies: a domain error's code picks
// the status; anything unknown is logged and answered as a bare 500.
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { BrokenCircuitError, TaskCancelledError } from 'cockatiel';
import { DomainError, type ErrorCode } from '../domain/errors.ts';

export const STATUS_BY_CODE: Record<ErrorCode, number> = {
  validation_failed: 400,
  malformed_json: 400,
  weak_password: 400,
  cannot_follow_self: 400,
  invalid_avatar_url: 400,
  unauthorized: 401,
  invalid_credentials: 401,
  // signed in, but the current password given to change it is wrong: not a reason to sign out
  wrong_password: 403,
  insufficient_funds: 402,
  cannot_gift_own_room: 403,
  gift_not_found: 404,
  forbidden: 403,
  not_found: 404,
  user_not_found: 404,
  username_taken: 409,
  idempotency_conflict: 409,
  conflict: 409,
  muted: 403,
  banned: 403,
  followers_only: 403,
  slow_mode: 429,
  message_not_found: 404,
  room_not_found: 404,
  room_exists: 409,
  invalid_cover_url: 400,
  lottery_not_found: 404,
  lottery_open: 409,
  lottery_closed: 409,
  wrong_entry_method: 409,
  cannot_enter_own_lottery: 403,
  payload_too_large: 413,
  file_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  unavailable: 503,
  overloaded: 503,
};

export interface ErrorBody {
  error: { code: ErrorCode | 'internal_error'; message: string; details?: Record<string, unknown> };
}

/** Postgres/ioredis errors that mean "the dependency is not there", not "the request is bad". */
function isDependencyDown(e: unknown): boolean {
  // Drizzle wraps driver errors (DrizzleQueryError) with the original as `cause`: look down the chain.
  for (let err = e as { code?: unknown; cause?: unknown; message?: unknown } | null, depth = 0; err && depth < 4; err = err.cause as typeof err, depth++) {
    if (err instanceof BrokenCircuitError || err instanceof TaskCancelledError) return true;
    if (typeof err.code === 'string' && DEPENDENCY_DOWN_CODES.has(err.code)) return true;
    if (typeof err.message === 'string' && DEPENDENCY_DOWN_MESSAGE.test(err.message)) return true;
  }
  return false;
}
const DEPENDENCY_DOWN_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P03', '08006', '08001', '08003']);
const DEPENDENCY_DOWN_MESSAGE =
  /Connection terminated|timeout exceeded when trying to connect|Query read timeout|Stream isn't writeable|Connection is closed|Command timed out/i;

/** Body-parser and multer raise their own errors; give them our codes. */
function fromFrameworkError(e: unknown): DomainError | undefined {
  const err = e as { type?: string; status?: number; code?: string; message?: string } | null;
  if (err?.type === 'entity.parse.failed') return new DomainError('malformed_json', 'the request body is not valid JSON');
  if (err?.type === 'entity.too.large') return new DomainError('payload_too_large', 'the request body is too large');
  if (err?.type === 'encoding.unsupported' || err?.type === 'charset.unsupported')
    return new DomainError('unsupported_media_type', 'unsupported body encoding');
  if (err?.code === 'LIMIT_FILE_SIZE') return new DomainError('file_too_large', 'the file is too large');
  if (typeof err?.code === 'string' && err.code.startsWith('LIMIT_'))
    return new DomainError('validation_failed', `upload refused: ${err.message ?? err.code}`);
  if (err?.status === 400 && /Multipart|Boundary/i.test(err.message ?? ''))
    return new DomainError('validation_failed', 'malformed multipart body');
  // The router's "Failed to decode param" (a path like /users/%E0%A4%A).
  if (e instanceof URIError) return new DomainError('validation_failed', 'the path is not valid URL encoding');
  // Any other client error body-parser/raw-body raise (a Content-Encoding body that does not inflate, a
  // body shorter than its Content-Length, ...): the request is bad, not the server.
  if (err?.status === 400 && (typeof err.type === 'string' || (err as { expose?: unknown }).expose === true))
    return new DomainError('validation_failed', 'the request body could not be read');
  return undefined;
}

export function toDomainError(e: unknown): DomainError | undefined {
  if (e instanceof DomainError) return e;
  const framework = fromFrameworkError(e);
  if (framework) return framework;
  if (isDependencyDown(e)) return new DomainError('unavailable', 'a dependency is unavailable; try again shortly');
  return undefined;
}

export function sendError(res: Parameters<RequestHandler>[1], err: DomainError): void {
  const status = STATUS_BY_CODE[err.code];
  if (status === 503 || status === 429) res.setHeader('Retry-After', String(err.details?.retryAfterSec ?? 1));
  const body: ErrorBody = { error: { code: err.code, message: err.message } };
  const { retryAfterSec: _ignored, ...details } = err.details ?? {};
  if (Object.keys(details).length > 0) body.error.details = details;
  res.status(status).json(body);
}

export const notFoundHandler: RequestHandler = (_req, res) => {
  sendError(res, new DomainError('not_found', 'no such endpoint'));
};

export const errorHandler: ErrorRequestHandler = (e, req, res, _next) => {
  const known = toDomainError(e);
  if (res.headersSent) return void res.end();
  if (known) {
    if (known.code === 'unavailable') req.log?.warn({ err: e }, 'dependency unavailable');
    return sendError(res, known);
  }
  req.log?.error({ err: e }, 'unhandled error');
  const body: ErrorBody = { error: { code: 'internal_error', message: 'internal error' } };
  res.status(500).json(body);
};
