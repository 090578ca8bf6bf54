/**
 * What `npm run bench:cpu` runs in Node (bundled by esbuild, never
 * deployed): the Worker's HTTP app with a static baseline route in front of
 * it, and the published KV layout of a store
 * of synthetic records built the way the Coordinator builds it (records
 * merged as a first write, index entries, chunks of CHUNK_TARGET entries
 * newest first, then segments over them by the same code that segments a
 * migrated index) and its `/stats` aggregates (by the Coordinator's own
 * code, scripts/bench/stats-keys.ts), held in memory.
 *
 * Records (their versions and latest copies) are made when first read (a store of a million records
 * would not fit in memory as text) and kept, so the requests measured,
 * once warmed up, read them like any other key.
 */
import { Hono } from 'hono';
import * as v from 'valibot';
import { app } from '../../functions/app.ts';
import { chunkText } from '../../functions/domain/chunk-text.ts';
import { mergeRecord } from '../../functions/domain/changes.ts';
import { frontPageJson } from '../../functions/domain/page-json.ts';
import { segmentFlatIndex } from '../../functions/domain/index-tree.ts';
import { CHUNK_KEY_PREFIX, CHUNK_TARGET, EVENT_KEY_PREFIX, EVENT_VERSION_KEY_PREFIX, HEAD_KEY, MANIFEST_KEY, frontPageKey, headOf, toIndexEntry, type ChunkRef, type FlatManifest, type IndexEntry } from '../../functions/domain/layout.ts';
import { EventInputSchema, type Event } from '../../functions/domain/schema.ts';
import { syntheticRecord } from './records.ts';
import { statsKeysBuilder, type SqliteDatabase } from './stats-keys.ts';

/** The path of the static baseline route. */
export const STATIC_PATH = '/__bench/static';
/** Bodies of the static route by size, built on first use. */
const bodies = new Map<number, string>();

/**
 * The Worker's app with the baseline route in front of it, as in the
 * `wrangler dev` benchmark (scripts/bench/worker.ts): `GET /__bench/static?bytes=N`
 * answers a constant body of N bytes through Hono like any route.
 */
export const benchApp = new Hono()
  .get(STATIC_PATH, (c) => {
    const bytes = Number(c.req.query('bytes') ?? 0);
    let body = bodies.get(bytes);
    if (body === undefined) bodies.set(bytes, (body = 'x'.repeat(bytes)));
    return c.body(body, 200, { 'Content-Type': 'text/plain; charset=utf-8' });
  })
  .route('/', app);

/** When every synthetic record was written. */
const WRITTEN_AT = '2026-01-01T00:00:00.000Z';

/** Synthetic record `i` as the Coordinator stores it after its first write. */
export function storedRecord(i: number): Event {
  return mergeRecord(null, v.parse(EventInputSchema, syntheticRecord(i)), WRITTEN_AT).record;
}

/** The number of synthetic record `id` (`bench-000123` → 123). */
const numberOf = (id: string): number => Number(id.slice('bench-'.length));

const encoder = new TextEncoder();

/** KV operations made and bytes of values read (as `npm run bench` counts them: a bulk read is one operation). */
export interface KvCount {
  operations: number;
  bytes: number;
}

/** Text values kept in memory, by KV key, and how record versions are made. */
export class MemoryKv {
  private readonly values = new Map<string, string>();
  /** The count `counted` is keeping, or null when not counting. */
  private counting: KvCount | null = null;

  constructor(entries: Iterable<[string, string]>) {
    for (const [key, value] of entries) this.values.set(key, value);
  }

  private text(key: string): string | null {
    const kept = this.values.get(key);
    if (kept !== undefined) return kept;
    // A record's first version, under its version key or as its latest copy.
    const id = key.startsWith(EVENT_VERSION_KEY_PREFIX) ? key.slice(EVENT_VERSION_KEY_PREFIX.length).split(':')[0]! : key.startsWith(EVENT_KEY_PREFIX) ? key.slice(EVENT_KEY_PREFIX.length) : null;
    if (id === null || !/^bench-\d+$/.test(id)) return null;
    const made = JSON.stringify(storedRecord(numberOf(id)));
    this.values.set(key, made);
    return made;
  }

  private decode(text: string | null, type: string): unknown {
    return text === null ? null : type === 'json' ? JSON.parse(text) : text;
  }

  /** The text under `key`, counted when counting. */
  private read(key: string): string | null {
    const text = this.text(key);
    if (this.counting !== null && text !== null) this.counting.bytes += encoder.encode(text).byteLength;
    return text;
  }

  /** `get` as Workers KV answers it for text and JSON, one key or a bulk read of many. */
  async get(key: string | string[], options?: string | { type?: string }): Promise<unknown> {
    if (this.counting !== null) this.counting.operations++;
    const type = typeof options === 'string' ? options : (options?.type ?? 'text');
    if (Array.isArray(key)) return new Map(key.map((one) => [one, this.decode(this.read(one), type)]));
    return this.decode(this.read(key), type);
  }

  /** Runs `work` (never two at once) and answers the KV operations it made and the bytes it read. */
  async counted(work: () => Promise<unknown>): Promise<KvCount> {
    const count: KvCount = { operations: 0, bytes: 0 };
    this.counting = count;
    try {
      await work();
    } finally {
      this.counting = null;
    }
    return count;
  }
}

/** The KV layout of a store of synthetic records 0 … `size` - 1, published at revision `size / 500` (as 500-record writes would); its stats aggregates are kept in `db`, an empty Node SQLite database. */
export function buildStore(size: number, db: SqliteDatabase): MemoryKv {
  const epoch = 'bench';
  const revision = Math.max(1, Math.ceil(size / 500));
  const values: [string, string][] = [];
  const chunks: ChunkRef[] = [];
  let entries: IndexEntry[] = [];
  const newestChunks: IndexEntry[][] = [];
  const close = () => {
    const key = `${CHUNK_KEY_PREFIX}${epoch}-${revision}-c${chunks.length}`;
    values.push([key, chunkText(entries)]);
    if (chunks.length < 2) newestChunks.push(entries);
    chunks.push({
      key,
      first: entries[0]!.k,
      last: entries.at(-1)!.k,
      count: entries.length,
      start: entries.reduce((earliest, entry) => ((entry.date_start ?? entry.date) < earliest ? (entry.date_start ?? entry.date) : earliest), '9999-12-31'),
      end: entries.reduce((latest, entry) => ((entry.date_end ?? entry.date) > latest ? (entry.date_end ?? entry.date) : latest), '0000-01-01'),
    });
    entries = [];
  };
  const stats = statsKeysBuilder(db, epoch, revision);
  // Records are dated in the order of their numbers (ids too within a day): newest first is i descending.
  for (let i = size - 1; i >= 0; i--) {
    const entry = toIndexEntry(storedRecord(i));
    entries.push(entry);
    stats.add(entry.id, entry);
    if (entries.length === CHUNK_TARGET) close();
  }
  if (entries.length > 0) close();
  const newest = storedRecord(size - 1);
  const flat: FlatManifest = { format: 2, epoch, revision, count: size, updated_at: newest.updated_at, changed_at: WRITTEN_AT, chunks };
  const tree = segmentFlatIndex(flat);
  for (const [key, refs] of tree.segments) values.push([key, JSON.stringify(refs)]);
  for (const [key, chunk] of tree.chunks) values.push([key, chunkText(chunk)]);
  // The /stats aggregates, which the head names.
  const { directory, values: statsValues } = stats.finish();
  values.push(...statsValues);
  tree.manifest.stats = directory;
  // The front page the Coordinator publishes with each revision.
  tree.manifest.front_page = frontPageKey(epoch, revision);
  const frontPage = frontPageJson({ chunks: () => newestChunks, recordText: (id) => JSON.stringify(storedRecord(numberOf(id))) });
  values.push([tree.manifest.front_page, frontPage!]);
  values.push([MANIFEST_KEY, JSON.stringify(tree.manifest)]);
  values.push([HEAD_KEY, JSON.stringify(headOf(tree.manifest))]);
  return new MemoryKv(values);
}

