// Plain-text rules shared by the HTTP schemas and chat: NFC, trimmed, no
// control characters, length counted in code points.

// C0/C1 controls, bidi overrides and zero-width tricks: never in names or chat.
export const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/;

export const normalizeText = (s: string): string => s.normalize('NFC').trim();
export const codePoints = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};
