/**
 * Text folding shared by indexing and matching, so that "Kata'ib", "KATA’IB"
 * and "Kataib" meet: accents, apostrophes and case are dropped and every
 * other run of non-letters becomes one space. Different transliterations of
 * one name ("Hizbollah", "Hezbollah") are not guessed here: the actor
 * dictionary (data/actors.json) lists the ones the sources use. On top of
 * it, the word search of `q=`: whole folded words, a trailing `*` for a
 * prefix, and "quoted phrases" in order. And `safeText`, which every export
 * applies to stored text on the way out.
 */

/** Folds `text` to lower-case letters and digits separated by single spaces. */
export function foldText(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/['’‘`ʼ]/g, '')
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

/**
 * One required term of a search: folded words that must stand next to each
 * other in this order, the last of them possibly only a prefix. A plain word
 * is a term of one word; a hyphenated one (`Q-West`) or a quoted phrase is a
 * term of several.
 */
export interface SearchTerm {
  words: string[];
  /** The last word may be the start of a longer word (`sakh*`). */
  prefix: boolean;
}

/** Splits a `q=` value into its terms: "quoted phrases" and bare words, each optionally ending in `*`; empty terms are dropped. */
export function parseSearch(query: string): SearchTerm[] {
  const terms: SearchTerm[] = [];
  for (const [, phrase, bare] of query.matchAll(/"([^"]*)"?|([^\s"]+)/g)) {
    const raw = (phrase ?? bare ?? '').trim();
    const words = foldText(raw).split(' ').filter(Boolean);
    if (words.length) terms.push({ words, prefix: raw.endsWith('*') });
  }
  return terms;
}

/**
 * True when folded `text` (words separated by single spaces, as `foldText`
 * makes it) holds every term as whole words: `kh` does not match "sakhar",
 * `west` does not match "western".
 */
export function matchesSearch(text: string, terms: readonly SearchTerm[]): boolean {
  const haystack = ` ${text} `;
  return terms.every((term) => haystack.includes(` ${term.words.join(' ')}${term.prefix ? '' : ' '}`));
}

/**
 * Characters no export writes, whatever is stored: C0 controls but tab, line
 * feed and carriage return; DEL and the C1 controls; U+FFFE and U+FFFF; lone
 * surrogates (which UTF-8 cannot encode); and the bidirectional embeddings,
 * overrides and isolates (U+202A–U+202E, U+2066–U+2069).
 */
const UNSAFE_CHARACTERS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\uFFFE\uFFFF\u202A-\u202E\u2066-\u2069]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** `value` without the characters no export writes (see UNSAFE_CHARACTERS): encodes as valid UTF-8 and is legal in XML 1.0. */
export function safeText(value: string): string {
  return value.replace(UNSAFE_CHARACTERS, '');
}
