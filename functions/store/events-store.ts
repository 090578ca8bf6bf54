/**
 * All KV I/O for events, the query index and tallies. The namespace is passed
 * in; the layout itself is described in domain/layout.ts.
 */
import { mergeRecord, type RecordChange } from '../domain/changes.ts';
import { sha256Hex } from '../domain/digest.ts';
import {
  EVENT_KEY_PREFIX,
  MANIFEST_KEY,
  applyIndexChange,
  chunksTouched,
  emptyManifest,
  eventKey,
  sortKey,
  toIndexEntry,
  type IndexChange,
  type IndexEntry,
  type Manifest,
} from '../domain/layout.ts';
import { MAX_CHUNKS_PER_PAGE, chunksInRange, encodeCursor, keyRange, selectEntries, type EventFilter } from '../domain/query.ts';
import type { Event, EventInput, Tally } from '../domain/schema.ts';

/** KV key of the tallies collection. */
export const TALLIES_KEY = 'tallies';
/** KV key of the tallies' `TalliesVersion`. */
export const TALLIES_VERSION_KEY = 'tallies:version';
/** Most keys one KV bulk read may ask for. */
const BULK_GET_MAX = 100;
/** Chunks never change once written, so edge caches may keep them long. */
const CHUNK_CACHE_TTL_SECONDS = 86_400;

/** Reads the index manifest; an empty one when nothing was written yet. */
export async function readManifest(kv: KVNamespace): Promise<Manifest> {
  return (await kv.get<Manifest>(MANIFEST_KEY, 'json')) ?? emptyManifest();
}

async function readChunk(kv: KVNamespace, key: string): Promise<IndexEntry[]> {
  const entries = await kv.get<IndexEntry[]>(key, { type: 'json', cacheTtl: CHUNK_CACHE_TTL_SECONDS });
  if (!entries) throw new Error(`index chunk ${key} is missing`);
  return entries;
}

/** Reads one record by id; null when there is none. */
export function readEvent(kv: KVNamespace, id: string): Promise<Event | null> {
  return kv.get<Event>(eventKey(id), 'json');
}

/** Reads records by id with KV bulk reads; ids with no record are absent from the map. */
export async function readEvents(kv: KVNamespace, ids: readonly string[]): Promise<Map<string, Event>> {
  const found = new Map<string, Event>();
  const batches: string[][] = [];
  for (let start = 0; start < ids.length; start += BULK_GET_MAX) batches.push(ids.slice(start, start + BULK_GET_MAX).map(eventKey));
  const results = await Promise.all(batches.map((keys) => kv.get<Event>(keys, 'json')));
  for (const result of results) for (const record of result.values()) if (record) found.set(record.id, record);
  return found;
}

/** One page of a query. */
export interface EventPage {
  events: Event[];
  nextCursor: string | null;
  manifest: Manifest;
}

/**
 * Reads one page, newest first, of the records matching `filter` after the
 * sort key `after`. It reads the manifest (unless the caller already has
 * it), at most MAX_CHUNKS_PER_PAGE chunks and the page's records; when the
 * chunk budget runs out first, the page is short and `nextCursor` goes on
 * from the last chunk scanned.
 */
export async function queryEvents(kv: KVNamespace, filter: EventFilter, limit: number, after: string | null, known?: Manifest): Promise<EventPage> {
  const manifest = known ?? (await readManifest(kv));
  const range = keyRange(after, filter);
  const candidates = chunksInRange(manifest, range);
  const picked: IndexEntry[] = [];
  let scanned = 0;
  for (const ref of candidates) {
    if (scanned === MAX_CHUNKS_PER_PAGE || picked.length > limit) break;
    picked.push(...selectEntries(await readChunk(kv, ref.key), range, filter));
    scanned++;
  }
  let nextCursor: string | null = null;
  if (picked.length > limit) {
    picked.length = limit;
    nextCursor = encodeCursor(picked[limit - 1]!.k);
  } else if (scanned < candidates.length) {
    nextCursor = encodeCursor(candidates[scanned - 1]!.last);
  }
  const records = await readEvents(kv, picked.map((entry) => entry.id));
  return { events: picked.flatMap((entry) => records.get(entry.id) ?? []), nextCursor, manifest };
}

/** What one write did to one record; `previous` is the version it replaced, if any. */
export interface WriteResult {
  record: Event;
  change: RecordChange;
  previous: Event | null;
}

/**
 * Creates or updates records and the index in one revision. Identical
 * resubmissions change nothing. Not safe against a concurrent writer: callers
 * serialise writes (see the Coordinator in store/coordinator.ts).
 */
export async function writeEvents(kv: KVNamespace, inputs: readonly EventInput[], now: string): Promise<WriteResult[]> {
  const latest = new Map(inputs.map((input) => [input.id, input]));
  const stored = await readEvents(kv, [...latest.keys()]);
  const results: WriteResult[] = [];
  const change: IndexChange = { remove: [], upsert: [] };
  for (const input of latest.values()) {
    const previous = stored.get(input.id) ?? null;
    const result = { ...mergeRecord(previous, input, now), previous };
    results.push(result);
    if (result.change === 'unchanged') continue;
    if (previous && sortKey(previous) !== sortKey(result.record)) change.remove.push(sortKey(previous));
    change.upsert.push(toIndexEntry(result.record));
  }
  const changed = results.filter((result) => result.change !== 'unchanged');
  if (changed.length === 0) return results;
  await Promise.all(changed.map(({ record }) => kv.put(eventKey(record.id), JSON.stringify(record))));
  await updateIndex(kv, change, changed.map(({ record }) => record), now);
  return results;
}

/**
 * Adds index entries for records already stored under `event:<id>` but
 * missing from the index (written by another path, or by a write that
 * stopped before its index update). Not safe against a concurrent writer.
 */
export async function indexStoredEvents(kv: KVNamespace, records: readonly Event[], now: string): Promise<void> {
  if (records.length === 0) return;
  await updateIndex(kv, { remove: [], upsert: records.map(toIndexEntry) }, records, now);
}

/** Applies an index change as one new revision: new chunks first, then the manifest, then retired chunks of the previous revision go. */
async function updateIndex(kv: KVNamespace, change: IndexChange, records: readonly Event[], now: string): Promise<void> {
  const manifest = await readManifest(kv);
  const loaded = new Map(await Promise.all(chunksTouched(manifest, change).map(async (key) => [key, await readChunk(kv, key)] as const)));
  const newest = records.reduce((max, record) => (record.updated_at > max ? record.updated_at : max), '');
  const write = applyIndexChange(manifest, loaded, change, newest, now);
  await Promise.all([...write.chunks].map(([key, entries]) => kv.put(key, JSON.stringify(entries))));
  await kv.put(MANIFEST_KEY, JSON.stringify(write.manifest));
  // Chunks this write replaced stay readable until the next write, for readers holding the previous manifest.
  await Promise.all(manifest.retired.map((key) => kv.delete(key)));
}

/** Lists the ids of every record stored under `event:<id>`, following KV list cursors. */
export async function listStoredEventIds(kv: KVNamespace): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await kv.list({ prefix: EVENT_KEY_PREFIX, cursor });
    ids.push(...page.keys.map((key) => key.name.slice(EVENT_KEY_PREFIX.length)));
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return ids;
}

/** Reads the tallies collection. */
export async function readTallies(kv: KVNamespace): Promise<Tally[]> {
  return (await kv.get<Tally[]>(TALLIES_KEY, 'json')) ?? [];
}

/** Replaces the tallies collection; when its content changed, records a new `TalliesVersion` stamped `now`. */
export async function writeTallies(kv: KVNamespace, tallies: readonly Tally[], now = new Date().toISOString()): Promise<void> {
  const text = JSON.stringify(tallies);
  const digest = await sha256Hex(text);
  await kv.put(TALLIES_KEY, text);
  if ((await readTalliesVersion(kv))?.digest !== digest) await kv.put(TALLIES_VERSION_KEY, JSON.stringify({ digest, updated_at: now } satisfies TalliesVersion));
}

/** Which content the tallies collection has, and since when: the validators of `/tallies`. */
export interface TalliesVersion {
  /** SHA-256 of the stored collection. */
  digest: string;
  /** When the collection last changed. */
  updated_at: string;
}

/** Reads the tallies' version; null when tallies were never written with one. */
export function readTalliesVersion(kv: KVNamespace): Promise<TalliesVersion | null> {
  return kv.get<TalliesVersion>(TALLIES_VERSION_KEY, 'json');
}

/**
 * Every index entry matching `filter`, newest first, for aggregates over a
 * whole result set such as `/stats` and for reconciliation (`{}`: the whole
 * index). It reads the manifest (unless the caller already has it) and each
 * chunk in the filter's date range, but no record.
 */
export async function scanEntries(kv: KVNamespace, filter: EventFilter, known?: Manifest): Promise<IndexEntry[]> {
  const manifest = known ?? (await readManifest(kv));
  const range = keyRange(null, filter);
  const chunks = await Promise.all(chunksInRange(manifest, range).map((ref) => readChunk(kv, ref.key)));
  return chunks.flatMap((entries) => selectEntries(entries, range, filter));
}
