/**
 * Events as CSV (RFC 4180): a header row, then one row per record, CRLF line
 * ends. Fields holding a comma, quote or line break are quoted with quotes
 * doubled; lists are joined with "; ". A text cell starting with = + - @ tab
 * or CR is prefixed with an apostrophe so spreadsheets do not run it as a
 * formula (CSV injection); numbers are written as they are, and a figure the
 * sources do not give (null) is an empty cell, never 0.
 */
import { flattenEvent, type FlatEvent } from './flat-event.ts';
import type { Event } from './schema.ts';

/** Media type of the export. */
export const CSV_MEDIA_TYPE = 'text/csv; charset=utf-8; header=present';

/** The columns, in order. */
export const CSV_COLUMNS = [
  'id',
  'type',
  'date',
  'date_precision',
  'date_start',
  'date_end',
  'title',
  'summary',
  'place',
  'country',
  'lat',
  'lon',
  'location_precision',
  'perpetrator',
  'target',
  'claimed_by',
  'directed_by',
  'actor_ids',
  'weapons',
  'killed',
  'injured',
  'has_casualties',
  'sources',
  'revision',
  'created_at',
  'updated_at',
  'url',
] as const satisfies ReadonlyArray<keyof FlatEvent>;

/** Renders `events` as CSV; `origin` makes record URLs absolute. */
export function toCsv(events: readonly Event[], origin: string): string {
  const rows = events.map((event) => {
    const flat = flattenEvent(event, origin);
    return CSV_COLUMNS.map((column) => csvCell(flat[column]));
  });
  return [CSV_COLUMNS.join(','), ...rows.map((row) => row.join(','))].map((line) => `${line}\r\n`).join('');
}

/** One cell: null (not reported) empty, numbers and booleans as they are; text guarded against formulas, then quoted when it must be. */
export function csvCell(value: string | number | boolean | null | readonly string[]): string {
  if (value === null) return '';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  const text = typeof value === 'string' ? value : value.join('; ');
  const guarded = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(guarded) ? `"${guarded.replace(/"/g, '""')}"` : guarded;
}
