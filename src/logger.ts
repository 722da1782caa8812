import { pino, type Logger } from 'pino';

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

/** Every line is masked as written: whatever a message, a field or an error text carries, a stream key never reaches the log. */
export function createLogger(level: string, name = 'liveroom'): Logger {
  return pino({ name, level, hooks: { streamWrite: maskStreamKeys } });
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
