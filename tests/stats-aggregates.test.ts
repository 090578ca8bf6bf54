/**
 * `/stats` from the aggregates kept at write time (domain/stats-cells.ts):
 * for many filter combinations it must give exactly what `summarize` gives
 * over every matching record, computed here from the records written (the
 * curated dataset and a few thousand generated records of every date
 * precision, windows crossing months and years, actors, weapons and
 * casualty figures), after updates that move records between cells,
 * retractions and restores, and for records stored before the aggregates
 * existed (built by the alarm in slices, with writes on both sides of the
 * build's cursor). It reads a constant number of KV keys, never the manifest
 * or a chunk, whatever the size of the dataset (nor does `/actors`, whose
 * counts come from them); `q` answers from a bounded scan, partial with a
 * cursor whose parts sum to the whole. With no filter it sends the answer
 * the writer published with the aggregates (the head and that key, the
 * same bytes as their sum), sums them where a location cannot read it, and
 * publishes none past its bound of cells.
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import * as v from 'valibot';
import { beforeAll, describe, expect, it } from 'vitest';
import bundledEvents from '../data/events.json';
import { ACTORS } from '../functions/domain/actors.ts';
import { HEAD_KEY, MANIFEST_KEY, toIndexEntry, type IndexHead } from '../functions/domain/layout.ts';
import { FilterQuerySchema, matchesFilter, queryObject } from '../functions/domain/query.ts';
import { ACTOR_ROLES, CASUALTY_GROUPS, EVENT_TYPES, LOCATION_PRECISIONS, WEAPONS, type Event } from '../functions/domain/schema.ts';
import { summarize, type EventStats } from '../functions/domain/stats.ts';
import { statsAnswerKey, type Cell, type CellFacets, type CellSums, type StatsDirectory } from '../functions/domain/stats-cells.ts';
import { decodeStatsYear, type PublishedStatsYear } from '../functions/domain/stats-year.ts';
import type { Coordinator } from '../functions/store/coordinator.ts';
import { readStats } from '../functions/store/events-store.ts';
import { StatsTable } from '../functions/store/stats-table.ts';
import { coordinatorStub, getCounting, getJson, makeEvent, seed, settled } from './helpers.ts';

/** The records as the test wrote them, by id: the oracle's input. */
const live = new Map<string, Event>();

/** A small deterministic generator, so a failure can be replayed. */
function generator(seedValue: number): (below: number) => number {
  let state = seedValue;
  return (below) => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state % below;
  };
}

const COUNTRIES = ['IQ', 'SY', 'JO', 'IR'];

/** Generated record `i`: dates 2018–2024 at every precision (approximate windows up to 45 days each side), mixed facets. */
function generated(i: number, random: (below: number) => number, prefix = 'gen'): Event {
  const day = new Date(Date.UTC(2018, 0, 1 + random(7 * 365))).toISOString().slice(0, 10);
  const precision = random(10);
  const shift = (days: number) => new Date(Date.parse(`${day}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
  const dated: Partial<Event> =
    precision < 7 ? { date: day, date_precision: 'day' } : precision < 8 ? { date: `${day.slice(0, 7)}-01`, date_precision: 'month' } : { date: day, date_precision: 'approximate', date_window: { start: shift(-random(45)), end: shift(random(45)) } };
  const pick = <T,>(list: readonly T[]): T => list[random(list.length)]!;
  const actors = Array.from({ length: 1 + random(3) }, () => {
    const actor = random(12) === 0 ? { id: 'unlisted-cell', name: 'Unlisted Cell' } : pick(ACTORS);
    return { id: actor.id, role: pick(ACTOR_ROLES), as_written: actor.name };
  });
  const figure = () => (random(3) === 0 ? null : random(4));
  const casualties = Array.from({ length: random(3) }, () => ({ group: pick(CASUALTY_GROUPS), killed: figure(), injured: figure() }));
  return makeEvent(`${prefix}-${String(i).padStart(5, '0')}`, day, {
    ...dated,
    type: pick(EVENT_TYPES),
    location: { name: 'Somewhere', country: pick(COUNTRIES), lat: 30 + random(10), lon: 38 + random(10), precision: pick(LOCATION_PRECISIONS) },
    actors,
    weapons: [...new Set([pick(WEAPONS), pick(WEAPONS)])],
    casualties,
  } as Partial<Event>);
}

/** Writes records through the Coordinator in batches of 500 and remembers them. */
async function write(records: readonly Event[], now: string): Promise<void> {
  for (let start = 0; start < records.length; start += 500) await seed(records.slice(start, start + 500), now);
  for (const record of records) live.set(record.id, record);
}

/** What `summarize` gives over the live records matching the query. */
function expected(query: string): EventStats {
  const filter = v.parse(FilterQuerySchema, queryObject(new URLSearchParams(query)));
  return summarize([...live.values()].map(toIndexEntry).filter((entry) => matchesFilter(entry, filter)));
}

/** Filter combinations: dates cutting months and years (both matches), each facet, and mixes. */
const QUERIES = [
  '',
  'since=2020-03-15',
  'until=2021-07-09',
  'since=2019-02-10&until=2019-02-20',
  'since=2019-02-01&until=2019-02-28',
  'since=2019-12-31&until=2020-01-01',
  'since=2018-06-30&until=2023-01-02&date_match=within',
  'since=2020-05-05&until=2020-09-17&date_match=within',
  'since=2021-01-01&until=2021-12-31&date_match=within',
  'type=strike',
  'type=attack,deployment&country=SY',
  'country=IR&precision=site,city',
  'precision=country',
  'actor=KH',
  'actor=us',
  'actor=iran&actor_role=directed_by',
  'actor_role=claimant',
  'actor=unlisted cell',
  'weapon=one_way_attack_drone',
  'weapon=rocket,ballistic_missile&type=attack',
  'has_casualties=true',
  'has_casualties=false',
  'has_casualties=unknown&country=IQ',
  'since=2022-02-14&until=2022-11-03&type=attack&country=IQ&has_casualties=true',
  'since=2019-04-04&actor=KH&actor_role=perpetrator&weapon=rocket',
  'until=2020-02-29&date_match=within&precision=approximate',
  'since=2023-12-31',
  'since=2030-01-01',
];

/** Asserts `/stats?query` equals the oracle, and that it was answered from the aggregates (no manifest, no chunk read). */
async function expectExact(query: string): Promise<void> {
  const { response, body, reads } = await getCounting(`/stats?${query}`);
  expect(response.status, query).toBe(200);
  expect(JSON.parse(body).data, query).toEqual(expected(query));
  expect(reads.filter((key) => key === MANIFEST_KEY || key.startsWith('index:chunk:')), query).toEqual([]);
}

beforeAll(async () => {
  await write(bundledEvents as Event[], '2026-03-01T00:00:00.000Z');
  const random = generator(20_261_130);
  await write(
    Array.from({ length: 3_000 }, (_, i) => generated(i, random)),
    '2026-03-01T00:00:00.000Z',
  );
}, 180_000);

describe('/stats from write-time aggregates', () => {
  it('equals summarize over the matching records for every filter combination', async () => {
    for (const query of QUERIES) await expectExact(query);
  }, 120_000);

  it('gives /actors its counts by role from the aggregates, without reading the index', async () => {
    const { body, reads } = await getCounting('/actors');
    const byActor = new Map(expected('').by_actor.map((actor) => [actor.key, actor]));
    for (const actor of JSON.parse(body).data as { id: string; counts: Record<string, number> }[]) {
      const known = byActor.get(actor.id);
      expect(actor.counts, actor.id).toEqual({ perpetrator: known?.perpetrator ?? 0, claimant: known?.claimant ?? 0, target: known?.target ?? 0, directed_by: known?.directed_by ?? 0 });
    }
    expect(reads.filter((key) => key === MANIFEST_KEY || key.startsWith('index:chunk:'))).toEqual([]);
  });

  it('stays exact after updates that move records between cells, retractions and restores', async () => {
    const random = generator(7);
    const ids = [...live.keys()].filter((id) => id.startsWith('gen-'));
    const moved = ids.slice(0, 300).map((id, i) => ({ ...generated(i + 10_000, random), id }));
    const retitled = ids.slice(300, 350).map((id) => ({ ...live.get(id)!, title: `Retitled ${id}` }));
    await write([...moved, ...retitled], '2026-03-02T00:00:00.000Z');
    const retracted = ids.slice(400, 460);
    for (const id of retracted) await coordinatorStub().retract(id, 'test', '2026-03-03T00:00:00.000Z');
    await settled();
    const restored = retracted.slice(0, 20).map((id) => live.get(id)!);
    for (const id of retracted) live.delete(id);
    for (const query of QUERIES) await expectExact(query);
    await write(restored, '2026-03-04T00:00:00.000Z');
    for (const query of QUERIES) await expectExact(query);
  }, 180_000);

  it('reads the same few KV keys per request whatever the size of the dataset', async () => {
    const query = 'since=2019-02-10&until=2022-06-20&country=SY';
    const before = await getCounting(`/stats?${query}`);
    const random = generator(99);
    await write(
      Array.from({ length: 2_000 }, (_, i) => generated(i, random, 'more')),
      '2026-03-05T00:00:00.000Z',
    );
    const after = await getCounting(`/stats?${query}`);
    expect(JSON.parse(after.body).data).toEqual(expected(query));
    // The head, the directory, one bulk read of the years and one of the two cut months.
    expect(before.reads).toHaveLength(4);
    expect(after.reads).toHaveLength(before.reads.length);
    expect(after.reads[0]).toBe(HEAD_KEY);
    expect(after.reads.filter((key) => key === MANIFEST_KEY || key.startsWith('index:chunk:'))).toEqual([]);
  }, 180_000);

  it('sends the answer with no filter as the writer published it: the head and that key alone, the same bytes as the sum of the aggregates', async () => {
    const head = (await env.EVENTS.get<IndexHead>(HEAD_KEY, 'json'))!;
    const key = statsAnswerKey(head.stats!);
    const published = await env.EVENTS.get(key, 'text');
    expect(published).toBe(JSON.stringify({ data: await readStats(env.EVENTS, head.stats!, {}) }));
    // `date_match` alone filters nothing: the answer with no filter, under a URL not cached yet.
    const { response, body, reads } = await getCounting('/stats?date_match=within');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(reads).toEqual([HEAD_KEY, key]);
    expect(body).toBe(published);
    expect(JSON.parse(body).data).toEqual(expected(''));
  });

  it('sums the aggregates, to the same bytes, where this location cannot read the published answer', async () => {
    const head = (await env.EVENTS.get<IndexHead>(HEAD_KEY, 'json'))!;
    const key = statsAnswerKey(head.stats!);
    const published = await env.EVENTS.get(key, 'text');
    await env.EVENTS.delete(key);
    try {
      const { body, reads } = await getCounting('/stats?date_match=overlap');
      // The head, the answer (missing), then the directory and years in bulk reads.
      expect(reads.slice(0, 2)).toEqual([HEAD_KEY, key]);
      expect(reads.length).toBeGreaterThan(2);
      expect(body).toBe(published);
    } finally {
      await env.EVENTS.put(key, published!);
    }
  });

  it('sums the cells of the year keys once for a store whose aggregates were kept before them, to the same sums', async () => {
    await runInDurableObject(coordinatorStub(), (_instance, state) => {
      const sql = state.storage.sql;
      const coarse = () => sql.exec<{ month: string; cell: string; sums: string }>('SELECT month, cell, sums FROM stats_coarse ORDER BY month, cell').toArray().map((row) => ({ ...row }));
      const kept = coarse();
      expect(kept.length).toBeGreaterThan(100);
      sql.exec('DELETE FROM stats_coarse');
      sql.exec("DELETE FROM meta WHERE key = 'stats_coarse_built'");
      new StatsTable(sql);
      expect(coarse()).toEqual(kept);
    });
  });

  it('publishes each year with its facet combinations listed once, read back to exactly the cells the Coordinator keeps', async () => {
    const head = (await env.EVENTS.get<IndexHead>(HEAD_KEY, 'json'))!;
    const directory = (await env.EVENTS.get<StatsDirectory>(head.stats!, 'json'))!;
    expect(directory.years.length).toBeGreaterThan(5);
    const kept = await runInDurableObject(coordinatorStub(), (_instance, state) =>
      state.storage.sql
        .exec<{ month: string; cell: string; sums: string }>('SELECT month, cell, sums FROM stats_coarse')
        .toArray()
        .map((row): Cell => [JSON.parse(row.cell) as CellFacets, JSON.parse(row.sums) as CellSums]),
    );
    const byText = (cells: readonly Cell[]) => cells.map((cell) => JSON.stringify(cell)).sort();
    for (const [year, key] of directory.years) {
      const published = (await env.EVENTS.get<PublishedStatsYear>(key, 'json'))!;
      expect(published.format).toBe(2);
      expect(new Set(published.combinations.map((combination) => JSON.stringify(combination))).size).toBe(published.combinations.length);
      const decoded = decodeStatsYear(published, key);
      expect(byText(decoded.cells)).toEqual(byText(kept.filter(([facets]) => facets[0].startsWith(`${year}-`))));
      for (const month of Object.values(decoded.months)) expect(await env.EVENTS.get(month, 'json'), month).not.toBeNull();
    }
  });

  it('reads year keys published as the cells themselves (before the combinations were listed once) exactly', async () => {
    const head = (await env.EVENTS.get<IndexHead>(HEAD_KEY, 'json'))!;
    const directory = (await env.EVENTS.get<StatsDirectory>(head.stats!, 'json'))!;
    const published = new Map<string, string>();
    for (const [, key] of directory.years) published.set(key, (await env.EVENTS.get(key, 'text'))!);
    try {
      for (const [key, text] of published) await env.EVENTS.put(key, JSON.stringify(decodeStatsYear(JSON.parse(text) as PublishedStatsYear, key)));
      for (const query of QUERIES.filter((query) => query !== '')) {
        expect(await readStats(env.EVENTS, head.stats!, v.parse(FilterQuerySchema, queryObject(new URLSearchParams(query)))), query).toEqual(expected(query));
      }
    } finally {
      for (const [key, text] of published) await env.EVENTS.put(key, text);
    }
  }, 120_000);

  it('publishes no answer with no filter past its bound of cells', async () => {
    const head = (await env.EVENTS.get<IndexHead>(HEAD_KEY, 'json'))!;
    const key = statsAnswerKey(head.stats!);
    const values = await runInDurableObject(coordinatorStub(), (_instance, state) => {
      const cells = state.storage.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM stats_coarse').one().n;
      return { cells, within: new StatsTable(state.storage.sql, cells).publishedValue(key), past: new StatsTable(state.storage.sql, cells - 1).publishedValue(key) };
    });
    expect(values.within).toBe(await env.EVENTS.get(key, 'text'));
    expect(values.past).toBeNull();
  });

  it('answers q from a bounded scan, partial with a cursor, and the parts add up to the whole', async () => {
    const query = 'q=synthetic';
    const totals = { events: 0 };
    let path = `/stats?${query}`;
    let parts = 0;
    for (;;) {
      const { body } = await getJson(path);
      totals.events += body.data.total.events;
      parts++;
      if (!body.partial) {
        expect(body.next_cursor).toBeNull();
        break;
      }
      path = `/stats?${query}&cursor=${body.next_cursor}`;
    }
    expect(parts).toBeGreaterThan(1);
    expect(totals.events).toBe(expected(query).total.events);
  }, 120_000);

  it('builds the aggregates of records stored before them in slices, with writes on both sides of the build cursor', async () => {
    const stub = coordinatorStub();
    const random = generator(3);
    // Bundled ids sort before the first slice's cursor (1,000 records in id order), `more-` ids after it.
    const early = [...live.keys()].filter((id) => !id.startsWith('gen-') && !id.startsWith('more-')).slice(0, 5);
    const late = [...live.keys()].filter((id) => id.startsWith('more-')).slice(0, 50);
    const edits = [...early, ...late].map((id, i) => ({ ...generated(i + 20_000, random), id }));
    await runInDurableObject(stub, async (object, state) => {
      const instance = object as unknown as Coordinator;
      // Forget the aggregates, as a store published before they existed had none.
      const sql = state.storage.sql;
      for (const table of ['stats_members', 'stats_cells', 'stats_coarse', 'stats_keys']) sql.exec(`DELETE FROM ${table}`);
      sql.exec("DELETE FROM meta WHERE key IN ('stats_ready', 'stats_build_cursor')");
      // One slice of the build, as the alarm runs it, then writes before the next.
      const internals = instance as unknown as { dataset: { buildStatsSlice(publisher: unknown, nowMs: number): boolean }; publisher: unknown };
      expect(state.storage.transactionSync(() => internals.dataset.buildStatsSlice(internals.publisher, Date.now()))).toBe(true);
      await instance.ingest(edits, '2026-03-06T00:00:00.000Z');
      await instance.retract(late[0]!, 'test', '2026-03-06T00:00:00.000Z');
      expect(instance.status().stats.built).toBe(false);
    });
    for (const record of edits) live.set(record.id, record);
    live.delete(late[0]!);
    for (let slice = 0; slice < 20 && !(await stub.status()).stats.built; slice++) await runInDurableObject(stub, (object) => (object as unknown as Coordinator).alarm());
    expect((await stub.status()).stats.built).toBe(true);
    await settled();
    for (const query of QUERIES) await expectExact(query);
  }, 180_000);

  it('scans the index, exactly, where the head names no aggregates yet', async () => {
    const head = await env.EVENTS.get<Record<string, unknown>>(HEAD_KEY, 'json');
    const { stats: _stats, ...older } = head!;
    await env.EVENTS.put(HEAD_KEY, JSON.stringify(older));
    try {
      const { body, reads } = await getCounting('/stats?type=strike&country=JO');
      expect(reads).toContain(MANIFEST_KEY);
      expect(JSON.parse(body).data).toEqual(expected('type=strike&country=JO'));
    } finally {
      await env.EVENTS.put(HEAD_KEY, JSON.stringify(head));
    }
  });
});
