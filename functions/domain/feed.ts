/**
 * The one renderer of the feeds: a page of events as RSS 2.0, Atom 1.0 or
 * JSON Feed 1.1, all three built with the `feed` package from one model.
 *
 * Guards around that package, so output stays well-formed for any stored text:
 * - characters XML cannot carry (most control characters, lone surrogates)
 *   and bidirectional controls are dropped from every string first, in all
 *   three formats (`safeText`);
 * - it writes item titles and descriptions as CDATA sections and breaks only
 *   the first `]]>` in each, and it decodes `&amp;` in text before escaping
 *   it: so HTML is given to it escaped (no `]]>` can remain), RSS item titles
 *   go in as escaped text, and text with `&` is pre-encoded for it;
 * - it writes Atom titles and summaries as `type="html"` CDATA, which many
 *   parsers show with their entities ("Al-Qa&#39;im"): they are given to it
 *   HTML-escaped and turned into `type="text"` afterwards (escaped HTML is
 *   escaped XML for the same text), with the record's HTML in `content`;
 * - Atom ids must be URLs: entries get a `tag:` URI made from the record id
 *   alone, which is also the RSS guid and the JSON Feed id, so it never
 *   changes when a record is edited, and one event has one id in every feed;
 * - it has no per-entry extensions in Atom, so the GeoRSS point is added to
 *   each rendered entry, with `xml:lang` on the feed; and it writes JSON
 *   Feed 1.0, so the document is lifted to 1.1 (`authors`, `language`).
 *
 * Item titles start with the event's date at its precision ("25 Dec 2023 —
 * …"). Dates: Atom `published` is the event's date and `updated` the
 * record's last change; RSS `pubDate` and JSON Feed `date_published` are when
 * the record was first published, so a new record about an old event still
 * comes up as new in readers that sort by them. Every link (channel, items,
 * JSON Feed `home_page_url` and `url`) goes to the pages `/events` and
 * `/events/:id`, which answer browsers in HTML. The self link is the URL as
 * requested; the feed's id is its canonical form. Every feed names the
 * WebSub hub (`atom:link rel="hub"` in RSS and Atom, `hubs` in JSON Feed).
 */
import { Feed, type Extension } from 'feed';
import { actorDisplayName, recordActors } from './actors.ts';
import { dateInterval, dateLabel } from './dates.ts';
import { canonicalQuery } from './query.ts';
import { POINT_PRECISIONS, type ActorRole, type Event } from './schema.ts';
import { foldText, safeText } from './text.ts';

/** The feed formats served. */
export const FEED_FORMATS = ['rss', 'atom', 'json'] as const;

/** One of `FEED_FORMATS`. */
export type FeedFormat = (typeof FEED_FORMATS)[number];

/** Media type of each format. */
export const FEED_MEDIA_TYPES: Record<FeedFormat, string> = {
  rss: 'application/rss+xml',
  atom: 'application/atom+xml',
  json: 'application/feed+json',
};

/** Path each format is served at. */
export const FEED_PATHS: Record<FeedFormat, string> = { rss: '/feed.rss', atom: '/feed.atom', json: '/feed.json' };

/** Path of the WebSub hub every feed advertises (domain/websub.ts). */
export const HUB_PATH = '/websub';

/** Human name of each format, for titles of discovery links. */
export const FEED_FORMAT_NAMES: Record<FeedFormat, string> = { rss: 'RSS 2.0', atom: 'Atom', json: 'JSON Feed' };

const SITE_NAME = 'strikewire';
const GEORSS_NAMESPACE = 'http://www.georss.org/georss';
/** The `version` a JSON Feed document names: the JSON Feed spec it follows. */
export const JSON_FEED_VERSION = 'https://jsonfeed.org/version/1.1';
/** Minutes a reader may cache an RSS channel: the dataset is republished every five. */
const RSS_TTL_MINUTES = 5;

/** What a feed shows: one page of a query, and where it is served. */
export interface FeedPage {
  /** The absolute URL the feed was requested at: its self link; every link is made absolute from its origin. */
  url: string;
  /** The records, newest first. */
  events: readonly Event[];
  /** Newest record change in the whole dataset: the feed's `updated` when `events` is empty. */
  datasetUpdatedAt: string | null;
}

/** The stable id of a record in every feed format: a `tag:` URI (RFC 4151) of its id alone. */
export const eventTagUri = (id: string): string => `tag:${SITE_NAME},2026:event:${id}`;

/** When the feed last changed: the newest change among its records, else of the dataset; never the time of rendering. */
function feedUpdated(page: Pick<FeedPage, 'events' | 'datasetUpdatedAt'>): Date {
  const newest = page.events.reduce<string | null>((max, event) => (max === null || event.updated_at > max ? event.updated_at : max), null);
  return new Date(newest ?? page.datasetUpdatedAt ?? 0);
}

/** Renders `page` as `format`. */
export function renderFeed(format: FeedFormat, page: FeedPage): string {
  const rules = RULES[format];
  const requested = new URL(page.url);
  const { origin } = requested;
  const query = canonicalQuery(requested);
  const feed = new Feed({
    id: `${origin}${FEED_PATHS[format]}${query ? `?${query}` : ''}`,
    title: rules.text(xmlSafe(feedTitle(query))),
    description: rules.text(`Source-cited events from ${SITE_NAME}, newest first.`),
    link: `${origin}/events${requested.search}`,
    feedLinks: { [format]: requested.href },
    hub: `${origin}${HUB_PATH}`,
    updated: feedUpdated(page),
    generator: SITE_NAME,
    language: 'en',
    ttl: RSS_TTL_MINUTES,
    author: { name: SITE_NAME, link: `${origin}/` },
  });
  for (const event of page.events) {
    const title = xmlSafe(itemTitle(event));
    feed.addItem({
      title: rules.title(title),
      id: eventTagUri(event.id),
      guid: eventTagUri(event.id),
      link: `${origin}/events/${event.id}`,
      date: new Date(event.updated_at),
      published: new Date(rules.published(event)),
      ...rules.body(event),
      category: [event.type, event.location.country, ...event.weapons].map((term) => ({ name: term, term })),
      extensions: rules.extensions(event, title),
    });
  }
  return rules.serialize(feed, page.events);
}

/** How one format carries text, dates and places, and how it is serialised. */
interface FormatRules {
  /** Plain text for the feed-level title and description. */
  text(value: string): string;
  /** An item title, given as plain text. */
  title(value: string): string;
  /** The item's publication time (ISO 8601). */
  published(event: Event): string;
  /** The item's description and content, as the package takes them. */
  body(event: Event): { description: string; content?: string };
  /** Extra item fields: the place, and for RSS the title as escaped text. */
  extensions(event: Event, title: string): Extension[];
  serialize(feed: Feed, events: readonly Event[]): string;
}

const RULES: Record<FeedFormat, FormatRules> = {
  rss: {
    text: encodeAmpersands,
    title: (value) => value,
    published: (event) => event.created_at,
    body: (event) => ({ description: describeEvent(event) }),
    extensions: (event, title) => [
      // Replaces the CDATA title the package writes with text it escapes fully.
      { name: 'title', objects: { _text: encodeAmpersands(title) } },
      ...(onMap(event) ? [{ name: 'georss:point', objects: { _attributes: { 'xmlns:georss': GEORSS_NAMESPACE }, _text: geoRssPoint(event) } }] : []),
    ],
    serialize: (feed) => feed.rss2(),
  },
  atom: {
    text: encodeAmpersands,
    // Written as type="html" CDATA, then turned into type="text" (atomEntries).
    title: escapeHtml,
    published: (event) => `${event.date}T00:00:00.000Z`,
    body: (event) => ({ description: html(event.summary), content: describeEvent(event) }),
    extensions: () => [],
    serialize: (feed, events) => atomEntries(withAtomLanguage(feed.atom1()), events),
  },
  json: {
    text: (value) => value,
    title: (value) => value,
    published: (event) => event.created_at,
    body: (event) => ({ description: xmlSafe(event.summary), content: describeEvent(event) }),
    extensions: (event) => (onMap(event) ? [{ name: '_geo', objects: { about: 'https://www.rfc-editor.org/rfc/rfc7946', type: 'Point', coordinates: [event.location.lon, event.location.lat] } }] : []),
    serialize: (feed) => toJsonFeed11(feed.json1(), feed.options.hub),
  },
};

/** An item's title: the event's date at its precision, then its title ("25 Dec 2023 — Drone attack on Erbil Air Base"). */
export const itemTitle = (event: Event): string => `${dateLabel(event)} — ${event.title}`;

/** The feed's title, naming the filters it was asked for. */
function feedTitle(query: string): string {
  const filters = [...new URLSearchParams(query)].filter(([name]) => name !== 'limit').map(([name, value]) => `${name}=${value}`);
  return filters.length ? `${SITE_NAME} events: ${filters.join(', ')}` : `${SITE_NAME} events`;
}

/** The item body, as HTML built only from escaped record text. */
function describeEvent(event: Event): string {
  const { location } = event;
  const actors = recordActors(event);
  /** Who had `role`: the canonical name, with the source's wording when it differs. */
  const inRole = (role: ActorRole) =>
    actors
      .filter((actor) => actor.role === role)
      .map((actor) => {
        const name = actorDisplayName(actor);
        return foldText(name) === foldText(actor.as_written) ? name : `${name} (“${actor.as_written}”)`;
      })
      .join(', ');
  const facts: Array<[string, string]> = [
    ['Date', `${dateText(event)}${event.date_note ? `: ${event.date_note}` : ''}`],
    ['Place', `${location.name}, ${location.country} (${onMap(event) ? `${location.lat}, ${location.lon}; ` : ''}${location.precision})`],
    ['Perpetrator', inRole('perpetrator')],
    ['Target', inRole('target')],
    ['Claimed by', inRole('claimant')],
    ['Directed by', inRole('directed_by')],
    ['Weapons', event.weapons.join(', ')],
    ['Casualties', event.casualties.map((casualty) => `${casualty.group.replace(/_/g, ' ')}: ${casualtyText(casualty)}`).join('. ')],
  ];
  const list = (items: string[]) => `<ul>${items.map((item) => `<li>${item}</li>`).join('')}</ul>`;
  return [
    `<p>${html(event.summary)}</p>`,
    list(facts.filter(([, value]) => value).map(([label, value]) => `<strong>${label}:</strong> ${html(value)}`)),
    `<p>Sources:</p>`,
    list(event.sources.map((source) => `${html(source.publisher)}: “${html(source.quote)}”`)),
  ].join('');
}

/**
 * One casualty figure in words: the numbers the sources give, then what they
 * do not ("4 injured; number killed not reported"); an unknown number is
 * never written as a number.
 */
export function casualtyText(casualty: Pick<Event['casualties'][number], 'killed' | 'injured'>): string {
  const figures = [
    ['killed', casualty.killed],
    ['injured', casualty.injured],
  ] as const;
  const reported = figures.flatMap(([what, count]) => (count === null ? [] : [`${count} ${what}`]));
  const missing = figures.flatMap(([what, count]) => (count === null ? [what] : []));
  const unreported = missing.length === 2 ? 'numbers killed and injured not reported' : missing.length ? `number ${missing[0]} not reported` : '';
  return [...reported, ...(unreported ? [unreported] : [])].join('; ');
}

/** The date in words: the day, or the interval a month or approximate date stands for. */
function dateText(event: Event): string {
  const { date_start, date_end } = dateInterval(event);
  return date_start === date_end ? `${event.date} (${event.date_precision})` : `${event.date} (${event.date_precision}: ${date_start} to ${date_end})`;
}

/**
 * Whether a record's point belongs on a map: only a site or a city is
 * carried as a GeoRSS point (`_geo` in JSON Feed). A coarser place, a country
 * centroid above all, is given in the item text with its precision, never as
 * a point a reader would plot as exact.
 */
const onMap = (event: Event): boolean => POINT_PRECISIONS.includes(event.location.precision);

/** `lat lon`, as GeoRSS Simple writes a point. */
const geoRssPoint = (event: Event): string => `${event.location.lat} ${event.location.lon}`;

/** The package's Atom root element, and the same with the feed's language. */
const ATOM_ROOT = '<feed xmlns="http://www.w3.org/2005/Atom">';
const ATOM_ROOT_WITH_LANGUAGE = '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">';

/** Sets `xml:lang` on the Atom feed; the package has no option for it. */
function withAtomLanguage(xml: string): string {
  if (!xml.includes(ATOM_ROOT)) throw new Error('Atom output does not start its feed as expected');
  return xml.replace(ATOM_ROOT, ATOM_ROOT_WITH_LANGUAGE);
}

/**
 * A title or summary the package wrote as `type="html"` CDATA. What it holds
 * was HTML-escaped here (no `<`, so no `]]>`), which is also escaped XML for
 * the same text, so it can stand as `type="text"` content unchanged.
 */
const ATOM_HTML_TEXT = /<(title|summary) type="html"><!\[CDATA\[([^<]*?)\]\]><\/\1>/g;

/**
 * Finishes each Atom entry, in order, where the package has no hook: its
 * title and summary as `type="text"`, and its GeoRSS point.
 */
function atomEntries(xml: string, events: readonly Event[]): string {
  const parts = xml.split('</entry>');
  if (parts.length !== events.length + 1) throw new Error('Atom output does not have one entry per record');
  const entries = events.map((event, index) => {
    const entry = parts[index]!.replace(ATOM_HTML_TEXT, '<$1 type="text">$2</$1>');
    if (/<(title|summary) type="html">/.test(entry)) throw new Error('Atom entry text is not in the form expected');
    return `${entry}${onMap(event) ? `<georss:point xmlns:georss="${GEORSS_NAMESPACE}">${geoRssPoint(event)}</georss:point>` : ''}</entry>`;
  });
  return entries.join('') + parts[events.length];
}

/** Lifts the package's JSON Feed 1.0 document to 1.1: `author` becomes `authors`, `language` is set, and the WebSub hub is listed in `hubs`. */
function toJsonFeed11(json: string, hub: string | undefined): string {
  const { author, ...document } = JSON.parse(json) as Record<string, unknown>;
  return JSON.stringify({ ...document, version: JSON_FEED_VERSION, language: 'en', authors: [author], ...(hub ? { hubs: [{ type: 'WebSub', url: hub }] } : {}) });
}

/** Drops what XML 1.0 cannot carry (C0 controls but tab, LF and CR; U+FFFE/U+FFFF; lone surrogates), the discouraged C1 controls and bidirectional controls: `safeText`. */
export const xmlSafe = safeText;

/** Escapes text for HTML. */
function escapeHtml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** Record text as HTML: XML-safe, then escaped. */
const html = (value: string): string => escapeHtml(xmlSafe(value));

/** Text for the package's XML writer, which decodes `&amp;` once before escaping: pre-encoding `&` keeps a literal `&amp;` intact. */
function encodeAmpersands(value: string): string {
  return value.replace(/&/g, '&amp;');
}
