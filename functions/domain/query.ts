/**
 * The event query language shared by `/events`, the feeds and the exports:
 * the valibot schema of its URL parameters, the filter predicate over index
 * entries, opaque cursors, and the plan of which chunks a page reads.
 */
import * as v from 'valibot';
import { actorSelected, selectActors, type ActorSelection } from './actors.ts';
import { intervalMatches } from './dates.ts';
import { ACTOR_ROLES, EVENT_TYPES, IsoDate, LOCATION_PRECISIONS, POINT_PRECISIONS, WEAPONS, type Tally } from './schema.ts';
import { chunkInterval, entryActors, entryChangedAt, entryCasualtyStatus, entryInterval, entryPrecision, type CasualtyStatus, type ChunkRef, type IndexEntry } from './layout.ts';
import { matchesSearch, parseSearch, type SearchTerm } from './text.ts';

/** Page size when `limit` is not given. */
export const DEFAULT_LIMIT = 50;
/** Largest allowed `limit`. */
export const MAX_LIMIT = 500;
/** Most chunks one request scans; a sparse filter returns a short page with a cursor to go on. */
export const MAX_CHUNKS_PER_PAGE = 8;
/** Most index segments one request reads beyond one per level: a date filter may meet segments that hold no chunk it meets. */
export const MAX_SEGMENTS_PER_PAGE = 8;

/** A query parameter as the router hands it over: its text, or every value when it is repeated. */
export const QueryValue = v.union([v.string(), v.array(v.string())]);

const once = v.pipe(
  QueryValue,
  v.check((value) => typeof value === 'string', 'must be given once'),
  v.transform((value) => value as string),
);

/** A parameter that takes a comma-separated list, and may also be repeated. */
const listOf = <T extends v.GenericSchema<string, unknown>>(item: T, what: string) =>
  v.pipe(
    QueryValue,
    v.transform((value) => (Array.isArray(value) ? value : [value]).flatMap((part) => part.split(',')).map((part) => part.trim())),
    v.check((parts) => parts.length > 0 && parts.every(Boolean), `must be a comma-separated list of ${what}`),
    v.array(item),
  );

const Bbox = v.pipe(
  once,
  v.transform((value) => value.split(',').map((part) => (part.trim() === '' ? Number.NaN : Number(part)))),
  v.check((parts) => parts.length === 4 && parts.every(Number.isFinite), 'must be four numbers minLon,minLat,maxLon,maxLat'),
  v.check(([minLon, minLat, maxLon, maxLat]) => [minLon, maxLon].every((lon) => lon! >= -180 && lon! <= 180) && [minLat, maxLat].every((lat) => lat! >= -90 && lat! <= 90), 'longitudes must be within -180..180 and latitudes within -90..90'),
  v.check(([, minLat, , maxLat]) => minLat! <= maxLat!, 'minLat must not be greater than maxLat'),
  v.transform(([minLon, minLat, maxLon, maxLat]) => ({ minLon: minLon!, minLat: minLat!, maxLon: maxLon!, maxLat: maxLat! })),
);

/** A page size parameter: a whole number from 1 to MAX_LIMIT. */
export const Limit = v.pipe(
  once,
  v.regex(/^\d{1,4}$/, `must be a whole number from 1 to ${MAX_LIMIT}`),
  v.transform(Number),
  v.minValue(1, `must be a whole number from 1 to ${MAX_LIMIT}`),
  v.maxValue(MAX_LIMIT, `must be a whole number from 1 to ${MAX_LIMIT}`),
);

const SearchText = v.pipe(once, v.trim(), v.minLength(1, 'must not be empty'), v.maxLength(200, 'must be at most 200 characters'));

/** A `q=` search (whole folded words, `word*` prefixes, "quoted phrases"), kept as text so stored subscription filters stay as given. */
const Search = v.pipe(
  SearchText,
  v.check((text) => text === '' || parseSearch(text).length > 0, 'must hold at least one letter or digit'),
);

/** The terms of the last search parsed: a scan matches one `q` against many entries. */
let lastSearch: { text: string; terms: SearchTerm[] } = { text: '', terms: [] };
const searchTerms = (text: string): SearchTerm[] => (lastSearch.text === text ? lastSearch : (lastSearch = { text, terms: parseSearch(text) })).terms;

/** The actors of the last `actor=` value: a scan matches one value against many entries. */
let lastActor: { text: string; selection: ActorSelection } = { text: '', selection: { ids: new Set(), phrase: '' } };
const actorSelection = (text: string): ActorSelection => (lastActor.text === text ? lastActor : (lastActor = { text, selection: selectActors(text) })).selection;

/** Filter parameters, without paging: what feeds, exports and stats accept. */
export const filterEntries = {
  since: v.optional(v.pipe(once, IsoDate)),
  until: v.optional(v.pipe(once, IsoDate)),
  /** How `since`/`until` select: `overlap` (default; any day of the record's interval in range) or `within` (all of it). */
  date_match: v.optional(v.pipe(once, v.picklist(['overlap', 'within'], 'must be overlap or within'))),
  /** Location precisions to match; with `bbox` and no `precision`, `site,city` (POINT_PRECISIONS). */
  precision: v.optional(listOf(v.picklist(LOCATION_PRECISIONS, `must be a comma-separated list of ${LOCATION_PRECISIONS.join(', ')}`), 'location precisions')),
  type: v.optional(listOf(v.picklist(EVENT_TYPES, `must be a comma-separated list of ${EVENT_TYPES.join(', ')}`), 'event types')),
  country: v.optional(listOf(v.pipe(v.string(), v.regex(/^[A-Za-z]{2}$/, 'must be a comma-separated list of ISO 3166-1 alpha-2 country codes'), v.toUpperCase()), 'country codes')),
  actor: v.optional(SearchText),
  actor_role: v.optional(listOf(v.picklist(ACTOR_ROLES, `must be a comma-separated list of ${ACTOR_ROLES.join(', ')}`), 'actor roles')),
  weapon: v.optional(listOf(v.picklist(WEAPONS, `must be a comma-separated list of ${WEAPONS.join(', ')}`), 'weapons')),
  q: v.optional(Search),
  bbox: v.optional(Bbox),
  /** `true`, `false` or `unknown` (null): see `CasualtyStatus`. */
  has_casualties: v.optional(v.pipe(once, v.picklist(['true', 'false', 'unknown'], 'must be true, false or unknown'), v.transform((value): CasualtyStatus => (value === 'unknown' ? null : value === 'true')))),
};

/** A cursor parameter, decoded to the position it stands for (a sort key, or a change-log position of `order=updated`). */
const Cursor = v.pipe(once, v.maxLength(512, 'is not a valid cursor'), v.transform(decodeCursor), v.string('is not a valid cursor'));

/** Orders of `/events`, the feeds and the exports: by the event's date (default), or by the time of each record's last change. */
export const ORDERS = ['date', 'updated'] as const;

/** An RFC 3339 time (`2024-01-31T12:00:00Z`, `…+03:00`, fractions of a second allowed), as `updated_since` and replay windows take it. */
export const RFC3339_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;
/** What a value that is not an RFC 3339 time is told. */
export const RFC3339_MESSAGE = 'must be an RFC 3339 time such as 2024-01-31T12:00:00Z';

/** Whether the calendar date an RFC 3339 time starts with exists (`Date` would roll 2026-02-30 over to 2 March); other texts are the pattern's to refuse. */
function calendarDateExists(text: string): boolean {
  if (!RFC3339_TIME.test(text)) return true;
  const [year, month, day] = text.slice(0, 10).split('-').map(Number) as [number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/** An RFC 3339 time (`updated_since`, replay windows), checked to name a real date and time, given as ISO 8601 UTC (as change times are stamped). */
export const Rfc3339TimeSchema = v.pipe(
  v.string(RFC3339_MESSAGE),
  v.regex(RFC3339_TIME, RFC3339_MESSAGE),
  v.check(calendarDateExists, `${RFC3339_MESSAGE}, on a date that exists`),
  v.transform((text) => new Date(text.toUpperCase())),
  v.check((time) => !Number.isNaN(time.getTime()), RFC3339_MESSAGE),
  v.transform((time) => time.toISOString()),
  v.metadata({ format: 'date-time' }),
);

/** What `updated_since` and `order` add to the filters of `/events`, the feeds and the exports. */
const changeEntries = {
  /** An RFC 3339 time: records whose last change was committed at or after it. Kept as ISO 8601 UTC, as changes are stamped. */
  updated_since: v.optional(v.pipe(once, Rfc3339TimeSchema)),
  order: v.optional(v.pipe(once, v.picklist(ORDERS, `must be ${ORDERS.join(' or ')}`))),
};

/** A cursor of `order=updated`: before change `seq` of the change log of `epoch`. */
export const updatedCursor = (epoch: string, seq: number): string => encodeCursor(`u:${epoch}:${seq}`);

/** The change-log position of an `order=updated` cursor; null when the cursor is a sort key. */
export function updatedPosition(position: string): { epoch: string; seq: number } | null {
  const match = /^u:([0-9a-z]{1,32}):(\d{1,15})$/.exec(position);
  return match ? { epoch: match[1]!, seq: Number(match[2]) } : null;
}

/** True unless `until` is before `since`; each query schema checks it, reporting on `until`. */
const datesInOrder = (query: { since?: string; until?: string }): boolean => !query.since || !query.until || query.since <= query.until;
/** The message of `datesInOrder`, naming the `since` it must not precede. */
const DATES_OUT_OF_ORDER = (issue: v.PartialCheckIssue<{ since?: string }>): string => `must not be before since (${issue.input.since})`;

const limitEntry = { limit: v.optional(Limit, String(DEFAULT_LIMIT)) };

/** Parameters of `/events`, `/events.geojson` and `/events.csv`: the filters plus `limit` and `cursor` (decoded to a sort key). Unknown parameters are rejected by name. */
export const EventQuerySchema = v.pipe(
  v.strictObject({ ...filterEntries, ...changeEntries, ...limitEntry, cursor: v.optional(Cursor) }),
  v.forward(v.partialCheck([['since'], ['until']], datesInOrder, DATES_OUT_OF_ORDER), ['until']),
);

/** Parameters of the feeds: the filters plus `limit`; a feed is always the first page. */
export const FeedQuerySchema = v.pipe(
  v.strictObject({ ...filterEntries, ...changeEntries, ...limitEntry }),
  v.forward(v.partialCheck([['since'], ['until']], datesInOrder, DATES_OUT_OF_ORDER), ['until']),
);

/** Parameters of `/tallies`: the date the tally is as of (`since`, `until`, inclusive) and the countries it covers (any of them). */
export const TallyQuerySchema = v.pipe(
  v.strictObject({ since: filterEntries.since, until: filterEntries.until, country: filterEntries.country }),
  v.forward(v.partialCheck([['since'], ['until']], datesInOrder, DATES_OUT_OF_ORDER), ['until']),
);

/** True when a tally is as of a date within `since`/`until` and covers one of `country`, where given. */
export function matchesTallyQuery(tally: Pick<Tally, 'as_of' | 'area'>, query: v.InferOutput<typeof TallyQuerySchema>): boolean {
  if (query.since && tally.as_of < query.since) return false;
  if (query.until && tally.as_of > query.until) return false;
  return !query.country || query.country.some((country) => tally.area.includes(country));
}

/** Parameters of `/stats`: the filters alone, applied to every matching record. */
export const FilterQuerySchema = v.pipe(
  v.strictObject(filterEntries),
  v.forward(v.partialCheck([['since'], ['until']], datesInOrder, DATES_OUT_OF_ORDER), ['until']),
);

/**
 * Parameters of `/stats`: the filters, applied to every matching record, and
 * the `cursor` a partial answer gives to go on with (a sort key; see routes/stats.ts).
 */
export const StatsQuerySchema = v.pipe(
  v.strictObject({ ...filterEntries, cursor: v.optional(v.pipe(Cursor, v.check((position) => updatedPosition(position) === null, 'is not a valid cursor'))) }),
  v.forward(v.partialCheck([['since'], ['until']], datesInOrder, DATES_OUT_OF_ORDER), ['until']),
);

/** Parameters of `/events` after validation. */
export type EventQuery = v.InferOutput<typeof EventQuerySchema>;

/** The filter part of a query (`order` is how it is listed, not what it selects). */
export type EventFilter = Omit<EventQuery, 'limit' | 'cursor' | 'order'>;

/**
 * True when `filter` selects nothing (every entry matches it): no field is
 * set but `date_match`, which means nothing without `since` or `until`.
 */
export const filtersNothing = (filter: EventFilter): boolean => Object.entries(filter).every(([name, value]) => value === undefined || name === 'date_match');

/** True when an index entry satisfies every filter given. */
export function matchesFilter(entry: IndexEntry, filter: EventFilter): boolean {
  if (filter.since || filter.until) {
    const { start, end } = entryInterval(entry);
    if (!intervalMatches(start, end, filter.since, filter.until, filter.date_match ?? 'overlap')) return false;
  }
  const precisions = filter.precision ?? (filter.bbox ? POINT_PRECISIONS : undefined);
  if (precisions && !precisions.includes(entryPrecision(entry))) return false;
  if (filter.type && !filter.type.includes(entry.type)) return false;
  if (filter.country && !filter.country.includes(entry.country)) return false;
  if (filter.weapon && !filter.weapon.some((weapon) => entry.weapons.includes(weapon))) return false;
  if (filter.has_casualties !== undefined && filter.has_casualties !== entryCasualtyStatus(entry)) return false;
  if (filter.actor || filter.actor_role) {
    const selection = filter.actor ? actorSelection(filter.actor) : null;
    const roles = filter.actor_role;
    const found = entryActors(entry).some(
      (actor) => (!roles || (actor.role !== null && roles.includes(actor.role))) && (!selection || actorSelected(selection, actor.id, actor.as_written)),
    );
    if (!found) return false;
  }
  if (filter.q && !matchesSearch(entry.text, searchTerms(filter.q))) return false;
  if (filter.updated_since && entryChangedAt(entry) < filter.updated_since) return false;
  if (filter.bbox) {
    const { minLon, minLat, maxLon, maxLat } = filter.bbox;
    if (entry.lat < minLat || entry.lat > maxLat) return false;
    const inLon = minLon <= maxLon ? entry.lon >= minLon && entry.lon <= maxLon : entry.lon >= minLon || entry.lon <= maxLon;
    if (!inLon) return false;
  }
  return true;
}

/** Encodes the position after `sortKey` as an opaque cursor. */
export function encodeCursor(sortKey: string): string {
  const bytes = new TextEncoder().encode(JSON.stringify({ after: sortKey }));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Decodes a cursor made by `encodeCursor`; null when it is not one. */
export function decodeCursor(cursor: string): string | null {
  try {
    const binary = atob(cursor.replace(/-/g, '+').replace(/_/g, '/'));
    const parsed: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
    const after = (parsed as { after?: unknown } | null)?.after;
    return typeof after === 'string' && (/^\d{4}-\d{2}-\d{2}\|[a-z0-9-]+$/.test(after) || updatedPosition(after) !== null) ? after : null;
  } catch {
    return null;
  }
}

/**
 * The query string of `url` in one canonical form: parameters sorted by name,
 * then value, and percent-encoded alike, so equivalent requests share caches
 * and validators. Empty when there are none.
 */
export function canonicalQuery(url: URL): string {
  const pairs = [...url.searchParams].sort(([aName, aValue], [bName, bValue]) => (aName === bName ? compareStrings(aValue, bValue) : compareStrings(aName, bName)));
  return new URLSearchParams(pairs).toString();
}

const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * What a page may read: entries with sort keys below `upper` (the cursor;
 * null from the start) whose date interval can satisfy `since`/`until`.
 */
export interface KeyRange {
  upper: string | null;
  since: string | null;
  until: string | null;
}

/**
 * The range implied by a cursor position and the date filters. Dates are not
 * turned into sort-key bounds: a record dated by month is keyed by the 1st
 * and an approximate one by its likeliest day, yet both may overlap days
 * past their key, so chunks are pruned by the intervals they hold instead.
 */
export function keyRange(after: string | null, filter: Pick<EventFilter, 'since' | 'until'>): KeyRange {
  return { upper: after, since: filter.since ?? null, until: filter.until ?? null };
}

/**
 * The nodes among `refs` (chunks or segments, newest first) that can hold
 * entries in `range`: before the cursor, and whose span of days (earliest
 * start to latest end of the entries under them) meets `since`/`until`. Any
 * record overlapping or within the range lies under such a node, however
 * long its interval, at every level of the index.
 */
export function refsInRange<T extends ChunkRef>(refs: readonly T[], range: KeyRange): T[] {
  return refs.filter((ref) => {
    if (range.upper !== null && ref.last >= range.upper) return false;
    const { start, end } = chunkInterval(ref);
    return (range.since === null || end >= range.since) && (range.until === null || start <= range.until);
  });
}

/** The entries of one chunk that lie before the cursor and match `filter` (dates included), in order. */
export function selectEntries(entries: readonly IndexEntry[], range: KeyRange, filter: EventFilter): IndexEntry[] {
  return entries.filter((entry) => (range.upper === null || entry.k < range.upper) && matchesFilter(entry, filter));
}

/**
 * A URL's query as Hono's query validator hands it over, and as a
 * subscription's `filters` take it: one value as a string, a repeated
 * parameter as an array.
 */
export function queryObject(params: URLSearchParams): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const name of new Set(params.keys())) {
    const values = params.getAll(name);
    query[name] = values.length === 1 ? values[0]! : values;
  }
  return query;
}
