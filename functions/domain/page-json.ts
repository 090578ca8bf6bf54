/**
 * The JSON body of a page of `/events`, made from the records' stored texts
 * without parsing them (`servedRecordJson`), and the front page: the first
 * page of the whole index at the default limit, which the writer renders
 * for each index revision and publishes ready-made (layout.ts,
 * `frontPageKey`) with the same function the readers' pages are made of, so
 * both give the same bytes for one revision.
 */
import { entryKey } from './chunk-text.ts';
import { withDateInterval, withDateIntervalText, type DateInterval } from './dates.ts';
import type { IndexEntry } from './layout.ts';
import { DEFAULT_LIMIT, encodeCursor } from './query.ts';
import type { Event } from './schema.ts';

/** A record's stored text as the API serves it: with its interval spliced in, or parsed and written again when that cannot be done (no interval known, a text not as JSON.stringify writes it). */
export const servedRecordJson = (text: string, interval: DateInterval | null): string =>
  (interval && withDateIntervalText(text, interval)) ?? JSON.stringify(withDateInterval(JSON.parse(text) as Event));

/** The body of a page: `{ data, next_cursor }`, the same bytes as JSON.stringify of the parsed records would give. */
export const eventsPageJson = (records: readonly string[], nextCursor: string | null): string => `{"data":[${records.join(',')}],"next_cursor":${JSON.stringify(nextCursor)}}`;

/** What a front page is rendered from: the index's chunks in order (read as needed) and each indexed record version's stored text. */
export interface FrontPageSource {
  /** The entries of the index's chunks (patched), chunk by chunk, newest first. */
  chunks(): Iterable<readonly IndexEntry[]>;
  /** The stored text of record `id` at `revision`; null when that version is not at hand (it was replaced since). */
  recordText(id: string, revision: number): string | null;
}

/**
 * The front page (`/events` with no parameter, or only `limit=DEFAULT_LIMIT`)
 * as the readers would build it from the same index: its first
 * DEFAULT_LIMIT entries' records, and the cursor after the last of them
 * when more follow. Null when a record version it needs is not at hand.
 */
export function frontPageJson(source: FrontPageSource): string | null {
  const entries: IndexEntry[] = [];
  for (const chunk of source.chunks()) {
    entries.push(...chunk);
    if (entries.length > DEFAULT_LIMIT) break;
  }
  const page = entries.slice(0, DEFAULT_LIMIT);
  const records: string[] = [];
  for (const entry of page) {
    const text = source.recordText(entry.id, entry.rev);
    if (text === null) return null;
    records.push(servedRecordJson(text, entryKey(entry).interval));
  }
  return eventsPageJson(records, entries.length > DEFAULT_LIMIT ? encodeCursor(page.at(-1)!.k) : null);
}
