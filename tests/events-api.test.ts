/**
 * `/events`, `/events/:id`, `/tallies`, `/` and `/healthz` through the real
 * Worker entry point in workerd, on the curated dataset published from data/.
 */
import { env } from 'cloudflare:workers';
import { ensureBundlePublished } from '../functions/jobs/publish-bundle.ts';
import { beforeAll, describe, expect, it } from 'vitest';
import bundled from '../data/events.json';
import type { Event } from '../functions/domain/schema.ts';
import { call, getJson } from './helpers.ts';

type Page = { data: Event[]; next_cursor: string | null };
const ids = async (query: string): Promise<string[]> => {
  const { status, body } = await getJson<Page>(`/events?limit=500&${query}`);
  expect(status, query).toBe(200);
  return body.data.map((event) => event.id);
};

beforeAll(async () => {
  await ensureBundlePublished(env, '2026-11-28T00:00:00.000Z');
});

describe('GET /events', () => {
  it('returns the dataset newest first with a null cursor at the end', async () => {
    const { status, body, response } = await getJson<Page>('/events');
    expect(status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(body.data).toHaveLength(bundled.length);
    expect(body.next_cursor).toBeNull();
    const keys = body.data.map((event) => `${event.date}|${event.id}`);
    expect(keys).toEqual([...keys].sort().reverse());
    expect(body.data.at(-1)?.id).toBe('2019-11-09-q-west-air-base-rocket-attack');
  });

  it('filters by since and until, inclusive, on the days each record may have happened', async () => {
    // The 2019 strikes (approximate, 27 December 2019 to 5 January 2020) overlap the range; within it only the day records are.
    expect(await ids('since=2019-12-05&until=2019-12-27')).toEqual(['2019-12-29-us-strikes-kataib-hezbollah-syria', '2019-12-29-us-strikes-kataib-hezbollah-iraq', ...(await ids('since=2019-12-05&until=2019-12-27&date_match=within'))]);
    const found = await ids('since=2019-12-05&until=2019-12-27&date_match=within');
    expect(found).toEqual([
      '2019-12-27-kataib-hezbollah-attack-kills-us-civilian',
      '2019-12-09-baghdad-diplomatic-support-center-rocket-attack',
      '2019-12-05-balad-air-base-rocket-attack',
    ]);
  });

  it('filters by type, including a comma list', async () => {
    expect(await ids('type=deployment')).toEqual(['2019-12-31-marines-deployed-to-us-embassy-baghdad', '2019-12-31-82nd-airborne-battalion-deployed']);
    const both = await ids('type=incident,deployment');
    expect(both).toHaveLength(3);
  });

  it('filters by country, case-insensitively', async () => {
    expect(await ids('country=sy')).toEqual(['2019-12-29-us-strikes-kataib-hezbollah-syria']);
    expect((await ids('country=IQ,SY')).length).toBe(bundled.length);
  });

  it('filters by actor across the spellings the sources use', async () => {
    const kataib = await ids('actor=Kata%27ib%20Hezbollah');
    expect(await ids('actor=kataeb%20hezbollah')).toEqual(kataib);
    expect(await ids('actor=Kata%27ib%20Hizbollah')).toEqual(kataib);
    expect(kataib).toContain('2023-12-25-erbil-air-base-drone-attack');
    expect(await ids('actor=islamic%20resistance')).toEqual(['2023-12-25-erbil-air-base-drone-attack']);
  });

  it('filters by weapon', async () => {
    expect(await ids('weapon=one_way_attack_drone')).toEqual(['2023-12-25-erbil-air-base-drone-attack']);
    expect(await ids('weapon=mortar,ballistic_missile')).toEqual(['2024-01-al-asad-air-base-missile-attack', '2023-12-us-embassy-baghdad-mortar-fire']);
  });

  it('searches text with q (all words must match)', async () => {
    expect(await ids('q=Hillah')).toEqual(['2023-12-25-us-strikes-kataib-hezbollah-facilities-iraq']);
    expect(await ids('q=embassy%20mortar')).toEqual(['2023-12-us-embassy-baghdad-mortar-fire']);
    expect(await ids('q=nothing-like-this')).toEqual([]);
  });

  it('filters by bbox', async () => {
    // Around Baghdad: the embassy, the airport support center and (placed approximately, so only when asked for) Jurf al-Sakhar.
    const baghdad = await ids('bbox=44.0,32.8,44.5,33.5');
    expect(baghdad).toContain('2019-12-09-baghdad-diplomatic-support-center-rocket-attack');
    expect(baghdad).not.toContain('2024-01-us-strikes-jurf-al-sakhar');
    expect(await ids('bbox=44.0,32.8,44.5,33.5&precision=site,city,approximate')).toContain('2024-01-us-strikes-jurf-al-sakhar');
    expect(baghdad).not.toContain('2023-12-25-erbil-air-base-drone-attack');
    expect(await ids('bbox=-10,-10,10,10')).toEqual([]);
  });

  it('filters by has_casualties: true, false (reported as none) or unknown', async () => {
    const hurt = await ids('has_casualties=true');
    expect(hurt).toEqual([
      '2024-01-al-asad-air-base-missile-attack',
      '2023-12-25-us-strikes-kataib-hezbollah-facilities-iraq',
      '2023-12-25-erbil-air-base-drone-attack',
      '2019-12-27-kataib-hezbollah-attack-kills-us-civilian',
    ]);
    // No bundled source reports an event as causing no casualties: the rest give no figure (or no number), which is unknown, not none.
    expect(await ids('has_casualties=false')).toEqual([]);
    expect((await ids('has_casualties=unknown')).length).toBe(bundled.length - hurt.length);
  });

  it('combines filters', async () => {
    expect(await ids('type=attack&country=IQ&since=2023-01-01&has_casualties=true')).toEqual([
      '2024-01-al-asad-air-base-missile-attack',
      '2023-12-25-erbil-air-base-drone-attack',
    ]);
  });

  it('pages with limit and cursor without duplicates or gaps', async () => {
    const all = await ids('');
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const { body }: { body: Page } = await getJson<Page>(`/events?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(body.data.length).toBeLessThanOrEqual(3);
      seen.push(...body.data.map((event) => event.id));
      cursor = body.next_cursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual(all);
    expect(pages).toBe(Math.ceil(all.length / 3));
  });

  it.each([
    ['limit=0', 'limit'],
    ['limit=501', 'limit'],
    ['limit=ten', 'limit'],
    ['since=2024-13-01', 'since'],
    ['until=yesterday', 'until'],
    ['since=2024-01-02&until=2024-01-01', 'until'],
    ['type=massacre', 'type'],
    ['type=attack,', 'type'],
    ['country=IRQ', 'country'],
    ['weapon=laser', 'weapon'],
    ['bbox=1,2,3', 'bbox'],
    ['bbox=0,10,1,5', 'bbox'],
    ['bbox=0,-91,1,5', 'bbox'],
    ['has_casualties=yes', 'has_casualties'],
    ['q=', 'q'],
    ['limit=5&limit=6', 'limit'],
    ['cursor=not-a-cursor', 'cursor'],
    ['colour=red', 'colour'],
  ])('answers 400 naming the parameter for %s', async (query, field) => {
    const { status, body, response } = await getJson(`/events?${query}`);
    expect(status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(body.error.code).toBe('invalid_parameter');
    expect(body.error.fields.map((problem: { field: string }) => problem.field)).toContain(field);
    expect(body.error.message).toContain(field);
  });
});

describe('GET /events/:id', () => {
  it('returns one record with its sources', async () => {
    const { status, body } = await getJson<Event>('/events/2023-12-25-erbil-air-base-drone-attack');
    expect(status).toBe(200);
    expect(body.location.name).toMatch(/Erbil/);
    expect(body.casualties).toEqual([{ group: 'us_military', killed: null, injured: 3, note: 'One service member in critical condition.' }]);
    expect(body.sources.length).toBeGreaterThan(1);
  });

  it('answers 404 JSON for an unknown id and 400 for a malformed one', async () => {
    const missing = await getJson('/events/2099-01-01-nothing');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
    const malformed = await getJson('/events/Not%20A%20Slug');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.fields[0].field).toBe('id');
  });
});

describe('other endpoints', () => {
  it('GET /tallies lists reported tallies with sources, newest first', async () => {
    const { status, body } = await getJson('/tallies');
    expect(status).toBe(200);
    expect(body.data.map((tally: { value: number }) => tally.value)).toContain(103);
    const asOf = body.data.map((tally: { as_of: string }) => tally.as_of);
    expect(asOf).toEqual([...asOf].sort().reverse());
  });

  it('GET /healthz reports the dataset revision and size', async () => {
    const { status, body } = await getJson('/healthz');
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: 'ok', events: bundled.length });
    expect(body.revision).toBeGreaterThan(0);
  });

  it('GET / describes the endpoints', async () => {
    const { status, body } = await getJson('/');
    expect(status).toBe(200);
    expect(Object.keys(body.endpoints)).toEqual(expect.arrayContaining(['GET /events', 'GET /events/{id}', 'GET /tallies', 'GET /healthz']));
  });

  it('answers unknown routes with 404 JSON', async () => {
    const { status, body } = await getJson('/nowhere');
    expect(status).toBe(404);
    expect(body.error.code).toBe('not_found');
  });

  it('opens GET to any origin (CORS), including preflight', async () => {
    const simple = await call('/events?limit=1', { headers: { Origin: 'https://dashboard.example' } });
    expect(simple.headers.get('access-control-allow-origin')).toBe('*');
    const preflight = await call('/events', { method: 'OPTIONS', headers: { Origin: 'https://dashboard.example', 'Access-Control-Request-Method': 'GET' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-methods')).toContain('GET');
  });
});
