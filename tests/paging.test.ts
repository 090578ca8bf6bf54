/**
 * The chunked KV index at scale: paging through thousands of records, the
 * bounded number of KV reads per page, the scan budget for sparse filters,
 * and index maintenance on incremental writes (splits, moves, replaced chunks
 * kept for a grace period).
 */
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { CHUNK_MAX, MANIFEST_KEY } from '../functions/domain/layout.ts';
import { MAX_CHUNKS_PER_PAGE, decodeCursor, keyRange } from '../functions/domain/query.ts';
import { chunkRefsInRange, queryEvents, readManifest } from '../functions/store/events-store.ts';
import { RETIRED_GRACE_MS } from '../functions/store/publisher.ts';
import { coordinatorStub, dayFrom2000, getJson, makeEvent, seed, settled } from './helpers.ts';

const NOW = '2026-11-28T12:00:00.000Z';
const TOTAL = 1500;

/** Every chunk the published manifest names, through its segments. */
const allChunks = async () => chunkRefsInRange(env.EVENTS, await readManifest(env.EVENTS), keyRange(null, {}));

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
      await seed(Array.from({ length: Math.min(250, TOTAL - start) }, (_, offset) => synthetic(start + offset)), NOW);
    }
    // Each publish waits for KV's one-write-per-second rule on the manifest.
  }, 60_000);

  it('keeps every chunk within CHUNK_MAX, and every stored chunk and segment is live or waiting for deletion', async () => {
    const manifest = await readManifest(env.EVENTS);
    expect(manifest.count).toBe(TOTAL);
    expect(manifest.format === 3 && manifest.segments.map((ref) => ref.key)).toHaveLength(1);
    const chunks = await allChunks();
    expect(chunks.length).toBeGreaterThan(5);
    for (const ref of chunks) expect(ref.count).toBeLessThanOrEqual(CHUNK_MAX);
    const stored = await env.EVENTS.list({ prefix: 'index:' });
    const retired = await runInDurableObject(coordinatorStub(), (_instance, state) =>
      state.storage.sql.exec<{ key: string }>('SELECT key FROM retired_keys').toArray().map((row) => row.key),
    );
    const live = manifest.format === 3 ? manifest.segments.map((ref) => ref.key) : [];
    const known = new Set([MANIFEST_KEY, 'index:head', ...live, ...chunks.map((ref) => ref.key), ...retired]);
    expect(stored.keys.map((key) => key.name).filter((name) => !known.has(name))).toEqual([]);
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
    const first = await queryEvents(counter.kv, {}, 50, null, await readManifest(counter.kv));
    expect(first.events).toHaveLength(50);
    // manifest + its one segment + one chunk + one bulk read of the 50 records
    expect(counter.reads()).toBe(4);
    const deep = countingKv(env.EVENTS);
    await queryEvents(deep.kv, {}, 50, decodeCursor(first.nextCursor!)!.replace(/^\d{4}-\d{2}-\d{2}/, '2000-06-01'), await readManifest(deep.kv));
    expect(deep.reads()).toBeLessThanOrEqual(5);
  });

  it('reads the small head for the validators, then the manifest once, a segment, a chunk and the page', async () => {
    const get = vi.spyOn(env.EVENTS, 'get');
    // A query no other test asks, so its body is not cached yet.
    const response = await getJson('/events?limit=48');
    expect(response.status).toBe(200);
    expect(response.body.data).toHaveLength(48);
    // head + manifest + its segment + one chunk + one bulk read of the 48 record versions
    expect(get.mock.calls.map(([key]) => (Array.isArray(key) ? 'records' : String(key).replace(/:[0-9a-f]+-\d.*$/, '')))).toEqual(['index:head', 'index:manifest', 'index:segment', 'index:chunk', 'records']);
    get.mockRestore();
  });

  it('bounds the scan of a sparse filter and lets the cursor go on', async () => {
    const counter = countingKv(env.EVENTS);
    const page = await queryEvents(counter.kv, { country: ['SY'], type: ['strike'] }, 50, null, await readManifest(counter.kv));
    // manifest + the segment + the chunk budget + the records
    expect(counter.reads()).toBeLessThanOrEqual(1 + 1 + MAX_CHUNKS_PER_PAGE + 1);
    const { ids } = await pageThrough('country=SY&type=strike&limit=50');
    expect(ids).toEqual(Array.from({ length: TOTAL / 100 }, (_, i) => `synthetic-${String(TOTAL - 100 - i * 100).padStart(5, '0')}`));
    expect(page.events.every((event) => event.location.country === 'SY')).toBe(true);
  });

  it('skips chunks outside since/until', async () => {
    const counter = countingKv(env.EVENTS);
    const page = await queryEvents(counter.kv, { since: dayFrom2000(10), until: dayFrom2000(19) }, 50, null, await readManifest(counter.kv));
    expect(page.events.map((event) => event.date)).toEqual(Array.from({ length: 10 }, (_, i) => dayFrom2000(19 - i)));
    expect(counter.reads()).toBeLessThanOrEqual(5);
  });

  it('does not repeat records already seen when records are added between pages', async () => {
    const first = await getJson('/events?limit=20');
    await seed([synthetic(TOTAL + 5), makeEvent('synthetic-late-entry', dayFrom2000(3))], NOW);
    const second = await getJson(`/events?limit=20&cursor=${first.body.next_cursor}`);
    const seen = new Set(first.body.data.map((event: { id: string }) => event.id));
    expect(second.body.data.some((event: { id: string }) => seen.has(event.id))).toBe(false);
    expect(second.body.data[0].date < first.body.data.at(-1).date).toBe(true);
  });
});

describe('index maintenance', () => {
  const ids = async (query: string) => (await getJson(`/events?${query}`)).body.data.map((event: { id: string; date: string }) => [event.id, event.date]);

  it('moves an entry when a record changes date and bumps its revision', async () => {
    const original = makeEvent('moving-record', '2001-01-01');
    await seed([original], NOW);
    const [result] = await seed([{ ...original, date: '1999-06-30', created_at: undefined, updated_at: undefined }], '2026-11-29T00:00:00.000Z');
    expect(result!.change).toBe('updated');
    expect(result!.record.revision).toBe(2);
    expect(result!.record.created_at).toBe(original.created_at);
    expect(result!.record.updated_at).toBe('2026-11-29T00:00:00.000Z');
    expect(await ids('since=1999-01-01&until=1999-12-31')).toEqual([['moving-record', '1999-06-30']]);
    expect(await ids('since=2001-01-01&until=2001-01-01')).not.toContainEqual(['moving-record', '2001-01-01']);
    expect((await readManifest(env.EVENTS)).updated_at).toBe('2026-11-29T00:00:00.000Z');
  });

  it('changes nothing, not even the revision, when the same record is written again', async () => {
    const record = makeEvent('steady-record', '2002-02-02');
    await seed([record], NOW);
    const before = await env.EVENTS.get(MANIFEST_KEY);
    const revision = (await coordinatorStub().status()).dataset.revision;
    const [again] = await seed([record], '2026-12-01T00:00:00.000Z');
    expect(again!.change).toBe('unchanged');
    expect((await coordinatorStub().status()).dataset.revision).toBe(revision);
    expect(await env.EVENTS.get(MANIFEST_KEY)).toBe(before);
  });

  it('keeps replaced chunks readable for readers of an older manifest, and deletes them after the grace period', async () => {
    const older = await readManifest(env.EVENTS);
    const olderChunks = await allChunks();
    await seed([makeEvent('replacing-a-chunk', dayFrom2000(7))], NOW);
    const newer = await readManifest(env.EVENTS);
    const newerChunks = await allChunks();
    const replaced = olderChunks.map((ref) => ref.key).filter((key) => !newerChunks.some((ref) => ref.key === key));
    // The segment above the replaced chunk is replaced too.
    if (older.format === 3 && newer.format === 3) replaced.push(...older.segments.map((ref) => ref.key).filter((key) => !newer.segments.some((ref) => ref.key === key)));
    expect(replaced.some((key) => key.startsWith('index:segment:'))).toBe(true);
    expect(replaced.length).toBeGreaterThan(0);
    // A reader elsewhere still holding the older manifest is served in full.
    const stale = await queryEvents(env.EVENTS, { since: dayFrom2000(0), until: dayFrom2000(9) }, 50, null, older);
    expect(stale.events.length).toBeGreaterThanOrEqual(10);
    expect(stale.events.map((event) => event.id)).not.toContain('replacing-a-chunk');
    for (const key of replaced) expect(await env.EVENTS.get(key)).not.toBeNull();

    // Once the grace period is over, the alarm deletes them.
    await runInDurableObject(coordinatorStub(), (_instance, state) => {
      state.storage.sql.exec('UPDATE retired_keys SET retired_at = retired_at - ?', RETIRED_GRACE_MS);
    });
    await runDurableObjectAlarm(coordinatorStub());
    await settled();
    for (const key of replaced) expect(await env.EVENTS.get(key)).toBeNull();
    const fresh = await queryEvents(env.EVENTS, { since: dayFrom2000(0), until: dayFrom2000(9) }, 50, null, newer);
    expect(fresh.events.map((event) => event.id)).toContain('replacing-a-chunk');
  });
});
