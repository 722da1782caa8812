// How a danmaku lottery recognises its keyword in a chat line. Apart from the
// lotteries service (and its database) so that the live room checks a line with
// the very rule the entry is checked with, before it asks for an entry.
import { normalizeText } from './text.ts';

/** Keyword matching is on NFC text, case-insensitive: the keyword anywhere in the message. */
export const keywordMatches = (text: string, keyword: string) => normalizeText(text).toLowerCase().includes(normalizeText(keyword).toLowerCase());
