/**
 * The JSON page of `/events` without parsing what is already JSON: records
 * are served as their stored texts with the date interval spliced in, and a
 * page with no filter but its cursor parses only the first line of each
 * chunk (its keys), never the entries. The body is the same, byte for byte,
 * as the records parsed and written again; chunks of the format before the
 * key line are still read, with or without a patch.
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { chunkEntries, chunkKeys, chunkText } from '../functions/domain/chunk-text.ts';
import { dateInterval, withDateInterval, withDateIntervalText } from '../functions/domain/dates.ts';
import { CHUNK_KEY_PREFIX, EVENT_VERSION_KEY_PREFIX, toIndexEntry } from '../functions/domain/layout.ts';
import { decodeCursor, keyRange, type EventFilter } from '../functions/domain/query.ts';
import { EventSchema, type Event } from '../functions/domain/schema.ts';
import { chunkRefsInRange, queryEvents, readManifest } from '../functions/store/events-store.ts';
import bundled from '../data/events.json';
import * as v from 'valibot';
import { call, coordinatorStub, dayFrom2000, makeEvent, seed } from './helpers.ts';

const NOW = '2026-11-28T12:00:00.000Z';
const TOTAL = 300;

/** Every fourth record dated by month, every seventh approximate with a window: intervals that differ from `date`. */
function record(i: number): Event {
  const date = dayFrom2000(i * 3);
  if (i % 4 === 0) return makeEvent(`splice-${String(i).padStart(4, '0')}`, `${date.slice(0, 7)}-01`, { date_precision: 'month' });
  if (i % 7 === 0) return makeEvent(`splice-${String(i).padStart(4, '0')}`, date, { date_precision: 'approximate', date_window: { start: dayFrom2000(i * 3 - 2), end: dayFrom2000(i * 3 + 1) } });
  return makeEvent(`splice-${String(i).padStart(4, '0')}`, date);
}

/** The body `/events` gave before splicing: the page's records parsed and written again with their intervals. */
async function parsedBody(filter: EventFilter, limit: number, cursor: string | null): Promise<string> {
  const page = await queryEvents(env.EVENTS, filter, limit, cursor, await readManifest(env.EVENTS));
  return JSON.stringify({ data: page.events.map(withDateInterval), next_cursor: page.nextCursor });
}

async function bodyOf(path: string): Promise<string> {
  const response = await call(path);
  expect(response.status, path).toBe(200);
  return response.text();
}

describe('withDateIntervalText', () => {
  it('gives the bytes of JSON.stringify(withDateInterval(record)) for every bundled record', () => {
    for (const input of bundled as unknown[]) {
      const stored = v.parse(EventSchema, { revision: 1, created_at: NOW, updated_at: NOW, ...(input as object) });
      expect(withDateIntervalText(JSON.stringify(stored), dateInterval(stored)), stored.id).toBe(JSON.stringify(withDateInterval(stored)));
    }
  });

  it('is not fooled by a "location" key written inside a text, and declines texts it cannot splice', () => {
    const tricky = makeEvent('tricky', '2024-01-01', { date_precision: 'month', title: 'He said ,"location":{ here', summary: '{"date_start":"x"}' });
    expect(withDateIntervalText(JSON.stringify(tricky), dateInterval(tricky))).toBe(JSON.stringify(withDateInterval(tricky)));
    expect(withDateIntervalText(JSON.stringify(withDateInterval(tricky)), dateInterval(tricky))).toBeNull();
    expect(withDateIntervalText(JSON.stringify(tricky, null, 2), dateInterval(tricky))).toBeNull();
  });
});

describe('chunk texts', () => {
  const entries = Array.from({ length: 10 }, (_, i) => toIndexEntry(record(20 - i)));

  it('keep the entries, and their keys on a first line of their own', () => {
    const text = chunkText(entries);
    expect(chunkEntries(text)).toEqual(entries);
    const firstLine = text.slice(0, text.indexOf('\n'));
    expect(firstLine).not.toContain('"text"');
    expect(chunkKeys(text, null, 100)).toEqual(entries.map((entry) => ({ k: entry.k, id: entry.id, rev: entry.rev, interval: { date_start: entry.date_start, date_end: entry.date_end } })));
  });

  it('give the keys before a cursor, at most as many as asked for, in either format', () => {
    for (const text of [chunkText(entries), JSON.stringify(entries)]) {
      expect(chunkKeys(text, entries[3]!.k, 4).map((key) => key.id)).toEqual(entries.slice(4, 8).map((entry) => entry.id));
      expect(chunkKeys(text, null, 2).map((key) => key.id)).toEqual(entries.slice(0, 2).map((entry) => entry.id));
    }
    // An entry indexed before intervals has none: its record is parsed to get them.
    const { date_start: _start, date_end: _end, ...old } = entries[0]!;
    expect(chunkKeys(chunkText([old]), null, 1)[0]!.interval).toBeNull();
    expect(chunkEntries(JSON.stringify(entries))).toEqual(entries);
  });
});

describe('the JSON page of /events', () => {
  beforeAll(async () => {
    await seed(Array.from({ length: TOTAL }, (_, i) => record(i)), NOW);
  }, 60_000);

  it('is the same, byte for byte, as the records parsed and written again: first page, a cursor, filters, dates', async () => {
    const first = await bodyOf('/events?limit=40');
    expect(first).toBe(await parsedBody({}, 40, null));
    const cursor = (JSON.parse(first) as { next_cursor: string }).next_cursor;
    expect(await bodyOf(`/events?limit=40&cursor=${encodeURIComponent(cursor)}`)).toBe(await parsedBody({}, 40, decodeCursor(cursor)));
    expect(await bodyOf('/events?limit=500')).toBe(await parsedBody({}, 500, null));
    expect(await bodyOf('/events?limit=30&since=2000-06-01&until=2001-01-31')).toBe(await parsedBody({ since: '2000-06-01', until: '2001-01-31' }, 30, null));
    expect(await bodyOf('/events?limit=30&q=splice&country=IQ')).toBe(await parsedBody({ q: 'splice', country: ['IQ'] }, 30, null));
  });

  it('splices the stored texts and parses only the chunks’ key lines when nothing is filtered', async () => {
    // A KV that serves each chunk with an entries line that is not JSON, and each record version with a space after its
    // opening brace: parsing a chunk's entries fails, and parsing a record and writing it again drops the space.
    const original = env.EVENTS.get.bind(env.EVENTS) as (key: string | string[], type: 'text') => Promise<unknown>;
    const altered = (key: string, text: string | null) => {
      if (text === null) return null;
      if (key.startsWith(CHUNK_KEY_PREFIX)) return `${text.slice(0, text.indexOf('\n'))}\n[not json`;
      return key.startsWith(EVENT_VERSION_KEY_PREFIX) ? `{ ${text.slice(1)}` : text;
    };
    const decode = (text: string | null, options: unknown) => (text !== null && (options === 'json' || (options as { type?: string })?.type === 'json') ? JSON.parse(text) : text);
    const alteredGet = (async (key: string | string[], options: unknown) => {
      if (Array.isArray(key)) {
        const texts = (await original(key, 'text')) as Map<string, string | null>;
        return new Map(key.map((one) => [one, decode(altered(one, texts.get(one) ?? null), options)]));
      }
      return decode(altered(key, (await original(key, 'text')) as string | null), options);
    }) as never;
    const ids = (page: string) => (JSON.parse(page) as { data: Event[] }).data.map((event) => event.id);
    const expected = ids(await parsedBody({}, 25, null));
    const get = vi.spyOn(env.EVENTS, 'get').mockImplementation(alteredGet);
    try {
      const page = await call('/events?limit=25');
      expect(page.status).toBe(200);
      const body = await page.text();
      expect(body.match(/\{ "id":/g)).toHaveLength(25);
      expect(ids(body)).toEqual(expected);
      // A filter needs the entries: the same KV makes it fail, so the page above did not read them.
      expect((await call('/events?limit=25&type=attack')).status).toBeGreaterThanOrEqual(500);
    } finally {
      get.mockRestore();
    }
  });

  it('reads chunks stored before the key line, also under the patch a later write adds', async () => {
    const before = await bodyOf('/events?limit=500');
    const refs = await chunkRefsInRange(env.EVENTS, await readManifest(env.EVENTS), keyRange(null, {}));
    await runInDurableObject(coordinatorStub(), (_instance, state) => {
      for (const { key, entries } of state.storage.sql.exec<{ key: string; entries: string }>('SELECT key, entries FROM chunks').toArray()) {
        state.storage.sql.exec('UPDATE chunks SET entries = ? WHERE key = ?', JSON.stringify(chunkEntries(entries)), key);
      }
    });
    for (const ref of refs) await env.EVENTS.put(ref.key, JSON.stringify(chunkEntries((await env.EVENTS.get(ref.key, 'text'))!)));
    expect((await env.EVENTS.get(refs[0]!.key, 'text'))!).not.toContain('\n');
    // Another URL than before's, so the body is built from the chunks again rather than taken from the rendered-body cache.
    expect(await bodyOf('/events?limit=450')).toBe(before);

    const added = makeEvent('splice-added', dayFrom2000(TOTAL * 3 + 5));
    await seed([added], '2026-11-28T13:00:00.000Z');
    const after = JSON.parse(await bodyOf('/events?limit=450')) as { data: Event[] };
    expect(after.data.map((event) => event.id)).toEqual([added.id, ...(JSON.parse(before) as { data: Event[] }).data.map((event) => event.id)]);
    const newest = (await chunkRefsInRange(env.EVENTS, await readManifest(env.EVENTS), keyRange(null, {})))[0]!;
    expect(newest.patch).toBeDefined();
    expect((await env.EVENTS.get(newest.key, 'text'))!).not.toContain('\n');
  });
});
