/**
 * The segmented index at growing sizes: the manifest lists a bounded number
 * of segments, a page reads the manifest, one segment per level and its
 * chunk, and a write rewrites only the chunk it touches and the segments
 * above it. The Coordinator is given a tiny shape (`index_shape` in its meta
 * table) so that a few thousand records make hundreds of chunks and several
 * levels of segments, as millions would with the default shape; a date
 * filter that meets many segments reads a bounded number per page; a write
 * reads each segment it needs from SQLite once. Also the tree's maintenance
 * alone, against a plain sorted list.
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { applyIndexChange, type IndexShape } from '../functions/domain/index-tree.ts';
import { patchedEntries, type ChunkPatch } from '../functions/domain/chunk-patch.ts';
import { entryKey } from '../functions/domain/chunk-text.ts';
import { HEAD_KEY, MANIFEST_KEY, emptyManifest, headOf, toIndexEntry, type ChunkRef, type IndexEntry, type IndexRef, type SegmentedManifest } from '../functions/domain/layout.ts';
import { MAX_CHUNKS_PER_PAGE, MAX_SEGMENTS_PER_PAGE, keyRange } from '../functions/domain/query.ts';
import { chunkRefsInRange, queryEvents, readManifest } from '../functions/store/events-store.ts';
import { simulation } from './platform/simulated-kv.ts';
import type { Coordinator } from '../functions/store/coordinator.ts';
import { call, coordinatorStub, dayFrom2000, makeEvent, seed, settled } from './helpers.ts';

const NOW = '2026-11-28T12:00:00.000Z';
/** Writes here index whole, in one revision each: what staging does is index-backlog.test.ts's. */
const WHOLE_WRITES = 100_000;
const SHAPE: IndexShape = { chunkTarget: 8, chunkMax: 16, segmentTarget: 4, segmentMax: 8, chunksPerRevision: WHOLE_WRITES, patchMax: 4, compactionsPerRevision: 2 };
const SIZES = [200, 1000, 3000];
/** Records are spread over this many days, so writes land all over the index. */
const DAYS = 3650;

/** Record i, on a day spread across ten years by a stride, so the dataset grows in the middle as well as at the ends. */
const spread = (i: number) => makeEvent(`spread-${String(i).padStart(5, '0')}`, dayFrom2000((i * 7919) % DAYS));

/** What one size costs: the manifest, the flat manifest the design before segments would have published, and a page of 10. */
interface Sample {
  size: number;
  height: number;
  segments: number;
  chunks: number;
  manifestBytes: number;
  flatManifestBytes: number;
  pageReads: string[];
  pageBytes: number;
}

/** The bytes stored under `keys`, read without counting. */
async function storedBytes(keys: readonly string[]): Promise<number> {
  let bytes = 0;
  for (const key of keys) bytes += (await env.EVENTS.get(key, 'text'))?.length ?? 0;
  return bytes;
}

/** GETs a page of 10 through the Worker (not cached yet: the revision is new), naming each KV read by its kind. */
async function pageCost(): Promise<{ reads: string[]; bytes: number }> {
  const get = vi.spyOn(env.EVENTS, 'get');
  let keys: string[];
  try {
    const response = await call('/events?limit=10');
    expect(response.status).toBe(200);
    expect(((await response.json()) as { data: unknown[] }).data).toHaveLength(10);
    keys = get.mock.calls.flatMap(([key]) => (Array.isArray(key) ? key : [String(key)]));
    // A bulk read is the page's records, or a chunk with its patch.
    const kindOf = (key: string) => key.replace(/:[0-9a-f]+-\d.*$/, '');
    const reads = get.mock.calls.map(([key]) => (Array.isArray(key) ? (kindOf(String(key[0])) === 'index:chunk' ? 'index:chunk' : 'records') : kindOf(String(key))));
    get.mockRestore();
    return { reads, bytes: await storedBytes(keys) };
  } finally {
    get.mockRestore();
  }
}

async function sample(size: number): Promise<Sample> {
  const manifestText = (await env.EVENTS.get(MANIFEST_KEY, 'text'))!;
  const manifest = JSON.parse(manifestText) as SegmentedManifest;
  const chunks = await chunkRefsInRange(env.EVENTS, manifest, keyRange(null, {}));
  const flat = JSON.stringify({ ...headOf(manifest), format: 2, chunks });
  const page = await pageCost();
  return { size, height: manifest.height, segments: manifest.segments.length, chunks: chunks.length, manifestBytes: manifestText.length, flatManifestBytes: flat.length, pageReads: page.reads, pageBytes: page.bytes };
}

/** The index keys a write of `records` puts, by kind. */
async function indexPutsOf(records: ReturnType<typeof makeEvent>[]): Promise<{ chunks: number; patches: number; segments: number; manifest: number; head: number }> {
  simulation.reset();
  await seed(records, NOW);
  const puts = [...simulation.stats().keys].filter(([, counts]) => counts.puts > 0).map(([key]) => key);
  return {
    chunks: puts.filter((key) => key.startsWith('index:chunk:')).length,
    patches: puts.filter((key) => key.startsWith('index:patch:')).length,
    segments: puts.filter((key) => key.startsWith('index:segment:')).length,
    manifest: puts.filter((key) => key === MANIFEST_KEY).length,
    head: puts.filter((key) => key === HEAD_KEY).length,
  };
}

describe('a growing dataset with a tiny index shape', () => {
  const samples: Sample[] = [];
  const writes: { height: number; puts: Awaited<ReturnType<typeof indexPutsOf>> }[] = [];

  beforeAll(async () => {
    await runInDurableObject(coordinatorStub(), (_instance, state) => {
      state.storage.sql.exec("INSERT INTO meta (key, value) VALUES ('index_shape', ?)", JSON.stringify(SHAPE));
    });
    let written = 0;
    for (const size of SIZES) {
      for (; written < size; written += 250) await seed(Array.from({ length: Math.min(250, size - written) }, (_, offset) => spread(written + offset)), NOW);
      written = size;
      samples.push(await sample(size));
      // One new record in the middle of the index, then one changed in place.
      const height = samples.at(-1)!.height;
      writes.push({ height, puts: await indexPutsOf([makeEvent(`middle-${size}`, dayFrom2000(DAYS / 2))]) });
      writes.push({ height, puts: await indexPutsOf([{ ...spread(7), title: `Retitled at ${size}` }]) });
    }
    console.log('index at growing sizes:', JSON.stringify(samples.map(({ pageReads, ...rest }) => ({ ...rest, pageReads: pageReads.length }))), 'index puts per write:', JSON.stringify(writes));
  }, 180_000);

  it('grows the chunks and the levels, as millions of records would with the default shape', () => {
    expect(samples.at(-1)!.chunks).toBeGreaterThanOrEqual(10 * samples[0]!.chunks);
    expect(samples.at(-1)!.height).toBeGreaterThan(samples[0]!.height);
  });

  it('keeps the manifest small: at most segmentMax segments, whatever the size, where a flat manifest grows with the chunks', () => {
    for (const { segments, manifestBytes, flatManifestBytes, size } of samples) {
      expect(segments, `${size}`).toBeLessThanOrEqual(SHAPE.segmentMax);
      // segmentMax refs of about 200 bytes each, and the head's fields.
      expect(manifestBytes, `${size}`).toBeLessThan(SHAPE.segmentMax * 220 + 300);
      expect(flatManifestBytes, `${size}`).toBeGreaterThanOrEqual(manifestBytes);
    }
    expect(samples.at(-1)!.flatManifestBytes).toBeGreaterThan(10 * samples[0]!.flatManifestBytes);
    expect(samples.at(-1)!.manifestBytes).toBeLessThan(samples.at(-1)!.flatManifestBytes / 10);
  });

  it('reads the head, the manifest, one segment per level, a chunk and the records for a page, and about the same bytes at every size', () => {
    for (const { pageReads, height, size } of samples) {
      expect(pageReads, `${size}`).toEqual(['index:head', 'index:manifest', ...Array.from({ length: height }, () => 'index:segment'), ...pageReads.filter((kind) => kind === 'index:chunk'), 'records']);
      // A page of 10 lies in one or two chunks of 8 to 16 entries.
      expect(pageReads.filter((kind) => kind === 'index:chunk').length, `${size}`).toBeLessThanOrEqual(2);
    }
    // One more level adds one segment of at most segmentMax refs; the rest does not depend on the size.
    const extraLevels = samples.at(-1)!.height - samples[0]!.height;
    expect(samples.at(-1)!.pageBytes).toBeLessThan(1.3 * samples[0]!.pageBytes + extraLevels * SHAPE.segmentMax * 220);
  });

  it('writes a patch of the touched chunk (or, folding a patch in, the chunk), and the segments above it on a write, at every size', () => {
    for (const { height, puts } of writes) {
      // A split makes two chunks (and may split each segment above, adding a level at most once).
      expect(puts.chunks + puts.patches).toBeGreaterThanOrEqual(1);
      expect(puts.chunks + puts.patches).toBeLessThanOrEqual(2);
      expect(puts.segments).toBeGreaterThanOrEqual(height);
      expect(puts.segments).toBeLessThanOrEqual(2 * height + 1);
      expect(puts.manifest).toBe(1);
      expect(puts.head).toBe(1);
    }
  });

  it('bounds the segments a date filter reads where long intervals widen many segments, and pages on to every match', async () => {
    // Twenty records of approximate date, each in its own part of the index, whose windows all reach into 2011.
    const long = Array.from({ length: 20 }, (_, i) => {
      const date = dayFrom2000(10 + i * 180);
      return makeEvent(`long-${String(i).padStart(2, '0')}`, date, { date_precision: 'approximate', date_note: 'A long window.', date_window: { start: date, end: '2011-12-31' } });
    });
    await seed(long, NOW);
    const manifest = await readManifest(env.EVENTS);
    const get = vi.spyOn(env.EVENTS, 'get');
    const page = await queryEvents(env.EVENTS, { since: '2011-01-01', until: '2011-01-31' }, 50, null, manifest);
    // A bulk read is the page's records, or a chunk with its patch.
    const kindOf = (key: string) => key.replace(/:[0-9a-f]+-\d.*$/, '');
    const reads = get.mock.calls.map(([key]) => (Array.isArray(key) ? (kindOf(String(key[0])) === 'index:chunk' ? 'index:chunk' : 'records') : kindOf(String(key))));
    get.mockRestore();
    expect(reads.filter((kind) => kind === 'index:segment').length).toBeLessThanOrEqual((manifest.format === 3 ? manifest.height : 0) + MAX_SEGMENTS_PER_PAGE);
    expect(reads.filter((kind) => kind === 'index:chunk').length).toBeLessThanOrEqual(MAX_CHUNKS_PER_PAGE);
    expect(page.events.length).toBeLessThan(long.length);
    expect(page.nextCursor).not.toBeNull();

    const ids: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const response = await call(`/events?since=2011-01-01&until=2011-01-31&limit=50${cursor ? `&cursor=${cursor}` : ''}`);
      const body = (await response.json()) as { data: { id: string }[]; next_cursor: string | null };
      ids.push(...body.data.map((event) => event.id));
      cursor = body.next_cursor;
      pages++;
    } while (cursor && pages < 100);
    expect(ids).toEqual(long.map((record) => record.id).reverse());
  });

  it('still pages through every record in order', async () => {
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const response = await call(`/events?limit=500${cursor ? `&cursor=${cursor}` : ''}`);
      const body = (await response.json()) as { data: { id: string; date: string }[]; next_cursor: string | null };
      ids.push(...body.data.map((event) => `${event.date}|${event.id}`));
      cursor = body.next_cursor;
    } while (cursor);
    const manifest = await readManifest(env.EVENTS);
    expect(ids).toHaveLength(manifest.count);
    expect(ids).toEqual([...ids].sort().reverse());
  });

  it('reads each segment from SQLite once in a write spread over the index (finding the chunks, then rewriting the segments above them)', async () => {
    await runInDurableObject(coordinatorStub(), async (instance, state) => {
      const prototype = Object.getPrototypeOf(state.storage.sql) as { exec: SqlStorage['exec'] };
      const exec = prototype.exec;
      const segmentReads = new Map<string, number>();
      prototype.exec = function (this: SqlStorage, query: string, ...bindings: unknown[]) {
        const [key] = bindings;
        if (query.startsWith('SELECT') && typeof key === 'string' && key.startsWith('index:segment:')) segmentReads.set(key, (segmentReads.get(key) ?? 0) + 1);
        return exec.call(this, query, ...bindings);
      } as SqlStorage['exec'];
      try {
        await (instance as unknown as Coordinator).ingest(Array.from({ length: 40 }, (_, i) => makeEvent(`once-${String(i).padStart(2, '0')}`, dayFrom2000((i * 97) % DAYS))), NOW);
      } finally {
        prototype.exec = exec;
      }
      // Forty records over ten years touch segments on every level of a tree several levels high.
      expect(segmentReads.size).toBeGreaterThan(10);
      expect([...segmentReads].filter(([, reads]) => reads > 1)).toEqual([]);
    });
    await settled();
  });
});

/** The chunk refs of an index, walked through its segments. */
function allChunkRefs(manifest: SegmentedManifest, segments: Map<string, IndexRef[]>): ChunkRef[] {
  const walk = (refs: readonly IndexRef[], level: number): ChunkRef[] => (level === 0 ? [...refs] : refs.flatMap((ref) => walk(segments.get(ref.key)!, level - 1)));
  return walk(manifest.segments, manifest.height);
}

describe('the tree alone', () => {
  /** Smaller still, so a few thousand entries make five levels. */
  const TREE_SHAPE: IndexShape = { chunkTarget: 2, chunkMax: 4, segmentTarget: 2, segmentMax: 4, chunksPerRevision: WHOLE_WRITES, patchMax: 3, compactionsPerRevision: 2 };

  /** Every entry under `refs` (nodes at `level`), patches applied, checking each node's ref against what it holds. */
  function collect(refs: readonly IndexRef[], level: number, chunks: Map<string, IndexEntry[]>, patches: Map<string, ChunkPatch>, segments: Map<string, IndexRef[]>): IndexEntry[] {
    return refs.flatMap((ref) => {
      const chunkOf = (chunk: ChunkRef) => (chunk.patch ? patchedEntries(chunks.get(chunk.key)!, patches.get(chunk.patch)!) : chunks.get(chunk.key)!);
      const entries = level === 0 ? chunkOf(ref) : collect(segments.get(ref.key)!, level - 1, chunks, patches, segments);
      if (level === 0) expect(entries.length).toBeLessThanOrEqual(TREE_SHAPE.chunkMax);
      else expect(segments.get(ref.key)!.length).toBeLessThanOrEqual(TREE_SHAPE.segmentMax);
      expect(entries.length).toBeGreaterThan(0);
      expect([ref.first, ref.last, ref.count]).toEqual([entries[0]!.k, entries.at(-1)!.k, entries.length]);
      return entries;
    });
  }

  it('keeps every entry once, sorted, in bounded nodes, through random writes of inserts and deletes', () => {
    const chunks = new Map<string, IndexEntry[]>();
    const patches = new Map<string, ChunkPatch>();
    const segments = new Map<string, IndexRef[]>();
    const nodes = {
      entries: (key: string) => chunks.get(key)!,
      keys: (key: string) => chunks.get(key)!.map(entryKey),
      patch: (key: string) => patches.get(key)!,
      children: (key: string) => segments.get(key)!,
    };
    let patchesWritten = 0;
    let compactions = 0;
    let manifest: SegmentedManifest = emptyManifest('tree');
    const expected = new Map<string, IndexEntry>();
    let seedValue = 1;
    const random = () => (seedValue = (seedValue * 48271) % 2147483647) / 2147483647;
    const heights = new Set<number>();
    for (let round = 0; round < 300; round++) {
      const upsert: IndexEntry[] = [];
      const remove: string[] = [];
      const live = [...expected.keys()];
      // Mostly inserts for 200 rounds, then only deletes, so the tree grows and shrinks.
      const deleting = round >= 200 ? 1 : 0.2;
      for (let i = 0; i < 1 + Math.floor(random() * 40); i++) {
        if (live.length > 0 && random() < deleting) {
          const k = live.splice(Math.floor(random() * live.length), 1)[0]!;
          if (!remove.includes(k)) remove.push(k);
        } else {
          const entry = toIndexEntry(makeEvent(`tree-${round}-${i}`, dayFrom2000(Math.floor(random() * 4000))));
          upsert.push(entry);
        }
      }
      const write = applyIndexChange(manifest, nodes, { remove, upsert }, NOW, NOW, TREE_SHAPE);
      // A chunk replaced while its ref named a patch: the patch was folded in (or the chunk split or dropped).
      const patched = new Set(allChunkRefs(manifest, segments).filter((ref) => ref.patch).map((ref) => ref.key));
      compactions += write.replaced.filter((key) => patched.has(key)).length;
      patchesWritten += write.patches.size;
      for (const [, patch] of write.patches) expect(patch.remove.length + patch.upsert.length).toBeLessThanOrEqual(TREE_SHAPE.patchMax + 40);
      for (const key of write.replaced) {
        chunks.delete(key);
        patches.delete(key);
        segments.delete(key);
      }
      for (const [key, entries] of write.chunks) chunks.set(key, entries);
      for (const [key, patch] of write.patches) patches.set(key, patch);
      for (const [key, children] of write.segments) segments.set(key, children);
      manifest = write.manifest;
      for (const k of remove) expected.delete(k);
      for (const entry of upsert) expected.set(entry.k, entry);
      heights.add(manifest.height);
      expect(manifest.segments.length).toBeLessThanOrEqual(TREE_SHAPE.segmentMax);
      const all = collect(manifest.segments, manifest.height, chunks, patches, segments);
      expect(all.map((entry) => entry.k)).toEqual([...expected.keys()].sort().reverse());
      expect(manifest.count).toBe(expected.size);
    }
    expect(Math.max(...heights)).toBeGreaterThanOrEqual(3);
    expect(patchesWritten).toBeGreaterThan(100);
    expect(compactions).toBeGreaterThan(10);
    // Emptied, it comes down to one level with nothing in it, every node retired.
    const emptied = applyIndexChange(manifest, nodes, { remove: [...expected.keys()], upsert: [] }, NOW, NOW, TREE_SHAPE);
    expect(emptied.manifest).toMatchObject({ height: 1, segments: [], count: 0 });
    expect(emptied.chunks.size + emptied.patches.size + emptied.segments.size).toBe(0);
    expect(new Set(emptied.replaced)).toEqual(new Set([...chunks.keys(), ...patches.keys(), ...segments.keys()]));
  });
});
