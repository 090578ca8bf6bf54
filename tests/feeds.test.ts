/**
 * `/feed.rss`, `/feed.atom` and `/feed.json` through the Worker: content types
 * and structure of each format, titles that start with the event's date at
 * its precision, ids that survive edits, `published` and `updated` per
 * format, self links as requested, links to the HTML pages, GeoRSS points,
 * filters and parameter errors.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { xml2js } from 'xml-js';
import { eventTagUri } from '../functions/domain/feed.ts';
import type { Event } from '../functions/domain/schema.ts';
import { call, expectInvalidParameter, getJson, makeEvent, seed } from './helpers.ts';

const ORIGIN = 'http://strikewire.test';
const TOWER_22 = { name: 'Tower 22', country: 'JO', lat: 33.3189, lon: 38.6981, precision: 'site' } as const;
const AL_TANF = { name: 'Al-Tanf garrison', country: 'SY', lat: 33.4987, lon: 38.6332, precision: 'site' } as const;

const records: Event[] = [
  makeEvent('tanf-drone-attack', '2024-01-29', {
    location: AL_TANF,
    weapons: ['one_way_attack_drone'],
    casualties: [{ group: 'us_military', killed: 0, injured: 4 }],
    created_at: '2026-02-01T00:00:00.000Z',
    updated_at: '2026-02-10T08:00:00.000Z',
  }),
  makeEvent('tower-22-drone-attack', '2024-01-28', {
    location: TOWER_22,
    weapons: ['one_way_attack_drone'],
    casualties: [{ group: 'us_military', killed: 3, injured: 40 }],
    created_at: '2026-02-01T00:00:00.000Z',
    updated_at: '2026-02-03T00:00:00.000Z',
  }),
  makeEvent('qaim-strike', '2024-02-02', { type: 'strike', weapons: ['airstrike'], location: { ...AL_TANF, name: 'Al-Qaim', country: 'IQ', lat: 34.37, lon: 41.09 }, updated_at: '2026-02-05T00:00:00.000Z' }),
  makeEvent('tanf-rocket-attack', '2023-11-20', { location: AL_TANF, updated_at: '2026-02-01T00:00:00.000Z' }),
  makeEvent('asad-missile-attack', '2023-10-01', { date_precision: 'month', title: "Missile attack on Al-Asad & Al-Qa'im", updated_at: '2026-02-01T00:00:00.000Z' }),
  makeEvent('baghdad-strikes', '2023-09-29', {
    type: 'strike',
    date_precision: 'approximate',
    date_window: { start: '2023-09-27', end: '2023-10-04' },
    location: { ...AL_TANF, name: 'Baghdad', country: 'IQ', lat: 33.31, lon: 44.36, precision: 'city' },
    updated_at: '2026-02-01T00:00:00.000Z',
  }),
];

/** The item titles the feeds must show for `records`, by id: the date at its precision, then the title. */
const TITLES: Record<string, string> = {
  'tanf-drone-attack': '29 Jan 2024 — Synthetic event tanf-drone-attack',
  'tower-22-drone-attack': '28 Jan 2024 — Synthetic event tower-22-drone-attack',
  'qaim-strike': '2 Feb 2024 — Synthetic event qaim-strike',
  'tanf-rocket-attack': '20 Nov 2023 — Synthetic event tanf-rocket-attack',
  'asad-missile-attack': "Oct 2023 — Missile attack on Al-Asad & Al-Qa'im",
  'baghdad-strikes': '27 Sep – 4 Oct 2023 — Synthetic event baghdad-strikes',
};
const ALL_IDS = ['qaim-strike', 'tanf-drone-attack', 'tower-22-drone-attack', 'tanf-rocket-attack', 'asad-missile-attack', 'baghdad-strikes'];

/** A compact xml-js node: `_attributes`, `_text` or `_cdata`, and child elements by name. */
type XmlNode = Record<string, any>;

const list = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

async function fetchFeed(path: string): Promise<{ response: Response; text: string }> {
  const response = await call(path);
  expect(response.status, path).toBe(200);
  return { response, text: await response.text() };
}

async function rss(query = ''): Promise<{ channel: XmlNode; items: XmlNode[]; response: Response }> {
  const { response, text } = await fetchFeed(`/feed.rss${query}`);
  const channel = (xml2js(text, { compact: true }) as XmlNode).rss.channel as XmlNode;
  return { channel, items: list(channel.item), response };
}

async function atom(query = ''): Promise<{ feed: XmlNode; entries: XmlNode[]; response: Response }> {
  const { response, text } = await fetchFeed(`/feed.atom${query}`);
  const feed = (xml2js(text, { compact: true }) as XmlNode).feed as XmlNode;
  return { feed, entries: list(feed.entry), response };
}

async function jsonFeed(query = ''): Promise<{ feed: any; response: Response }> {
  const { response, text } = await fetchFeed(`/feed.json${query}`);
  return { feed: JSON.parse(text), response };
}

beforeAll(async () => {
  await seed(records, '2026-02-10T08:00:00.000Z');
});

describe('RSS 2.0', () => {
  it('is application/rss+xml with a self link, updated from the newest record change, and one item per record', async () => {
    const { channel, items, response } = await rss();
    expect(response.headers.get('content-type')).toBe('application/rss+xml; charset=utf-8');
    expect(list(channel['atom:link']).map((link: XmlNode) => link._attributes)).toEqual([
      { rel: 'self', href: `${ORIGIN}/feed.rss`, type: 'application/rss+xml' },
      { rel: 'hub', href: `${ORIGIN}/websub` },
    ]);
    expect(channel.lastBuildDate._text).toBe(new Date('2026-02-10T08:00:00.000Z').toUTCString());
    expect(items.map((item) => item.link._text)).toEqual(ALL_IDS.map((id) => `${ORIGIN}/events/${id}`));
    expect(channel.link._text).toBe(`${ORIGIN}/events`);
    expect(channel.language._text).toBe('en');
  });

  it('starts each title with the event date at its precision, and keeps pubDate at first publication', async () => {
    const { items } = await rss();
    expect(items.map((item) => item.title._text)).toEqual(ALL_IDS.map((id) => TITLES[id]));
    expect(items.map((item) => item.pubDate._text)).toEqual(ALL_IDS.map((id) => new Date(records.find((record) => record.id === id)!.created_at).toUTCString()));
  });

  it('gives each item a permanent guid, its link, a GeoRSS point "lat lon" and categories', async () => {
    const { items } = await rss('?country=JO');
    expect(items).toHaveLength(1);
    const [item] = items as [XmlNode];
    expect(item.guid).toEqual({ _attributes: { isPermaLink: 'false' }, _text: eventTagUri('tower-22-drone-attack') });
    expect(item.title._text).toBe(TITLES['tower-22-drone-attack']);
    expect(item['georss:point']).toEqual({ _attributes: { 'xmlns:georss': 'http://www.georss.org/georss' }, _text: '33.3189 38.6981' });
    expect(list(item.category).map((category: XmlNode) => category._text)).toEqual(['attack', 'JO', 'one_way_attack_drone']);
    expect(item.description._cdata).toContain('us military: 3 killed; 40 injured');
  });
});

describe('Atom', () => {
  it('is application/atom+xml in English with URL ids, a self link and updated from the newest record change', async () => {
    const { feed, entries, response } = await atom('?type=attack');
    expect(response.headers.get('content-type')).toBe('application/atom+xml; charset=utf-8');
    expect(feed._attributes).toEqual({ xmlns: 'http://www.w3.org/2005/Atom', 'xml:lang': 'en' });
    expect(feed.id._text).toBe(`${ORIGIN}/feed.atom?type=attack`);
    expect(list(feed.link).map((link: XmlNode) => link._attributes)).toEqual([
      { rel: 'alternate', href: `${ORIGIN}/events?type=attack` },
      { rel: 'self', href: `${ORIGIN}/feed.atom?type=attack` },
      { rel: 'hub', href: `${ORIGIN}/websub` },
    ]);
    expect(feed.updated._text).toBe('2026-02-10T08:00:00.000Z');
    expect(entries.map((entry) => entry.id._text)).toEqual(['tanf-drone-attack', 'tower-22-drone-attack', 'tanf-rocket-attack', 'asad-missile-attack'].map(eventTagUri));
    const [first] = entries as [XmlNode];
    expect(first.link._attributes.href).toBe(`${ORIGIN}/events/tanf-drone-attack`);
    expect(first['georss:point']._text).toBe('33.4987 38.6332');
  });

  it('publishes each entry at the event date, updated at the record change', async () => {
    const { entries } = await atom();
    expect(entries.map((entry) => [entry.id._text, entry.published._text, entry.updated._text])).toEqual(
      ALL_IDS.map((id) => {
        const record = records.find((each) => each.id === id)!;
        return [eventTagUri(id), `${record.date}T00:00:00.000Z`, record.updated_at];
      }),
    );
  });

  it('writes titles and summaries as plain text, and the details as HTML content', async () => {
    const { entries } = await atom('?country=IQ&type=attack');
    const [entry] = entries as [XmlNode];
    expect(entry.title).toEqual({ _attributes: { type: 'text' }, _text: TITLES['asad-missile-attack'] });
    expect(entry.summary).toEqual({ _attributes: { type: 'text' }, _text: 'A synthetic record used by the tests.' });
    expect(entry.content._attributes.type).toBe('html');
    expect(entry.content._cdata).toContain('<strong>Date:</strong> 2023-10-01 (month: 2023-10-01 to 2023-10-31)');
  });
});

describe('JSON Feed', () => {
  it('is JSON Feed 1.1 as application/feed+json, with a feed_url, authors and [lon, lat] places', async () => {
    const { feed, response } = await jsonFeed('?limit=2');
    expect(response.headers.get('content-type')).toBe('application/feed+json; charset=utf-8');
    expect(feed).toMatchObject({ version: 'https://jsonfeed.org/version/1.1', feed_url: `${ORIGIN}/feed.json?limit=2`, home_page_url: `${ORIGIN}/events?limit=2`, authors: [{ name: 'strikewire' }], language: 'en' });
    expect(feed.author).toBeUndefined();
    expect(feed.items.map((item: { id: string }) => item.id)).toEqual([eventTagUri('qaim-strike'), eventTagUri('tanf-drone-attack')]);
    expect(feed.items[1]).toMatchObject({
      url: `${ORIGIN}/events/tanf-drone-attack`,
      title: TITLES['tanf-drone-attack'],
      summary: 'A synthetic record used by the tests.',
      date_modified: '2026-02-10T08:00:00.000Z',
      date_published: '2026-02-01T00:00:00.000Z',
      _geo: { type: 'Point', coordinates: [38.6332, 33.4987] },
      tags: ['attack', 'SY', 'one_way_attack_drone'],
    });
  });
});

describe('all formats', () => {
  it('honour the /events filters, name them in the title, link themselves as requested and take the canonical URL as id', async () => {
    const query = '?type=attack&has_casualties=true&country=SY,JO&since=2024-01-29';
    const canonical = `?country=SY%2CJO&has_casualties=true&since=2024-01-29&type=attack`;
    const { feed } = await jsonFeed(query);
    expect(feed.items.map((item: { url: string }) => item.url)).toEqual([`${ORIGIN}/events/tanf-drone-attack`]);
    expect(feed.feed_url).toBe(`${ORIGIN}/feed.json${query}`);
    expect(feed.home_page_url).toBe(`${ORIGIN}/events${query}`);
    expect(feed.title).toBe('strikewire events: country=SY,JO, has_casualties=true, since=2024-01-29, type=attack');
    const { items, channel } = await rss(query);
    expect(items.map((item) => item.guid._text)).toEqual([eventTagUri('tanf-drone-attack')]);
    expect(list(channel['atom:link']).find((link: XmlNode) => link._attributes.rel === 'self')._attributes.href).toBe(`${ORIGIN}/feed.rss${query}`);
    const { feed: atomFeed } = await atom(query);
    expect(atomFeed.id._text).toBe(`${ORIGIN}/feed.atom${canonical}`);
    expect(list(atomFeed.link).find((link: XmlNode) => link._attributes.rel === 'self')._attributes.href).toBe(`${ORIGIN}/feed.atom${query}`);
  });

  it('link each item to its record, which is JSON to API clients and a page to browsers', async () => {
    const { feed } = await jsonFeed('?limit=1');
    const { status, body } = await getJson(new URL(feed.items[0].url).pathname);
    expect(status).toBe(200);
    expect(body.id).toBe('qaim-strike');
    for (const url of [feed.items[0].url, feed.home_page_url]) {
      const page = await call(new URL(url).pathname + new URL(url).search, { headers: { Accept: 'text/html' } });
      expect(page.status, url).toBe(200);
      expect(page.headers.get('content-type'), url).toMatch(/^text\/html/);
    }
  });

  it('keep ids when a record is edited, and move updated to the edit', async () => {
    const before = { json: (await jsonFeed()).feed.items.map((item: { id: string }) => item.id), rss: (await rss()).items.map((item) => item.guid._text), atom: (await atom()).entries.map((entry) => entry.id._text) };
    const edited = { ...records[3]!, title: 'Rocket attack on Al-Tanf garrison (corrected)', date: '2023-11-21' };
    await seed([edited], '2026-03-05T12:00:00.000Z');

    const { feed } = await jsonFeed();
    expect(feed.items.map((item: { id: string }) => item.id)).toEqual(before.json);
    expect((await rss()).items.map((item) => item.guid._text)).toEqual(before.rss);
    const after = await atom();
    expect(after.entries.map((entry) => entry.id._text)).toEqual(before.atom);
    expect(after.feed.updated._text).toBe('2026-03-05T12:00:00.000Z');
    expect(feed.items.find((item: { id: string }) => item.id === eventTagUri('tanf-rocket-attack'))).toMatchObject({ title: `21 Nov 2023 — ${edited.title}`, date_modified: '2026-03-05T12:00:00.000Z', id: eventTagUri('tanf-rocket-attack') });
  });

  it('take updated from the records shown, not from the time of the request', async () => {
    const { feed } = await atom('?country=JO');
    expect(feed.updated._text).toBe('2026-02-03T00:00:00.000Z');
    const { channel } = await rss('?country=JO');
    expect(channel.lastBuildDate._text).toBe(new Date('2026-02-03T00:00:00.000Z').toUTCString());
  });

  it.each([
    ['/feed.rss?type=bombing', 'type'],
    ['/feed.atom?cursor=abc', 'cursor'],
    ['/feed.json?colour=red', 'colour'],
    ['/feed.json?limit=501', 'limit'],
    ['/feed.rss?since=2024-02-01&until=2024-01-01', 'until'],
  ])('answer 400 for %s, naming %s', expectInvalidParameter);
});
