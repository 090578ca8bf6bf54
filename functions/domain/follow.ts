/**
 * Ways to follow one filter of `/events`, for the pages and their discovery
 * links: the three feeds, the GeoJSON and CSV downloads, and a ready `curl`
 * that subscribes a webhook to exactly that filter (the body of
 * `POST /subscriptions` takes the filter parameters as a query string gives
 * them: a string each, an array for a repeated one).
 */
import { FEED_FORMAT_NAMES, FEED_FORMATS, FEED_MEDIA_TYPES, FEED_PATHS, type FeedFormat } from './feed.ts';
import { queryObject } from './query.ts';

/** Parameters that choose a page, not the records. */
const PAGING_PARAMETERS: readonly string[] = ['limit', 'cursor'];

/** The filter of a query string: its parameters in the order given, without paging or empty values. */
export function filterParameters(search: URLSearchParams): URLSearchParams {
  return new URLSearchParams([...search].filter(([name, value]) => !PAGING_PARAMETERS.includes(name) && value !== ''));
}

/** `?query`, or nothing for an empty query. */
export const withQuery = (params: URLSearchParams): string => (params.size ? `?${params}` : '');

/** One feed of a filter. */
export interface FeedLink {
  format: FeedFormat;
  /** "RSS 2.0", "Atom", "JSON Feed". */
  name: string;
  /** Media type, for `<link rel="alternate" type>`. */
  type: string;
  url: string;
}

/** The three feeds of `filter`, as absolute URLs on `origin`. */
export function feedLinks(origin: string, filter: URLSearchParams): FeedLink[] {
  return FEED_FORMATS.map((format) => ({ format, name: FEED_FORMAT_NAMES[format], type: FEED_MEDIA_TYPES[format], url: `${origin}${FEED_PATHS[format]}${withQuery(filter)}` }));
}

/** The GeoJSON and CSV downloads of the page `query` shows (filter, `limit` and `cursor`). */
export function downloadLinks(origin: string, query: URLSearchParams): { geojson: string; csv: string } {
  return { geojson: `${origin}/events.geojson${withQuery(query)}`, csv: `${origin}/events.csv${withQuery(query)}` };
}

/** `value` as one single-quoted shell word. */
const shellQuote = (value: string): string => `'${value.replace(/'/g, `'\\''`)}'`;

/** Where the command tells the subscriber to put their receiver's URL. */
const EXAMPLE_WEBHOOK_URL = 'https://example.com/strikewire-webhook';

/**
 * A `curl` command that subscribes a webhook to `filter` on `origin`, with
 * the admin token read from `$STRIKEWIRE_ADMIN_TOKEN` and the receiver's URL
 * to be replaced.
 */
export function subscribeCommand(origin: string, filter: URLSearchParams): string {
  const body = JSON.stringify({ url: EXAMPLE_WEBHOOK_URL, filters: queryObject(filter) });
  return [
    `curl -X POST ${shellQuote(`${origin}/subscriptions`)}`,
    `  -H "authorization: Bearer $STRIKEWIRE_ADMIN_TOKEN"`,
    `  -H 'content-type: application/json'`,
    `  -d ${shellQuote(body)}`,
  ].join(' \\\n');
}
