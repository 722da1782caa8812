// Turns any failure into a sentence for the user: the server's error code when
// there is a translation for it, else its message.
import { LiveroomError } from '../../src/client/index.ts';
import { hasKey, t } from './i18n.ts';

export function errorText(e: unknown): string {
  if (e instanceof LiveroomError) return codeText(e.code, e.message);
  if (e instanceof TypeError) return t('error.network'); // fetch() failed: no connection
  return e instanceof Error ? e.message : String(e);
}

export function codeText(code: string, message: string): string {
  const key = `error.${code}`;
  return hasKey(key) ? t(key, { message }) : message;
}
