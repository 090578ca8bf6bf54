/**
 * Dates as intervals: the days a record's date may stand for, derived from
 * `date`, `date_precision` and `date_window`, in one place so the API, the
 * index and the exports never disagree. Dates are `YYYY-MM-DD` strings, which
 * sort like the days they name.
 */
import type { Event } from './schema.ts';

/** The first and last day (inclusive) a record's date may stand for. */
export interface DateInterval {
  date_start: string;
  date_end: string;
}

/** What the interval is derived from. */
export type DatedRecord = Pick<Event, 'date' | 'date_precision'> & { date_window?: Event['date_window'] };

/**
 * The days `record` may have happened on: `day` is that day; `month` is the
 * whole month of `date` (stored as its 1st); `approximate` is `date_window`,
 * the bounds its note justifies. An approximate record stored before windows
 * existed has none and stands for its `date` alone.
 */
export function dateInterval(record: DatedRecord): DateInterval {
  if (record.date_precision === 'month') return { date_start: `${record.date.slice(0, 7)}-01`, date_end: lastDayOfMonth(record.date) };
  if (record.date_precision === 'approximate' && record.date_window) return { date_start: record.date_window.start, date_end: record.date_window.end };
  return { date_start: record.date, date_end: record.date };
}

/** `record` with its `date_start` and `date_end`, as the API returns it (placed just before `location`). */
export function withDateInterval<Dated extends DatedRecord>(record: Dated): Dated & DateInterval {
  const { date_start: _start, date_end: _end, ...rest } = record as Dated & Partial<DateInterval>;
  const entries = Object.entries(rest);
  const at = entries.findIndex(([key]) => key === 'location');
  entries.splice(at < 0 ? entries.length : at, 0, ...Object.entries(dateInterval(record)));
  return Object.fromEntries(entries) as Dated & DateInterval;
}

/** Where `withDateInterval` puts the interval in a record's JSON: before its `location` key (`"location":` cannot occur inside a JSON string, whose quotes are escaped, and no field before it has a `location` of its own). */
const LOCATION_KEY = ',"location":';

/**
 * The JSON text of `withDateInterval(record)` made from the JSON text of
 * the stored record (as JSON.stringify wrote it, without an interval) and
 * the record's interval, without parsing it: the same bytes as
 * `JSON.stringify(withDateInterval(JSON.parse(text)))`. Null when the text
 * is not of that form (it already has an interval, or no `location` key where
 * JSON.stringify puts it): parse it then.
 */
export function withDateIntervalText(text: string, interval: DateInterval): string | null {
  const at = text.indexOf(LOCATION_KEY);
  if (at < 0 || text.lastIndexOf('"date_start":', at) >= 0) return null;
  return `${text.slice(0, at)},"date_start":${JSON.stringify(interval.date_start)},"date_end":${JSON.stringify(interval.date_end)}${text.slice(at)}`;
}

const MONTH_NAMES = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

/** `YYYY-MM-DD` as "25 Dec 2023". */
const dayLabel = (date: string): string => `${Number(date.slice(8, 10))} ${MONTH_NAMES[Number(date.slice(5, 7)) - 1]} ${date.slice(0, 4)}`;

/**
 * A record's date as people read it, at its precision: "25 Dec 2023" (day),
 * "Jan 2024" (month), the window of an approximate date ("27 Dec 2019 –
 * 5 Jan 2020", "27–31 Dec 2019"), or "c. 29 Dec 2019" for an approximate
 * date stored without a window. Feed titles and pages start with it.
 */
export function dateLabel(record: DatedRecord): string {
  if (record.date_precision === 'month') return dayLabel(record.date).replace(/^\d+ /, '');
  if (record.date_precision !== 'approximate') return dayLabel(record.date);
  if (!record.date_window) return `c. ${dayLabel(record.date)}`;
  const [start, end] = [dayLabel(record.date_window.start), dayLabel(record.date_window.end)];
  if (start === end) return `c. ${start}`;
  const [startDay, startMonth, startYear] = start.split(' ');
  const [, endMonth, endYear] = end.split(' ');
  if (startYear !== endYear) return `${start} – ${end}`;
  return startMonth === endMonth ? `${startDay}–${end}` : `${startDay} ${startMonth} – ${end}`;
}

/** How `since`/`until` select records: `overlap` (any day of the interval in range) or `within` (every day in range). */
export type DateMatch = 'overlap' | 'within';

/** True when the interval `[start, end]` satisfies `since`/`until` (inclusive) as `match` asks. */
export function intervalMatches(start: string, end: string, since: string | undefined, until: string | undefined, match: DateMatch): boolean {
  if (match === 'within') return (!since || start >= since) && (!until || end <= until);
  return (!since || end >= since) && (!until || start <= until);
}

/** The day `days` days after `date` (before it when negative), as `YYYY-MM-DD`. */
export function addDays(date: string, days: number): string {
  const moved = new Date(`${date}T00:00:00Z`);
  moved.setUTCDate(moved.getUTCDate() + days);
  return moved.toISOString().slice(0, 10);
}

/** The last day of the month of `date`. */
function lastDayOfMonth(date: string): string {
  const year = Number(date.slice(0, 4));
  const month = Number(date.slice(5, 7));
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return `${date.slice(0, 7)}-${String(days).padStart(2, '0')}`;
}
