/**
 * Service description (`GET /`: JSON, or for browsers the explorer page,
 * both with feed discovery links) and health (`GET /healthz`).
 */
import { Hono } from 'hono';
import { etag } from 'hono/etag';
import { FEED_FORMAT_NAMES, FEED_FORMATS, FEED_MEDIA_TYPES, FEED_PATHS } from '../domain/feed.ts';
import { CHANGE_KINDS, MAX_CHANGES_LIMIT } from '../domain/change-feed.ts';
import { DEFAULT_LIMIT, MAX_LIMIT } from '../domain/query.ts';
import { ACTOR_ROLES, EVENT_TYPES, LOCATION_PRECISIONS, POINT_PRECISIONS, WEAPONS } from '../domain/schema.ts';
import type { Env } from '../env.ts';
import { ExplorerPage } from '../pages/explorer-page.tsx';
import { readHead } from '../store/events-store.ts';
import { POLLING_CACHE_CONTROL } from './conditional.ts';
import { JSON_OR_PAGE, chooseMediaType, htmlPage, originOf } from './negotiation.ts';

/** The filter parameters of `/events`, the feeds, the exports and `/stats`, described (also in /openapi.json). */
export const FILTERS = {
  since: 'YYYY-MM-DD; events that may have happened on or after this date: each event is the interval date_start..date_end (a day; a whole month; an approximate window), and since/until select events overlapping them',
  until: 'YYYY-MM-DD; events that may have happened on or before this date (see since)',
  date_match: 'overlap (default: any day of the event\'s interval in since..until) or within (every day of it in since..until)',
  type: `comma-separated: ${EVENT_TYPES.join(', ')}`,
  country: 'comma-separated ISO 3166-1 alpha-2 codes, e.g. IQ,SY',
  actor:
    'an actor of GET /actors, named by id, canonical name or any alias as whole words (accents, apostrophes and case ignored): KH is Kata\'ib Hezbollah, us is every actor with the word US; an actor also matches what its members did (part_of links: Kata\'ib Hezbollah for Iran-backed militias)',
  actor_role: `comma-separated: ${ACTOR_ROLES.join(', ')}; the roles actor matches in (alone: records naming anyone in those roles)`,
  weapon: `comma-separated: ${WEAPONS.join(', ')}`,
  q: 'words that must all appear as whole words in title, summary, place or actor names (as the record writes them and every name the actor dictionary gives them; accents, apostrophes and case ignored); word* matches a prefix, "quoted words" (or hyphenated-words) must appear together in order',
  bbox: `minLon,minLat,maxLon,maxLat (WGS84); matches only points as exact as ${POINT_PRECISIONS.join(' or ')} unless precision says otherwise`,
  precision: `comma-separated location precisions: ${LOCATION_PRECISIONS.join(', ')} (country: a country centroid, the sources name no place); with bbox the default is ${POINT_PRECISIONS.join(',')}`,
  has_casualties: 'true (a reported figure above zero), false (reported as none: every figure 0) or unknown (no figure, or no number)',
};

/** `updated_since` and `order` of `/events`, the feeds and the exports, described. */
export const CHANGE_FILTERS = {
  updated_since: 'RFC 3339 time (2024-01-31T12:00:00Z); records whose last change was committed at or after it (the time /changes gives as changed_at, not the updated_at a curated record brings)',
  order: 'date (default: newest event first) or updated (records by their last change, newest first, each once; read from the change log; a cursor belongs to its order)',
};

const LIMIT = { limit: `1..${MAX_LIMIT}, default ${DEFAULT_LIMIT}` };
/** `limit` and `cursor`, described. */
export const PAGING = { ...LIMIT, cursor: 'next_cursor of the previous page (exports: the cursor in the Link rel="next" URL)' };

const feedLinkTitle = (format: (typeof FEED_FORMATS)[number]) => `strikewire events (${FEED_FORMAT_NAMES[format]})`;

/** What `GET /` describes: every endpoint and its parameters. */
export const SERVICE = {
  name: 'strikewire',
  description:
    'Source-cited events: attacks on US and partner forces by Iran-aligned militias in Iraq and Syria, and the US strikes, embassy incidents and deployments around them.',
  endpoints: {
    'GET /events': { description: 'Events, newest first by date (or by last change with order=updated), as { data, next_cursor }; each event carries date_start and date_end', parameters: { ...FILTERS, ...CHANGE_FILTERS, ...PAGING } },
    'GET /events/{id}': { description: 'One event by id; clients that prefer text/html get its page (GET /events does the same: the list with a filter form); 410 Gone with its tombstone { id, revision, retracted_at, reason } once it is retracted' },
    'GET /changes': {
      description: `Every create, update and retraction in commit order, as { data, next }: each change with its kind (${CHANGE_KINDS.join(', ')}), id, revision, changed_at and the record as of the change (or the tombstone of a retraction); follow next to resume, after any gap; an empty data with the same next when up to date`,
      parameters: {
        since: 'next of the previous page (opaque); absent: from the first change. A cursor of another storage epoch is answered 410: resync from /events',
        limit: `1..${MAX_CHANGES_LIMIT}, default ${MAX_CHANGES_LIMIT}`,
      },
    },
    'DELETE /events/{id}': { description: 'Retracts a record (admin token), with an optional JSON body { reason }' },
    'GET /events/{id}.json': { description: 'One event by id as JSON, whatever Accept says' },
    'GET /sources': { description: 'The source documents records quote, as { data }: document, publisher, kind, language, published, published_precision, note' },
    'GET /sources/{name}': { description: 'One source document, as stored (text/plain; text/html for browsers)' },
    ...Object.fromEntries(
      FEED_FORMATS.map((format) => [
        `GET ${FEED_PATHS[format]}`,
        { description: `The newest events matching the filters as ${FEED_FORMAT_NAMES[format]} (${FEED_MEDIA_TYPES[format]}), each with its place as a point (GeoRSS, JSON Feed _geo) when it is a ${POINT_PRECISIONS.join(' or ')}`, parameters: { ...FILTERS, ...CHANGE_FILTERS, ...LIMIT } },
      ]),
    ),
    'GET /events.geojson': { description: 'A page of events as a GeoJSON FeatureCollection of points [lon, lat], each with its location_precision (a country-precision point is a centroid, not a place); the next page is in a Link rel="next" header', parameters: { ...FILTERS, ...CHANGE_FILTERS, ...PAGING } },
    'GET /events.csv': { description: 'A page of events as CSV (RFC 4180) with a header row; the next page is in a Link rel="next" header', parameters: { ...FILTERS, ...CHANGE_FILTERS, ...PAGING } },
    'GET /stats': {
      description:
        'Over every matching event, as { data }: total { events, has_casualties: { true, false, unknown }, by_group }, by_month/by_type/by_country [{ key, events, by_group }] with by_group [{ group, events, killed, injured, killed_not_reported, injured_not_reported }] (figures per casualty group, never summed across groups), and by_actor [{ key, name, events, perpetrator, claimant, target, directed_by }] (actors by dictionary id and role, no casualty figures)',
      parameters: FILTERS,
    },
    'GET /tallies': {
      description: 'Reported running tallies of attacks and troop numbers, with sources, newest first',
      parameters: { since: 'YYYY-MM-DD; tallies as of this date or later', until: 'YYYY-MM-DD; tallies as of this date or earlier', country: 'comma-separated ISO 3166-1 alpha-2 codes; tallies covering any of them' },
    },
    'GET /actors': {
      description:
        'The actor dictionary as { data }: each actor with id, name, kind, country, aliases (the spellings the sources use), links to other actors (relation part_of, claims_under, directed_by, supported_by or linked_to, each with quoted sources) and counts: records naming it in each role',
    },
    'GET /actors/{id}': { description: 'One actor of the dictionary, with its counts per role' },
    'POST /subscriptions/{id}/replay': { description: 'Re-sends to a webhook subscription (admin token or its scoped swt_ token) the alerts it would have received for the changes committed in a window: a JSON body { since, until, event_types }, answered 202 { replay_id, since, until, event_types, changes_in_window }; each alert keeps its original webhook-id' },
    'GET /subscriptions/{id}/replays': { description: 'The replays of a webhook subscription, newest first, with their window, status (queued, then finished) and the alerts queued so far' },
    'POST /websub': { description: 'The W3C WebSub hub every feed names (rel="hub"): a form with hub.mode=subscribe|unsubscribe, hub.topic (a feed URL with its filters), hub.callback, hub.lease_seconds and hub.secret; answered 202, verified with the callback, then each change to the topic is pushed to it' },
    'GET /healthz': { description: 'Liveness and dataset revision' },
    'GET /openapi.json': { description: 'This API as an OpenAPI 3.1 description, with the webhook payloads' },
    'GET /docs': { description: 'Interactive API reference (served from this origin, no internet needed)' },
  },
  explorer: 'Browsers (Accept: text/html) get the explorer at / instead of this description: the records matching a filter on a map, by month, counted and listed, from GET /events and GET /stats; its URL takes the /events filter parameters (/?type=attack&country=SY)',
  caching: `Read endpoints send a strong ETag and Last-Modified, answer If-None-Match and If-Modified-Since with 304, and send Cache-Control: ${POLLING_CACHE_CONTROL}.`,
  source: 'Every figure cites a document in data/sources/ with a verbatim quote.',
};

/** `Link` header value announcing the feeds (RFC 8288). */
const FEED_LINKS = FEED_FORMATS.map((format) => `<${FEED_PATHS[format]}>; rel="alternate"; type="${FEED_MEDIA_TYPES[format]}"; title="${feedLinkTitle(format)}"`).join(', ');

/** Routes `/` and `/healthz`. */
export const metaRoutes = new Hono<{ Bindings: Env }>()
  .get('/', etag(), (c) => {
    c.header('Link', FEED_LINKS);
    c.header('Vary', 'Accept');
    c.header('Cache-Control', 'public, max-age=300');
    const type = chooseMediaType(c, JSON_OR_PAGE);
    if (type !== 'text/html') return c.json(SERVICE);
    return htmlPage(c, ExplorerPage({ origin: originOf(c), query: new URL(c.req.url).searchParams, endpoints: SERVICE.endpoints }));
  })
  .get('/healthz', async (c) => {
    const head = await readHead(c.env.EVENTS);
    c.header('Cache-Control', 'no-store');
    return c.json({ status: 'ok', events: head.count, revision: head.revision, updated_at: head.updated_at });
  });
