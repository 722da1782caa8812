import { pino, type Logger } from 'pino';

export function createLogger(level: string, name = 'liveroom'): Logger {
  return pino({ name, level });
}
