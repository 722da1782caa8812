import { pino, type DestinationStream, type Logger } from 'pino';

/**
 * Anything shaped like a stream key (`lr_` + base64url, see domain/stream-keys.ts),
 * also inside other text (`live/<key>/<key>`, `x<key>`, `<key><key>`) or with
 * the prefix percent-encoded. 16 characters after the prefix: a key cut short
 * is still masked, while short names such as `lr_t_...` database names are not.
 */
const KEY_SHAPED = /lr(?:_|%5[Ff])(?:[A-Za-z0-9_-]|%[0-9A-Fa-f]{2}){16,}/g;

/** `text` with every key-shaped token replaced by `lr_***`. */
export function maskStreamKeys(text: string): string {
  return text.replace(KEY_SHAPED, 'lr_***');
}

/** Drizzle's query errors end their message with `params: <every bound value>`: a password hash, a token id, a stream-key hash. */
const PARAMS_TEXT = /\nparams: [\s\S]*?(?=\n {4}at |$)/g;
const REDACTED = '[redacted]';

const copy = (o: object): unknown => {
  try {
    return structuredClone(o);
  } catch {
    return { ...o };
  }
};

/**
 * pino's error serializer, with the bound values of a failed query taken out
 * (the `params` field and the `params:` line of the message and stack), down
 * the `cause` chain. The query text stays: it says what failed.
 */
export function serializeError(err: unknown): unknown {
  // pino-http hands over what pino's serializer already made of it (a plain object): scrub a copy of that
  const out: unknown = err instanceof Error ? pino.stdSerializers.err(err) : err && typeof err === 'object' ? copy(err) : err;
  const scrub = (e: unknown, depth: number): void => {
    if (!e || typeof e !== 'object' || depth > 5) return;
    const o = e as Record<string, unknown>;
    if ('params' in o) o.params = REDACTED;
    for (const k of ['message', 'stack'] as const) if (typeof o[k] === 'string') o[k] = (o[k] as string).replace(PARAMS_TEXT, `\nparams: ${REDACTED}`);
    scrub(o.cause, depth + 1);
  };
  scrub(out, 0);
  return out;
}

/**
 * Every line is masked as written: whatever a message, a field or an error text carries, a stream key never reaches the log;
 * errors are logged without the bound values of a failed query. `destination` is for tests (default stdout).
 */
export function createLogger(level: string, name = 'liveroom', destination?: DestinationStream): Logger {
  const options = { name, level, hooks: { streamWrite: maskStreamKeys }, serializers: { err: serializeError } };
  return destination ? pino(options, destination) : pino(options);
}

let masked = false;
/**
 * Masks stream keys in what the process writes to stdout and stderr outside
 * pino too (a dependency's console.log, a warning, a crash's stack).
 */
export function maskProcessOutput(): void {
  if (masked) return;
  masked = true;
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) =>
      write(typeof chunk === 'string' ? maskStreamKeys(chunk) : Buffer.isBuffer(chunk) ? maskStreamKeys(chunk.toString('utf8')) : chunk, ...rest)) as typeof stream.write;
  }
}
