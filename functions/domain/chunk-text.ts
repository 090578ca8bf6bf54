/**
 * The text of an index chunk, as the Coordinator stores it in SQLite and
 * publishes it under `index:chunk:…`: two lines. The first lists, for each
 * entry in order, its sort key, the record revision it indexes and its date
 * interval (`[k, rev, date_start, date_end]`); the second is the entries in
 * full. A page that filters on nothing but its cursor parses only the first
 * line (a few KB) instead of the whole chunk (about 100 KB of entries with
 * their search text), and splices the record texts the keys name into the
 * page (`servedRecordJson`, page-json.ts).
 *
 * Chunks written before this format are one JSON array of entries on one
 * line (JSON never contains a raw newline), and are still read: their keys
 * come from the entries.
 */
import type { DateInterval } from './dates.ts';
import type { IndexEntry } from './layout.ts';

/** What a page with no filter needs of an entry: where it sorts and which record version it names, and the record's interval when the entry holds it. */
export interface EntryKey {
  k: string;
  id: string;
  rev: number;
  /** The record's `date_start`/`date_end`; null for an entry indexed before intervals (its record must be parsed to get them). */
  interval: DateInterval | null;
}

/** One entry on the first line: sort key, revision, date_start, date_end (null before intervals). */
type KeyRow = [string, number, string | null, string | null];

/** The id in a sort key `<date>|<id>`. */
const idOfKey = (k: string): string => k.slice(k.indexOf('|') + 1);

/** The interval an entry holds; null for one indexed before intervals. */
const intervalOf = (entry: Pick<IndexEntry, 'date_start' | 'date_end'>): DateInterval | null =>
  entry.date_start !== undefined && entry.date_end !== undefined ? { date_start: entry.date_start, date_end: entry.date_end } : null;

/** The key of an entry. */
export const entryKey = (entry: IndexEntry): EntryKey => ({ k: entry.k, id: entry.id, rev: entry.rev, interval: intervalOf(entry) });

/** The stored text of a chunk holding `entries` (newest first). */
export function chunkText(entries: readonly IndexEntry[]): string {
  const keys: KeyRow[] = entries.map((entry) => [entry.k, entry.rev, entry.date_start ?? null, entry.date_end ?? null]);
  return `${JSON.stringify(keys)}\n${JSON.stringify(entries)}`;
}

/** The entries of a chunk's text, in either format. */
export function chunkEntries(text: string): IndexEntry[] {
  const newline = text.indexOf('\n');
  return JSON.parse(newline < 0 ? text : text.slice(newline + 1)) as IndexEntry[];
}

/**
 * The keys of a chunk's entries, in order, that sort before `upper` (all
 * when null), at most `most` of them: only the first line is parsed when
 * the chunk has one, and only the keys returned are made into objects.
 */
export function chunkKeys(text: string, upper: string | null, most: number): EntryKey[] {
  const newline = text.indexOf('\n');
  if (newline < 0) return chunkEntries(text).filter((entry) => upper === null || entry.k < upper).slice(0, most).map(entryKey);
  const rows = JSON.parse(text.slice(0, newline)) as KeyRow[];
  let first = 0;
  if (upper !== null) while (first < rows.length && rows[first]![0] >= upper) first++;
  return rows.slice(first, first + most).map(([k, rev, start, end]) => ({ k, id: idOfKey(k), rev, interval: start !== null && end !== null ? { date_start: start, date_end: end } : null }));
}
