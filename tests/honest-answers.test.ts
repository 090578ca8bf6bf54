/**
 * Issue 10, answers a new user can trust: `q` is a word search, unknown
 * casualty figures stay unknown (filters, exports, feeds, stats), text is
 * clean going in and valid UTF-8 coming out whatever is stored, and every
 * endpoint rejects parameters it does not take, in plain sentences.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import bundled from '../data/events.json';
import { ensureBundlePublished } from '../functions/jobs/publish-bundle.ts';
import type { Event } from '../functions/domain/schema.ts';
import { call, coordinatorStub, getJson, makeEvent, settled } from './helpers.ts';

type Page = { data: Event[]; next_cursor: string | null };
const TOKEN = { authorization: 'Bearer test-admin-token', 'content-type': 'application/json' };
const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

const ids = async (query: string): Promise<string[]> => {
  const { status, body } = await getJson<Page>(`/events?limit=500&${query}`);
  expect(status, query).toBe(200);
  return body.data.map((event) => event.id);
};

/** Records the bundled data lacks, dated 2030 so they never mix with it. */
const unreported = makeEvent('zz-figures-unreported', '2030-01-02', { casualties: [{ group: 'us_military', killed: null, injured: 4 }] });
const reportedNone = makeEvent('zz-reported-none', '2030-01-03', { casualties: [{ group: 'us_military', killed: 0, injured: 0 }] });
const nothingSaid = makeEvent('zz-nothing-said', '2030-01-04', { casualties: [] });
/** Stored as it might be from before the text rules, or put straight into KV: NUL, a lone surrogate, a bidi override. */
const dirty = makeEvent('zz-dirty-text', '2030-01-05', { title: 'Dirty\u0000 title \uD800 here\u202E', summary: 'NUL\u0000 and \uDC00 lone', location: { name: 'Place\u0001', country: 'IQ', lat: 33, lon: 44, precision: 'city' } });

/** "us" only inside words (houses, bus, used), never as one. */
const noUsWord = makeEvent('zz-no-us-word', '2031-01-01', {
  title: 'Houses by the bus depot hit',
  summary: 'Shells used against houses.',
  actors: [
    { id: 'unknown', role: 'perpetrator', as_written: 'Unknown' },
    { id: 'residents', role: 'target', as_written: 'Residents' },
  ],
});

beforeAll(async () => {
  await ensureBundlePublished(env, '2026-11-28T00:00:00.000Z');
  // Written through the Coordinator, bypassing the HTTP schema.
  await coordinatorStub().ingest([unreported, reportedNone, nothingSaid, dirty, noUsWord], '2026-11-29T00:00:00.000Z');
  await settled();
});

describe('q is a word search', () => {
  it('matches whole words, not pieces of words', async () => {
    // KH is found as the alias of Kata'ib Hezbollah in the actor dictionary, never inside "Sakhar".
    expect(await ids('q=KH&until=2029-12-31')).toEqual(await ids('actor=KH&until=2029-12-31'));
    expect(await ids('q=KH&type=attack&until=2019-12-26')).toEqual([]);
    const qWest = await ids('q=Q-West');
    expect(qWest).toEqual(['2019-11-09-q-west-air-base-rocket-attack']);
    // Every bundled record names the US as a word; the one that only holds "us" inside words is not found.
    expect(await ids('q=us&until=2029-12-31')).toHaveLength(bundled.length);
    expect(await ids('q=us&since=2031-01-01')).toEqual([]);
    expect(await ids('q=hous*&since=2031-01-01')).toEqual(['zz-no-us-word']);
  });

  it('asks for a prefix with a trailing *', async () => {
    expect(await ids('q=sakh*')).toEqual(['2024-01-us-strikes-jurf-al-sakhar']);
    expect(await ids('q=sakh')).toEqual([]);
  });

  it('matches a quoted phrase in order', async () => {
    expect(await ids('q=%22jurf%20al%20sakhar%22')).toEqual(['2024-01-us-strikes-jurf-al-sakhar']);
    expect(await ids('q=%22sakhar%20jurf%22')).toEqual([]);
  });

  it('folds case, accents and apostrophes as the index does', async () => {
    expect(await ids('q=KATA%E2%80%99IB%20HIZBOLLAH&type=strike&until=2019-12-31')).toEqual([
      '2019-12-29-us-strikes-kataib-hezbollah-syria',
      '2019-12-29-us-strikes-kataib-hezbollah-iraq',
    ]);
  });
});

describe('unknown is not zero', () => {
  it('has_casualties is true, false or unknown', async () => {
    expect(await ids('has_casualties=true&since=2030-01-01&until=2030-12-31')).toEqual(['zz-figures-unreported']);
    expect(await ids('has_casualties=false&since=2030-01-01&until=2030-12-31')).toEqual(['zz-reported-none']);
    expect(await ids('has_casualties=unknown&since=2030-01-01&until=2030-12-31')).toEqual(['zz-dirty-text', 'zz-nothing-said']);
  });

  it('CSV writes an empty cell and GeoJSON null for a figure not reported', async () => {
    const csv = await (await call('/events.csv?since=2030-01-02&until=2030-01-02')).text();
    const [header, row] = csv.split('\r\n');
    const columns = header!.split(',');
    const cells = row!.split(',');
    expect(cells[columns.indexOf('killed')]).toBe('');
    expect(cells[columns.indexOf('injured')]).toBe('4');
    const { body } = await getJson('/events.geojson?since=2030-01-02&until=2030-01-04');
    const properties = Object.fromEntries(body.features.map((feature: { id: string; properties: object }) => [feature.id, feature.properties]));
    expect(properties['zz-figures-unreported']).toMatchObject({ killed: null, injured: 4 });
    expect(properties['zz-reported-none']).toMatchObject({ killed: 0, injured: 0 });
    expect(properties['zz-nothing-said']).toMatchObject({ killed: null, injured: null });
  });

  it('feeds never give an unknown figure as a number', async () => {
    const feed = await (await getJson('/feed.json?since=2030-01-02&until=2030-01-02')).body;
    const html: string = feed.items[0].content_html;
    expect(html).not.toContain('unknown number');
    expect(html).toContain('4 injured; number killed not reported');
  });

  it('/stats counts casualties by group and actors by role, never one mixed figure', async () => {
    const { body } = await getJson('/stats?until=2024-12-31');
    const stats = body.data;
    expect(stats.total).not.toHaveProperty('killed');
    expect(stats.total.events).toBe(bundled.length);
    const group = (name: string) => stats.total.by_group.find((entry: { group: string }) => entry.group === name);
    expect(group('us_civilian')).toMatchObject({ killed: 1 });
    expect(group('militants')).toMatchObject({ killed: 1 });
    const kh = stats.by_actor.find((entry: { key: string }) => entry.key === 'kataib-hezbollah');
    expect(kh).not.toHaveProperty('injured');
    expect(kh.perpetrator).toBeGreaterThan(0);
    expect(kh.target).toBeGreaterThan(0);
  });

  it('the 2019 attacks carry partner-force injuries of unknown number, quoted', async () => {
    const { body } = await getJson<Event>('/events/2019-12-03-al-asad-air-base-rocket-attack');
    const partners = body.casualties.find((casualty) => casualty.group === 'partner_forces');
    expect(partners).toMatchObject({ killed: null, injured: null });
    expect(body.sources.some((source) => source.quote.includes('injured our partners in the Iraqi Security Forces'))).toBe(true);
    expect(await ids('has_casualties=unknown&until=2019-12-10&type=attack')).toHaveLength(4);
  });
});

describe('clean text in, valid text out', () => {
  const post = (record: object) => call('/events', { method: 'POST', headers: TOKEN, body: JSON.stringify(record) });
  const input = (overrides: object) => {
    const { revision: _r, created_at: _c, updated_at: _u, ...record } = makeEvent('clean-text', '2030-02-01');
    return { ...record, ...overrides };
  };

  it.each([
    ['NUL', { title: 'a\u0000b' }, 'title'],
    ['a control character', { summary: 'bell\u0007' }, 'summary'],
    ['a lone surrogate', { title: 'half \uD800 pair' }, 'title'],
    ['U+FFFE', { location: { name: 'x\uFFFE', country: 'IQ', lat: 1, lon: 1, precision: 'city' } }, 'location.name'],
    ['a bidi override', { title: 'evil\u202Etxt' }, 'title'],
    ['a bidi isolate', { summary: 'evil\u2066txt' }, 'summary'],
    ['a title made only of them', { title: '\u202E\u0000\u2069' }, 'title'],
    ['a newline in a title', { title: 'two\nlines' }, 'title'],
  ])('refuses %s with a 400 naming the field', async (_what, overrides, field) => {
    const response = await post(input(overrides));
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { fields: { field: string }[] } };
    expect(body.error.fields.map((problem) => problem.field)).toContain(field);
  });

  it('stores text NFC-normalised and keeps tabs and newlines in the summary', async () => {
    const response = await post(input({ title: 'Cafe\u0301 attack', summary: 'line one\n\tline two' }));
    expect(response.status).toBe(201);
    await settled();
    const { body } = await getJson<Event>('/events/clean-text');
    expect(body.title).toBe('Caf\u00E9 attack');
    expect(body.summary).toBe('line one\n\tline two');
  });

  it.each(['/events.csv', '/events.geojson', '/feed.rss', '/feed.atom', '/feed.json'])('%s is valid UTF-8 with no NUL or lone surrogate, whatever is stored', async (path) => {
    const response = await call(`${path}?since=2030-01-05&until=2030-01-05`);
    expect(response.status).toBe(200);
    const text = strict.decode(await response.arrayBuffer());
    expect(text).toContain('Dirty');
    expect(text).not.toMatch(/[\u0000\u0001\uFFFD\u202E]|\\u0000|\\ud800|\\udc00/i);
  });
});

describe('consistent errors', () => {
  it('/tallies rejects unknown parameters and filters by since, until and country', async () => {
    const { status, body } = await getJson('/tallies?colour=red');
    expect(status).toBe(400);
    expect(body.error.fields).toEqual([{ field: 'colour', message: 'is not a known parameter' }]);
    const all = (await getJson('/tallies')).body.data as { id: string; area: string[]; as_of: string }[];
    const iraq = (await getJson('/tallies?country=IQ')).body.data as typeof all;
    expect(iraq.length).toBeGreaterThan(0);
    expect(iraq.every((tally) => tally.area.includes('IQ'))).toBe(true);
    const none = (await getJson('/tallies?country=JO')).body.data as typeof all;
    expect(none.length).toBeLessThan(all.length);
    const recent = (await getJson('/tallies?since=2024-01-01')).body.data as typeof all;
    expect(recent.every((tally) => tally.as_of >= '2024-01-01')).toBe(true);
    expect((await getJson('/tallies?until=2024-01-01&since=2024-02-01')).status).toBe(400);
  });

  it('messages are plain sentences about the field', async () => {
    const dates = (await getJson('/events?since=2024-02-01&until=2024-01-01')).body.error;
    expect(dates.fields).toEqual([{ field: 'until', message: 'must not be before since (2024-02-01)' }]);
    expect(dates.message).toBe('Invalid parameter: until must not be before since (2024-02-01)');
    const empty = (await getJson('/events?q=%20')).body.error;
    expect(empty.fields).toEqual([{ field: 'q', message: 'must not be empty' }]);
    const limit = (await getJson('/events?limit=ten')).body.error;
    expect(limit.fields).toEqual([{ field: 'limit', message: 'must be a whole number from 1 to 500 (got "ten")' }]);
  });
});

describe('place spellings from the gazetteer', () => {
  it('finds a record under any spelling the sources use for its place', async () => {
    await ensureBundlePublished(env, '2026-11-28T00:00:00.000Z', true);
    const idsFor = async (q: string) => ((await getJson(`/events?limit=500&q=${encodeURIComponent(q)}`)).body.data as { id: string }[]).map((event) => event.id);
    const placedAt = (name: string) => bundled.filter((event) => event.location.name.startsWith(name)).map((event) => event.id);
    for (const [place, spellings] of [['Erbil Air Base', ['Irbil', 'Arbil']], ['Al-Asad Air Base', ['Ain al-Assad', 'Al Asad']]] as const) {
      expect(placedAt(place).length, place).toBeGreaterThan(0);
      for (const spelling of spellings) expect(await idsFor(spelling), spelling).toEqual(expect.arrayContaining(placedAt(place)));
    }
  });
});
