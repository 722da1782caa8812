// Domain errors carry a stable machine-readable code. Adapters map codes to
// their transport (HTTP status in http/errors.ts, an `error` message in rooms).
export const ERROR_CODES = [
  'validation_failed',
  'malformed_json',
  'payload_too_large',
  'overloaded',
  'unauthorized',
  'invalid_credentials',
  'wrong_password',
  'forbidden',
  'not_found',
  'user_not_found',
  'username_taken',
  'cannot_follow_self',
  'weak_password',
  'invalid_avatar_url',
  'file_too_large',
  'unsupported_media_type',
  'rate_limited',
  'unavailable',
  'idempotency_conflict',
  'insufficient_funds',
  'gift_not_found',
  'cannot_gift_own_room',
  'conflict',
  'muted',
  'banned',
  'slow_mode',
  'followers_only',
  'message_not_found',
  'room_not_found',
  'room_exists',
  'invalid_cover_url',
  'lottery_not_found',
  'lottery_open',
  'lottery_closed',
  'wrong_entry_method',
  'cannot_enter_own_lottery',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export class DomainError extends Error {
  readonly code: ErrorCode;
  readonly details?: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'DomainError';
    this.code = code;
    this.details = details;
  }
}

export const isDomainError = (e: unknown): e is DomainError => e instanceof DomainError;

/** Postgres unique_violation, as raised by node-postgres and PGlite alike. */
export function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; cause?: { code?: string } } | null;
  return err?.code === '23505' || err?.cause?.code === '23505';
}
