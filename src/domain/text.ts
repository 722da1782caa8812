// Plain-text rules shared by the HTTP schemas and chat: NFC, trimmed, no
// control characters, no invisible or formatting characters, length counted
// in code points. Every free-text field a user can store (nickname, room
// title and description, chat, lottery prize and keyword, grant note) goes
// through textFault().

// C0/C1 controls: never in names or chat (descriptions may keep line breaks and tabs).
// Nor lone surrogates (JSON lets a client send "\ud800"): no such text can be
// stored as UTF-8, so the database would keep something else than the room showed.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const CONTROL_BUT_LINES = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

// Characters that show nothing, or change how the text around them shows: a nickname `rt_al\u2060ice`
// looks exactly like `rt_alice`, U+3164 makes a blank name, U+202E reverses what follows.
// - Cf, the format characters: bidi marks and overrides (U+061C, U+200E/F, U+202A–E, U+2066–9), zero
//   widths (U+200B–D, U+2060–4, U+FEFF), soft hyphen, U+180E, tag characters (U+E0001, U+E0020–7F), ...
// - Default_Ignorable_Code_Point: the above plus the Hangul fillers (U+115F, U+1160, U+3164, U+FFA0),
//   variation selectors (U+FE00–F, U+E0100–EF), U+034F, U+17B4/5, reserved ignorables.
// - Line and paragraph separators (U+2028/9: a line break JSON and chat do not expect) and the
//   braille blank U+2800 (a "blank" name that trim() keeps).
const INVISIBLE = /[\p{Cf}\p{Default_Ignorable_Code_Point}\u2028\u2029\u2800]/u;
// Emoji sequences need some of them: ZWJ (👨‍👩‍👧), VS16 (❤️), tags (🏴󠁧󠁢󠁳󠁣󠁴󠁿). Those are allowed exactly
// inside a recommended (RGI) emoji sequence, so a ZWJ or a selector anywhere else is refused. (Built
// with RegExp: the `v` flag is ES2024, newer than the type checker's target; Node 24 has it.)
const RGI_EMOJI = new RegExp('\\p{RGI_Emoji}', 'gv');
// Ideographic variation selectors pick a glyph of the ideograph before them (Japanese names); nowhere else.
const IDEOGRAPHIC_VARIATION = /(?<=\p{Ideographic})[\u{E0100}-\u{E01EF}]/gu;

const hex = (c: string) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * Why `s` (already normalised) cannot be stored as user text, or undefined
 * if it can. `lineBreaks`: tabs and line feeds are allowed (descriptions).
 */
export function textFault(s: string, opts: { lineBreaks?: boolean } = {}): string | undefined {
  if ((opts.lineBreaks ? CONTROL_BUT_LINES : CONTROL).test(s)) return 'must not contain control characters';
  const bad = INVISIBLE.exec(s.replace(RGI_EMOJI, '').replace(IDEOGRAPHIC_VARIATION, ''));
  if (bad) return `must not contain invisible or formatting characters (${hex(bad[0])})`;
  return undefined;
}

export const normalizeText = (s: string): string => s.normalize('NFC').trim();
export const codePoints = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};
