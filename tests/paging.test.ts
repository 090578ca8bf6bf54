/**
 * The chunked KV index at scale: paging through thousands of records, the
 * bounded number of KV reads per page, the scan budget for sparse filters,
 * and index maintenance on incremental writes (splits, moves, retired chunks).
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { CHUNK_MAX, MANIFEST_KEY } from '../functions/domain/layout.ts';
import { MAX_CHUNKS_PER_PAGE, decodeCursor } from '../functions/domain/query.ts';
import { queryEvents, readManifest, writeEvents } from '../functions/store/events-store.ts';
import { dayFrom2000, getJson, makeEvent } from './helpers.ts';

const NOW = '2026-11-28T12:00:00.000Z';
const TOTAL = 1500;

/** Wraps a KV namespace, counting the read operations made through it. */
function countingKv(kv: KVNamespace): { kv: KVNamespace; reads: () => number } {
  let reads = 0;
  const proxy = new Proxy(kv, {
    get(target, property) {
      const value = Reflect.get(target, property);
      if (property === 'get' || property === 'getWithMetadata' || property === 'list') {
        return (...args: unknown[]) => {
          reads++;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { kv: proxy, reads: () => reads };
}

/** Synthetic record i: one per day from 2000-01-01; every 100th is a strike in Syria. */
const synthetic = (i: number) =>
  makeEvent(`synthetic-${String(i).padStart(5, '0')}`, dayFrom2000(i), i % 100 === 0 ? { type: 'strike', location: { name: 'Deir ez-Zor', country: 'SY', lat: 35.33, lon: 40.14, precision: 'city' } } : {});

async function pageThrough(query: string): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const { status, body }: { status: number; body: { data: { id: string }[]; next_cursor: string | null } } = await getJson(`/events?${query}${cursor ? `&cursor=${cursor}` : ''}`);
    expect(status).toBe(200);
    ids.push(...body.data.map((event) => event.id));
    cursor = body.next_cursor;
    pages++;
  } while (cursor && pages < 1000);
  return { ids, pages };
}

describe('a large dataset', () => {
  beforeAll(async () => {
    // Written in batches, as ingest would, so chunks are split incrementally.
    for (let start = 0; start < TOTAL; start += 250) {
      await writeEvents(env.EVENTS, Array.from({ length: Math.min(250, TOTAL - start) }, (_, offset) => synthetic(start + offset)), NOW);
    }
  });

  it('keeps every chunk within CHUNK_MAX and deletes retired chunks', async () => {
    const manifest = await readManifest(env.EVENTS);
    expect(manifest.count).toBe(TOTAL);
    expect(manifest.chunks.length).toBeGreaterThan(5);
    for (const ref of manifest.chunks) expect(ref.count).toBeLessThanOrEqual(CHUNK_MAX);
    const stored = await env.EVENTS.list({ prefix: 'index:chunk:' });
    const live = new Set([...manifest.chunks.map((ref) => ref.key), ...manifest.retired]);
    expect(stored.keys.map((key) => key.name).every((name) => live.has(name))).toBe(true);
  });

  it('pages through everything newest first with no duplicates or gaps', async () => {
    const { ids, pages } = await pageThrough('limit=50');
    expect(pages).toBe(TOTAL / 50);
    expect(new Set(ids).size).toBe(TOTAL);
    expect(ids[0]).toBe(`synthetic-0${TOTAL - 1}`);
    expect(ids).toEqual([...ids].sort().reverse());
  });

  it('pages with the largest limit too', async () => {
    const { ids, pages } = await pageThrough('limit=500');
    expect(pages).toBe(3);
    expect(new Set(ids).size).toBe(TOTAL);
  });

  it('reads a constant number of KV keys per page, whatever the dataset size', async () => {
    const counter = countingKv(env.EVENTS);
    const first = await queryEvents(counter.kv, {}, 50, null);
    expect(first.events).toHaveLength(50);
    // manifest + one chunk + one bulk read of the 50 records
    expect(counter.reads()).toBe(3);
    const deep = countingKv(env.EVENTS);
    await queryEvents(deep.kv, {}, 50, decodeCursor(first.nextCursor!)!.replace(/^\d{4}-\d{2}-\d{2}/, '2000-06-01'));
    expect(deep.reads()).toBeLessThanOrEqual(4);
  });

  it('reads the manifest once per request, for the ETag and the page alike', async () => {
    const get = vi.spyOn(env.EVENTS, 'get');
    const response = await getJson('/events?limit=50');
    expect(response.status).toBe(200);
    expect(response.body.data).toHaveLength(50);
    // manifest + one chunk + one bulk read of the 50 records
    expect(get.mock.calls.map(([key]) => (Array.isArray(key) ? 'records' : String(key).replace(/:\d.*$/, '')))).toEqual(['index:manifest', 'index:chunk', 'records']);
    get.mockRestore();
  });

  it('bounds the scan of a sparse filter and lets the cursor go on', async () => {
    const counter = countingKv(env.EVENTS);
    const page = await queryEvents(counter.kv, { country: ['SY'], type: ['strike'] }, 50, null);
    expect(counter.reads()).toBeLessThanOrEqual(1 + MAX_CHUNKS_PER_PAGE + 1);
    const { ids } = await pageThrough('country=SY&type=strike&limit=50');
    expect(ids).toEqual(Array.from({ length: TOTAL / 100 }, (_, i) => `synthetic-${String(TOTAL - 100 - i * 100).padStart(5, '0')}`));
    expect(page.events.every((event) => event.location.country === 'SY')).toBe(true);
  });

  it('skips chunks outside since/until', async () => {
    const counter = countingKv(env.EVENTS);
    const page = await queryEvents(counter.kv, { since: dayFrom2000(10), until: dayFrom2000(19) }, 50, null);
    expect(page.events.map((event) => event.date)).toEqual(Array.from({ length: 10 }, (_, i) => dayFrom2000(19 - i)));
    expect(counter.reads()).toBeLessThanOrEqual(4);
  });

  it('does not repeat records already seen when records are added between pages', async () => {
    const first = await getJson('/events?limit=20');
    await writeEvents(env.EVENTS, [synthetic(TOTAL + 5), makeEvent('synthetic-late-entry', dayFrom2000(3))], NOW);
    const second = await getJson(`/events?limit=20&cursor=${first.body.next_cursor}`);
    const seen = new Set(first.body.data.map((event: { id: string }) => event.id));
    expect(second.body.data.some((event: { id: string }) => seen.has(event.id))).toBe(false);
    expect(second.body.data[0].date < first.body.data.at(-1).date).toBe(true);
  });
});

describe('index maintenance', () => {
  it('moves an entry when a record changes date and bumps its revision', async () => {
    const original = makeEvent('moving-record', '2001-01-01');
    await writeEvents(env.SPARE_EVENTS, [original], NOW);
    const [result] = await writeEvents(env.SPARE_EVENTS, [{ ...original, date: '1999-06-30', created_at: undefined, updated_at: undefined }], '2026-11-29T00:00:00.000Z');
    expect(result!.change).toBe('updated');
    expect(result!.record.revision).toBe(2);
    expect(result!.record.created_at).toBe(original.created_at);
    expect(result!.record.updated_at).toBe('2026-11-29T00:00:00.000Z');
    const page = await queryEvents(env.SPARE_EVENTS, {}, 10, null);
    expect(page.events.map((event) => [event.id, event.date])).toEqual([['moving-record', '1999-06-30']]);
    const manifest = await readManifest(env.SPARE_EVENTS);
    expect(manifest.updated_at).toBe('2026-11-29T00:00:00.000Z');
  });

  it('changes nothing, not even the revision, when the same record is written again', async () => {
    const record = makeEvent('steady-record', '2002-02-02');
    await writeEvents(env.SPARE_EVENTS, [record], NOW);
    const before = await env.SPARE_EVENTS.get(MANIFEST_KEY);
    const [again] = await writeEvents(env.SPARE_EVENTS, [record], '2026-12-01T00:00:00.000Z');
    expect(again!.change).toBe('unchanged');
    expect(await env.SPARE_EVENTS.get(MANIFEST_KEY)).toBe(before);
  });
});
