// Plain-text rules shared by the HTTP schemas and chat: NFC, trimmed, no
// control characters, length counted in code points.

// C0/C1 controls, bidi overrides and zero-width tricks: never in names or chat.
// Nor lone surrogates (JSON lets a client send "\ud800"): no such text can be
// stored as UTF-8, so the database would keep something else than the room showed.
export const CONTROL =
  /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export const normalizeText = (s: string): string => s.normalize('NFC').trim();
export const codePoints = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};
