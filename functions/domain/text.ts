/**
 * Text folding shared by indexing and matching, so that "Kata'ib Hizbollah",
 * "Kataeb Hezbollah" and "KATAIB" meet: accents, apostrophes and case are
 * dropped, every other run of non-letters becomes one space, and the
 * transliterations the sources use for the same names are made one.
 */

/** Spellings of one name found across the sources, folded to one form. */
const SPELLINGS: ReadonlyArray<[RegExp, string]> = [
  [/\b(?:hizbollah|hizballah|hezballah|hizbullah)\b/g, 'hezbollah'],
  [/\b(?:kataeb|katab)\b/g, 'kataib'],
  [/\b(?:irbil|arbil)\b/g, 'erbil'],
  [/\bassad\b/g, 'asad'],
];

/** Folds `text` to lower-case letters and digits separated by single spaces, with variant spellings unified. */
export function foldText(text: string): string {
  let folded = text
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/['’‘`ʼ]/g, '')
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
  for (const [variant, canonical] of SPELLINGS) folded = folded.replace(variant, canonical);
  return folded;
}
