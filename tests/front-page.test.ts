/**
 * The front page (`/events` at its default limit, with no filter and no
 * cursor): the Coordinator renders it for every index revision and
 * publishes it under a key the manifest and head name; a location that can
 * read it answers the front page with the head and that one value, keeps it
 * in its memory tier only, and builds the page from the index where it
 * cannot. The published page is the same, byte for byte, as the page the
 * readers build from the same revision.
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it, vi } from 'vitest';
import { withDateInterval } from '../functions/domain/dates.ts';
import { HEAD_KEY, type IndexHead, type SegmentedManifest } from '../functions/domain/layout.ts';
import { eventsPageJson, frontPageJson } from '../functions/domain/page-json.ts';
import { DEFAULT_LIMIT } from '../functions/domain/query.ts';
import { toIndexEntry } from '../functions/domain/layout.ts';
import { queryEvents, queryServedEvents, readManifest } from '../functions/store/events-store.ts';
import { call, coordinatorStub, dayFrom2000, getCounting, makeEvent, seed, settled } from './helpers.ts';

const NOW = '2026-11-28T12:00:00.000Z';

const record = (i: number) => makeEvent(`front-${String(i).padStart(4, '0')}`, dayFrom2000(i), i % 5 === 0 ? { date: `${dayFrom2000(i).slice(0, 7)}-01`, date_precision: 'month' } : {});

/** The head as published. */
const head = async () => (await env.EVENTS.get<IndexHead>(HEAD_KEY, 'json'))!;

/** The page the readers build from the published index: spliced, and parsed and written again. */
async function readersPages(): Promise<[string, string]> {
  const manifest = await readManifest(env.EVENTS);
  const served = await queryServedEvents(env.EVENTS, {}, DEFAULT_LIMIT, null, manifest);
  const parsed = await queryEvents(env.EVENTS, {}, DEFAULT_LIMIT, null, manifest);
  return [eventsPageJson(served.texts, served.nextCursor), JSON.stringify({ data: parsed.events.map(withDateInterval), next_cursor: parsed.nextCursor })];
}

/** The manifest the Coordinator holds now (committed, maybe not published yet). */
const committedManifest = () =>
  runInDurableObject(coordinatorStub(), (_instance, state) => JSON.parse(state.storage.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'manifest'").one().value) as SegmentedManifest);

describe('frontPageJson', () => {
  it('is null when a record version it lists is not at hand', () => {
    const entries = [record(3), record(2), record(1)].map(toIndexEntry);
    const texts = new Map([record(3), record(2), record(1)].map((event) => [event.id, JSON.stringify(event)]));
    expect(frontPageJson({ chunks: () => [entries], recordText: (id) => texts.get(id) ?? null })).toBe(eventsPageJson([record(3), record(2), record(1)].map((event) => JSON.stringify(withDateInterval(event))), null));
    texts.delete(record(2).id);
    expect(frontPageJson({ chunks: () => [entries], recordText: (id) => texts.get(id) ?? null })).toBeNull();
  });
});

describe('the front page', () => {
  it('is published with every revision, the same bytes the readers build, at 1, 50, 51 and 300 records', async () => {
    let seeded = 0;
    for (const size of [1, DEFAULT_LIMIT, DEFAULT_LIMIT + 1, 300]) {
      await seed(Array.from({ length: size - seeded }, (_, i) => record(seeded + i)), NOW);
      seeded = size;
      const { front_page: key, revision, epoch } = await head();
      expect(key, `${size}`).toBe(`page:events:${epoch}-${revision}`);
      const published = await env.EVENTS.get(key!, 'text');
      const [spliced, parsed] = await readersPages();
      expect(published, `${size}`).toBe(spliced);
      expect(published, `${size}`).toBe(parsed);
      expect((JSON.parse(published!) as { data: unknown[] }).data).toHaveLength(Math.min(size, DEFAULT_LIMIT));
    }
  });

  it('answers /events with the head and the published page alone, kept in memory, not in the Cache API', async () => {
    const { front_page: key } = await head();
    const put = vi.spyOn(caches.default, 'put');
    try {
      for (const path of ['/events', `/events?limit=${DEFAULT_LIMIT}`]) {
        const { response, body, reads } = await getCounting(path);
        expect(response.status).toBe(200);
        expect(reads, path).toEqual([HEAD_KEY, key]);
        expect(body).toBe(await env.EVENTS.get(key!, 'text'));
        expect((await getCounting(path)).reads, `${path} again`).toEqual([HEAD_KEY]);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(put).not.toHaveBeenCalled();
      // Any other page is kept in the Cache API as before.
      await call('/events?limit=7');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(put).toHaveBeenCalledTimes(1);
    } finally {
      put.mockRestore();
    }
  });

  it('is built from the index where this location cannot read the published page', async () => {
    const { front_page: key } = await head();
    const published = await env.EVENTS.get(key!, 'text');
    await env.EVENTS.delete(key!);
    try {
      // No parameter but `date_match`, which filters nothing: the front page, under a URL not cached yet.
      const { response, body, reads } = await getCounting('/events?date_match=within');
      expect(response.status).toBe(200);
      expect(reads.slice(0, 3)).toEqual([HEAD_KEY, key, 'index:manifest']);
      expect(body).toBe(published);
    } finally {
      await env.EVENTS.put(key!, published!);
    }
  });

  it('is rendered only for the current revision (one replaced before it was put is dropped), and a replaced one is retired', async () => {
    const before = (await head()).front_page!;
    await coordinatorStub().ingest([record(1000)], '2026-11-28T13:00:00.000Z');
    const replaced = (await committedManifest()).front_page!;
    await coordinatorStub().ingest([record(1001)], '2026-11-28T13:00:01.000Z');
    const current = (await committedManifest()).front_page!;
    const rendered = await runInDurableObject(coordinatorStub(), (instance) => {
      const dataset = (instance as unknown as { dataset: { frontPageText(key: string): string | null } }).dataset;
      return [dataset.frontPageText(replaced), dataset.frontPageText(current)];
    });
    // The publisher drops a queued key whose value is null: a location never reads that page, and builds it from the index.
    expect(rendered[0]).toBeNull();
    expect(JSON.parse(rendered[1]!).data.slice(0, 2).map((event: { id: string }) => event.id)).toEqual([record(1001).id, record(1000).id]);
    await settled();
    expect((await head()).front_page).toBe(current);
    expect(await env.EVENTS.get(current, 'text')).toBe(rendered[1]);
    const { retired, queued } = await runInDurableObject(coordinatorStub(), (_instance, state) => ({
      retired: state.storage.sql.exec<{ key: string }>('SELECT key FROM retired_keys').toArray().map((row) => row.key),
      queued: state.storage.sql.exec<{ key: string }>('SELECT key FROM publish_queue').toArray().map((row) => row.key),
    }));
    expect(retired).toContain(before);
    expect(retired).not.toContain(current);
    expect(queued).not.toContain(replaced);
  });
});
