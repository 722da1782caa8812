// Text that looks like nothing, or like other text: every free-text field is
// tested with this one list (test/text.test.ts).

/** Each is refused in every stored text field. `name` says what it hides. */
export const INVISIBLE_SAMPLES: { name: string; text: string }[] = [
  { name: 'U+061C arabic letter mark', text: 'ab\u061ccd' },
  { name: 'U+2060 word joiner (rt_al⁠ice looks like rt_alice)', text: 'rt_al\u2060ice' },
  { name: 'U+2061 function application', text: 'ab\u2061cd' },
  { name: 'U+2062 invisible times', text: 'ab\u2062cd' },
  { name: 'U+2063 invisible separator', text: 'ab\u2063cd' },
  { name: 'U+2064 invisible plus', text: 'ab\u2064cd' },
  { name: 'U+180E mongolian vowel separator', text: 'ab\u180ecd' },
  { name: 'U+3164 hangul filler alone (a blank name)', text: '\u3164' },
  { name: 'U+3164 hangul filler inside', text: 'ab\u3164cd' },
  { name: 'U+115F hangul choseong filler', text: 'ab\u115fcd' },
  { name: 'U+1160 hangul jungseong filler', text: 'ab\u1160cd' },
  { name: 'U+FFA0 halfwidth hangul filler', text: 'ab\uffa0cd' },
  { name: 'U+2800 braille blank', text: '\u2800' },
  { name: 'U+2028 line separator', text: 'ab\u2028cd' },
  { name: 'U+2029 paragraph separator', text: 'ab\u2029cd' },
  { name: 'U+00AD soft hyphen', text: 'ab\u00adcd' },
  { name: 'tag characters outside an emoji', text: 'ab\u{e0061}\u{e0062}cd' },
  { name: 'U+E0001 language tag', text: 'ab\u{e0001}cd' },
  { name: 'U+202E right-to-left override', text: 'ab\u202ecd' },
  { name: 'U+2067 right-to-left isolate', text: 'ab\u2067cd' },
  { name: 'U+200B zero width space', text: 'ab\u200bcd' },
  { name: 'U+200D zero width joiner between letters', text: 'ab\u200dcd' },
  { name: 'U+200D zero width joiner after an emoji', text: '👍\u200d' },
  { name: 'U+FEFF byte order mark', text: 'ab\ufeffcd' },
  { name: 'U+FE0F variation selector after a letter', text: 'ab\ufe0fcd' },
  { name: 'U+034F combining grapheme joiner', text: 'ab\u034fcd' },
  { name: 'U+0085 next line (C1 control)', text: 'ab\u0085cd' },
];

/** Emoji sequences that need ZWJ, variation selectors or tags, and an ideographic variation: all accepted. */
export const VISIBLE_SAMPLES: { name: string; text: string }[] = [
  { name: 'ZWJ family', text: 'hi 👨‍👩‍👧' },
  { name: 'heart on fire (VS16 + ZWJ)', text: '❤️‍🔥 yes' },
  { name: 'keycap', text: '1️⃣ first' },
  { name: 'flag of Scotland (tags)', text: 'go 🏴󠁧󠁢󠁳󠁣󠁴󠁿' },
  { name: 'skin tone', text: '👍🏽 ok' },
  { name: 'ideographic variation selector', text: '葛\u{e0100}飾' },
];
