/**
 * The feeds of the curated dataset read by more real clients, against
 * `wrangler dev`:
 * - the npm parsers rss-parser, feedparser (node) and feedsmith: every item
 *   with its title as plain text (no `&#39;`) starting with the event's date,
 *   its link to the record's page, and its dates (Atom `published` the event's
 *   date and `updated` the record's change, RSS `pubDate` its first publication);
 * - newsboat (Debian's `newsboat`): `newsboat -x reload` with a temporary
 *   configuration and cache, then its cache (SQLite) read: every item with its
 *   title, and an event carried by two subscribed feeds stored once (newsboat
 *   keys items by guid);
 * - the W3C feed validator (github.com/w3c/feedvalidator, Python), when
 *   `FEEDVALIDATOR_SRC` names the `src` folder of a checkout of it: the
 *   README's example feed URLs with no error and no warning at the level of
 *   the online validator, but "Two entries with the same value for
 *   atom:updated" where the feed has several records changed at one time (the
 *   curated records were all written together; see README).
 *
 * newsboat is installed by .ci/run (`apt-get install -y newsboat`): without it
 * its check is skipped with a message, or fails when CI is set. The W3C
 * validator is in neither npm nor Debian, so .ci/run cannot install it: its
 * check is skipped with a message when FEEDVALIDATOR_SRC is not set.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseFeed } from 'feedsmith';
import RssParser from 'rss-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWithCuratedData, stop, type DevServer } from './processes.ts';

const run = promisify(execFile);
const NEWSBOAT = '/usr/bin/newsboat';
const VALIDATOR_SCRIPT = fileURLToPath(new URL('./feedvalidator_check.py', import.meta.url));
/** The README's example feed URLs (Quickstart and "Feeds, exports and stats"), and the unfiltered feeds. */
const EXAMPLE_FEEDS = ['/feed.atom?type=attack&country=SY&has_casualties=true', '/feed.atom', '/feed.rss', '/feed.rss?type=attack&country=IQ&has_casualties=true', '/feed.atom?country=IQ,SY&type=attack'];
/** A title starting with the event's date at its precision: "25 Dec 2023 — ", "Jan 2024 — ", "27 Dec 2019 – 5 Jan 2020 — ". */
const DATED_TITLE = /^(\d{1,2} [A-Z][a-z]{2} \d{4}|[A-Z][a-z]{2} \d{4})( – \d{1,2} [A-Z][a-z]{2} \d{4})? — \S/;
/** The one W3C validator warning allowed, and only on feeds with several records changed at one time. */
const SAME_UPDATED = 'DuplicateUpdated';

/** A record as the JSON API gives it, with what the feeds carry of it. */
interface ApiRecord {
  id: string;
  date: string;
  created_at: string;
  updated_at: string;
}

/** One feed item as a parser read it. */
interface ReadItem {
  parser: string;
  /** The guid / Atom id. */
  id: string | undefined;
  title: string | undefined;
  link: string | undefined;
  /** RSS pubDate or Atom published. */
  published: Date | undefined;
  /** Atom updated. */
  updated?: Date | undefined;
}

/** node's feedparser (no types of its own): a writable stream of the feed that emits its items. */
interface NodeFeedParser extends NodeJS.WritableStream {
  read(): { title: string; link: string; guid: string; pubdate: Date | null; date: Date | null } | null;
  on(event: 'readable' | 'end', listener: () => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
}
const FeedParser = createRequire(import.meta.url)('feedparser') as new () => NodeFeedParser;

const newsboatMissing = existsSync(NEWSBOAT) ? null : `${NEWSBOAT} is not installed (apt-get install -y newsboat)`;
if (newsboatMissing && !process.env.CI) console.warn(`Skipping the newsboat check: ${newsboatMissing}`);
const validatorSource = process.env.FEEDVALIDATOR_SRC;
const validatorMissing = validatorSource
  ? existsSync(join(validatorSource, 'feedvalidator', '__init__.py'))
    ? null
    : `FEEDVALIDATOR_SRC=${validatorSource} holds no feedvalidator package`
  : 'FEEDVALIDATOR_SRC is not set: the W3C feed validator (github.com/w3c/feedvalidator) is in neither npm nor Debian; set it to the src folder of a checkout, with python3-html5lib, python3-rdflib and python3-lxml installed';
if (validatorMissing) console.warn(`Skipping the W3C feed validator check: ${validatorMissing}`);

let worker: DevServer | undefined;
let tmp = '';
/** The curated records by id, as the JSON API gives them. */
const records = new Map<string, ApiRecord>();
const base = () => worker!.base;
const recordId = (guid: string | undefined) => guid?.replace(/^tag:strikewire,\d{4}:event:/, '') ?? '';

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'strikewire-feed-clients-'));
  worker = await startWithCuratedData(join(tmp, 'state'));
  const page = (await (await fetch(`${base()}/events?limit=500`)).json()) as { data: ApiRecord[] };
  for (const record of page.data) records.set(record.id, record);
});

afterAll(async () => {
  await stop(worker);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** The feed at `path` as text. */
const feedText = async (path: string): Promise<string> => (await fetch(`${base()}${path}`)).text();

/** A feed read by node's feedparser. */
async function readWithNodeFeedparser(path: string): Promise<ReadItem[]> {
  const response = await fetch(`${base()}${path}`);
  const parser = new FeedParser();
  const items: ReadItem[] = [];
  return new Promise((resolve, reject) => {
    parser.on('error', reject);
    parser.on('readable', () => {
      for (let item = parser.read(); item; item = parser.read()) {
        items.push({ parser: 'feedparser', id: item.guid, title: item.title, link: item.link, published: item.pubdate ?? undefined, updated: path.includes('atom') ? (item.date ?? undefined) : undefined });
      }
    });
    parser.on('end', () => resolve(items));
    Readable.fromWeb(response.body as never).pipe(parser);
  });
}

/** A feed read by rss-parser. */
async function readWithRssParser(path: string): Promise<ReadItem[]> {
  const feed = await new RssParser().parseString(await feedText(path));
  return feed.items.map((item) => ({ parser: 'rss-parser', id: item.guid ?? item.id, title: item.title, link: item.link, published: item.isoDate ? new Date(item.isoDate) : undefined }));
}

/** A feed read by feedsmith. */
async function readWithFeedsmith(path: string): Promise<ReadItem[]> {
  const parsed = parseFeed(await feedText(path));
  const date = (value: unknown) => (typeof value === 'string' ? new Date(value) : undefined);
  if (parsed.format === 'atom') {
    return (parsed.feed.entries ?? []).map((entry) => ({ parser: 'feedsmith', id: entry.id, title: entry.title?.value, link: entry.links?.find((link) => (link.rel ?? 'alternate') === 'alternate')?.href, published: date(entry.published), updated: date(entry.updated) }));
  }
  if (parsed.format === 'rss') return (parsed.feed.items ?? []).map((item) => ({ parser: 'feedsmith', id: item.guid?.value, title: item.title, link: item.link, published: date(item.pubDate) }));
  throw new Error(`feedsmith read ${path} as ${parsed.format}`);
}

describe('npm feed parsers', () => {
  it.each(['/feed.rss', '/feed.atom'])('read every item of %s with a plain, dated title, its page and its dates (rss-parser, feedparser, feedsmith)', async (path) => {
    const expected = ((await (await fetch(`${base()}${path.replace(/\.(rss|atom)$/, '.json')}`)).json()) as { items: Array<{ id: string; title: string; url: string }> }).items;
    expect(expected.length).toBe(records.size);
    for (const items of [await readWithRssParser(path), await readWithNodeFeedparser(path), await readWithFeedsmith(path)]) {
      const parser = items[0]?.parser;
      expect(items.map((item) => item.id), `${parser}: ids`).toEqual(expected.map((item) => item.id));
      for (const [index, item] of items.entries()) {
        const record = records.get(recordId(item.id))!;
        const what = `${parser} ${path} ${record.id}`;
        expect(item.title, what).toBe(expected[index]!.title);
        expect(item.title, what).toMatch(DATED_TITLE);
        expect(item.title, what).not.toMatch(/&(#\d+|#x[0-9a-f]+|[a-z]+);/i);
        expect(item.link, what).toBe(`${base()}/events/${record.id}`);
        const published = path.endsWith('.atom') ? `${record.date}T00:00:00.000Z` : new Date(record.created_at).toISOString().replace(/\.\d{3}Z$/, '.000Z');
        expect(item.published?.toISOString(), `${what}: published`).toBe(published);
        if (path.endsWith('.atom') && parser !== 'rss-parser') expect(item.updated?.toISOString(), `${what}: updated`).toBe(new Date(record.updated_at).toISOString());
      }
    }
    expect(expected.some((item) => item.title.includes("'")), 'a title with an apostrophe (Al-Qa\'im, Kata\'ib), which type="html" would show as &#39;').toBe(true);
  });
});

describe.skipIf(newsboatMissing !== null && !process.env.CI)('newsboat', () => {
  /** Runs `newsboat -x reload` on `feeds` with an empty configuration, and returns its cache's items. */
  async function reload(name: string, feeds: string[]): Promise<Array<{ guid: string; title: string; url: string; feedurl: string }>> {
    if (newsboatMissing) throw new Error(newsboatMissing);
    const home = mkdtempSync(join(tmp, `newsboat-${name}-`));
    writeFileSync(join(home, 'urls'), feeds.map((path) => `${base()}${path}\n`).join(''));
    writeFileSync(join(home, 'config'), '');
    const cache = join(home, 'cache.db');
    await run(NEWSBOAT, ['-u', join(home, 'urls'), '-c', cache, '-C', join(home, 'config'), '-x', 'reload'], { env: { ...process.env, HOME: home, XDG_CONFIG_HOME: home, XDG_DATA_HOME: home }, timeout: 60_000 });
    const database = new DatabaseSync(cache, { readOnly: true });
    try {
      return database.prepare('SELECT guid, title, url, feedurl FROM rss_item WHERE deleted = 0 ORDER BY guid').all() as Array<{ guid: string; title: string; url: string; feedurl: string }>;
    } finally {
      database.close();
    }
  }

  /** The JSON Feed items of a filter, by guid: the titles every reader should show. */
  async function titles(query: string): Promise<Map<string, string>> {
    const feed = (await (await fetch(`${base()}/feed.json${query}`)).json()) as { items: Array<{ id: string; title: string }> };
    return new Map(feed.items.map((item) => [item.id, item.title]));
  }

  it.each(['/feed.rss', '/feed.atom'])('stores every item of %s with its date-first title and its page', async (path) => {
    const items = await reload(path.slice(6), [path]);
    const expected = await titles('');
    expect(items.map((item) => [item.guid, item.title])).toEqual([...expected].sort(([a], [b]) => (a < b ? -1 : 1)));
    for (const item of items) {
      expect(item.title).toMatch(DATED_TITLE);
      expect(item.url).toBe(`${base()}/events/${recordId(item.guid)}`);
    }
  });

  it('shows an event carried by two subscribed feeds once', async () => {
    const syria = await titles('?country=SY');
    expect(syria.size).toBeGreaterThan(0);
    const items = await reload('both', ['/feed.rss', '/feed.atom', '/feed.atom?country=SY']);
    expect(new Set(items.map((item) => item.guid)).size).toBe(items.length);
    expect(items.map((item) => item.guid).sort()).toEqual([...(await titles('')).keys()].sort());
    for (const guid of syria.keys()) expect(items.filter((item) => item.guid === guid)).toHaveLength(1);
  });
});

describe.skipIf(validatorMissing !== null)('the W3C feed validator', () => {
  it.each(EXAMPLE_FEEDS)('finds no error or warning in %s (but one atom:updated shared by records written together)', async (path) => {
    const { stdout } = await run('/usr/bin/python3', [VALIDATOR_SCRIPT, validatorSource!, `${base()}${path}`], { timeout: 120_000 });
    const found = JSON.parse(stdout) as Array<{ level: string; type: string; text: string }>;
    const updated = await sharedUpdated(path);
    const allowed = found.filter((event) => event.type === SAME_UPDATED && updated);
    expect(found.filter((event) => !allowed.includes(event))).toEqual([]);
  });

  /** Whether two entries of the Atom feed at `path` share one `updated` (records written at one time). */
  async function sharedUpdated(path: string): Promise<boolean> {
    if (!path.startsWith('/feed.atom')) return false;
    const values = [...(await feedText(path)).matchAll(/<entry>[\s\S]*?<updated>([^<]+)<\/updated>/g)].map((match) => match[1]);
    return new Set(values).size < values.length;
  }
});
