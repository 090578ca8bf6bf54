/**
 * Reading the published copy in KV: the index head, the manifest, index
 * segments and chunks (walked from the manifest down, reading only the
 * segments whose range and days meet the query, in order; a chunk with its
 * patch in one bulk read, the patch applied), the front page, record versions,
 * the `/stats` aggregates, the latest record under `event:<id>`, tombstones,
 * the change log's pages and the tallies. The namespace is passed in; the
 * layout is described in domain/layout.ts. Only the Coordinator writes these
 * keys (store/publisher.ts).
 *
 * KV is eventually consistent: a reader may hold a manifest older or newer
 * than the chunks and record versions its location can see. A key the
 * manifest names that cannot be read raises `StaleIndexError`;
 * `withFreshManifest` then re-reads the manifest once with the shortest
 * cache time, and the app answers 503 with Retry-After if that does not help.
 */
import { patchedEntries, patchedKeys, type ChunkPatch } from '../domain/chunk-patch.ts';
import { chunkEntries, chunkKeys, entryKey, type EntryKey } from '../domain/chunk-text.ts';
import { CHANGES_HEAD_KEY, CHANGES_PAGE_SIZE, changesPageKey, pageOfSeq, tombstoneKey, type ChangeEntry, type ChangesCursor, type ChangesHead, type PublishedChange, type Tombstone } from '../domain/change-feed.ts';
import { EVENT_KEY_PREFIX, HEAD_KEY, MANIFEST_KEY, emptyManifest, eventKey, eventVersionKey, headOf, rootOf, toIndexEntry, type ChunkRef, type IndexEntry, type IndexHead, type IndexRef, type Manifest } from '../domain/layout.ts';
import { servedRecordJson } from '../domain/page-json.ts';
import { monthsToRefine, statsFromCells, yearsInRange, type Cell, type StatsDirectory, type StatsYear } from '../domain/stats-cells.ts';
import type { EventStats } from '../domain/stats.ts';
import { decodeStatsYear, type PublishedStatsYear } from '../domain/stats-year.ts';
import { MAX_CHUNKS_PER_PAGE, MAX_SEGMENTS_PER_PAGE, encodeCursor, filtersNothing, keyRange, matchesFilter, refsInRange, selectEntries, updatedCursor, type EventFilter, type KeyRange } from '../domain/query.ts';
import type { Event, Tally } from '../domain/schema.ts';
import { parseStoredRecord } from '../domain/stored-record.ts';
import { settleLimited } from './limited.ts';

/** KV key of the published tallies. */
export const TALLIES_KEY = 'tallies';
/** KV key holding the fingerprint of the last bundled dataset published. */
export const BUNDLE_FINGERPRINT_KEY = 'meta:bundle';
/** Most keys one KV bulk read may ask for. */
const BULK_GET_MAX = 100;
/** Chunks and record versions never change once written, so edge caches may keep them long. */
const IMMUTABLE_CACHE_TTL_SECONDS = 86_400;
/** The shortest edge cache time KV accepts: used to re-read a manifest that proved stale. */
const SHORTEST_CACHE_TTL_SECONDS = 30;
/** Epoch of the manifest readers see before anything was published. */
const UNPUBLISHED_EPOCH = 'unpublished';

/** A key named by the manifest could not be read: this location's copy of the index is inconsistent for now. */
export class StaleIndexError extends Error {
  constructor(key: string) {
    super(`${key} is not readable yet or any more`);
    this.name = 'StaleIndexError';
  }
}

/** The tallies as published: the collection with its digest and change time (its validators). */
export interface PublishedTallies {
  digest: string;
  updated_at: string;
  data: Tally[];
}

/** Reads the index manifest (with the shortest cache time when `fresh`); an empty one when nothing was published yet. */
export async function readManifest(kv: KVNamespace, fresh = false): Promise<Manifest> {
  const manifest = fresh ? await kv.get<Manifest>(MANIFEST_KEY, { type: 'json', cacheTtl: SHORTEST_CACHE_TTL_SECONDS }) : await kv.get<Manifest>(MANIFEST_KEY, 'json');
  return manifest ?? emptyManifest(UNPUBLISHED_EPOCH);
}

/**
 * Reads the index head (what validators and `/healthz` need, of fixed size),
 * with the shortest cache time when `fresh`.
 * Where none can be read yet (a store published before heads existed, or a
 * location still caching "not found"), the head of the manifest.
 */
export async function readHead(kv: KVNamespace, fresh = false): Promise<IndexHead> {
  const head = fresh ? await kv.get<IndexHead>(HEAD_KEY, { type: 'json', cacheTtl: SHORTEST_CACHE_TTL_SECONDS }) : await kv.get<IndexHead>(HEAD_KEY, 'json');
  return head ?? headOf(await readManifest(kv, fresh));
}

/**
 * Runs `read` against `version` (a manifest or a head); when it meets a key
 * that version names but KV does not serve, reads the version again with
 * `reread` (the shortest cache time) and runs `read` once more against a
 * newer one. Throws `StaleIndexError` when that does not help.
 */
async function withFresh<V extends { epoch: string; revision: number }, T>(version: V, reread: () => Promise<V>, read: (version: V) => Promise<T>): Promise<{ value: T; version: V }> {
  try {
    return { value: await read(version), version };
  } catch (error) {
    if (!(error instanceof StaleIndexError)) throw error;
    const fresh = await reread();
    if (fresh.epoch === version.epoch && fresh.revision === version.revision) throw error;
    return { value: await read(fresh), version: fresh };
  }
}

/** Runs `read` against `manifest`, once more against a fresh manifest when a key it names is missing (see `withFresh`); the result and the manifest it was built from. */
export async function withFreshManifest<T>(kv: KVNamespace, manifest: Manifest, read: (manifest: Manifest) => Promise<T>): Promise<{ value: T; manifest: Manifest }> {
  const { value, version } = await withFresh(manifest, () => readManifest(kv, true), read);
  return { value, manifest: version };
}

/** Runs `read` against `head`, once more against a fresh head when a key it names is missing (see `withFresh`); the result and the head it was built from. */
export async function withFreshHead<T>(kv: KVNamespace, head: IndexHead, read: (head: IndexHead) => Promise<T>): Promise<{ value: T; head: IndexHead }> {
  const { value, version } = await withFresh(head, () => readHead(kv, true), read);
  return { value, head: version };
}

/** Reads an immutable index segment's children, as the manifest names it. */
async function readSegment(kv: KVNamespace, key: string): Promise<IndexRef[]> {
  const node = await kv.get<IndexRef[]>(key, { type: 'json', cacheTtl: IMMUTABLE_CACHE_TTL_SECONDS });
  if (!node) throw new StaleIndexError(key);
  return node;
}

/** A chunk as read: its stored text (domain/chunk-text.ts) and its patch, if its ref names one (domain/chunk-patch.ts). */
interface ReadChunk {
  text: string;
  patch: ChunkPatch | null;
}

/** Reads an immutable index chunk as a segment names it: its text, and its patch with it (one bulk read) when it has one. */
async function readChunkOf(kv: KVNamespace, ref: ChunkRef): Promise<ReadChunk> {
  if (!ref.patch) {
    const text = await kv.get(ref.key, { type: 'text', cacheTtl: IMMUTABLE_CACHE_TTL_SECONDS });
    if (text === null) throw new StaleIndexError(ref.key);
    return { text, patch: null };
  }
  const [text, patch] = await readImmutable<string>(kv, [ref.key, ref.patch], 'text');
  return { text: text!, patch: JSON.parse(patch!) as ChunkPatch };
}

/** A read chunk's entries, patched. */
const entriesOf = ({ text, patch }: ReadChunk): IndexEntry[] => (patch ? patchedEntries(chunkEntries(text), patch) : chunkEntries(text));

/** A read chunk's keys before `upper` (all when null), at most `most` of them, patched; only the key line is parsed. */
const keysOf = ({ text, patch }: ReadChunk, upper: string | null, most: number): EntryKey[] =>
  patch ? patchedKeys(chunkKeys(text, null, Infinity), patch, entryKey).filter((key) => upper === null || key.k < upper).slice(0, most) : chunkKeys(text, upper, most);

/** Reads an immutable index chunk's entries, patched. */
const readChunk = async (kv: KVNamespace, ref: ChunkRef): Promise<IndexEntry[]> => entriesOf(await readChunkOf(kv, ref));

/**
 * A walk down the index to the chunks that can hold entries in a range,
 * newest first. A segment is read only when the walk reaches it, so a page
 * that stops early reads only the segments on its way, and at most
 * `segmentBudget` of them: segments whose days meet a date filter may hold
 * no chunk that does (records with long intervals widen a segment's span).
 */
class ChunkWalk {
  private readonly stack: { refs: IndexRef[]; next: number; level: number; segment: IndexRef | null }[];
  private segmentReads = 0;
  /** The lowest sort key down to which every segment met has been walked through; null before the first. */
  passed: string | null = null;

  constructor(
    private readonly kv: KVNamespace,
    manifest: Manifest,
    private readonly range: KeyRange,
    private readonly segmentBudget: number,
  ) {
    const { refs, level } = rootOf(manifest);
    this.stack = [{ refs: refsInRange(refs, range), next: 0, level, segment: null }];
  }

  /** The next chunk; null when there is none left; 'budget' when reaching it would read more segments than the budget. */
  async next(): Promise<ChunkRef | null | 'budget'> {
    for (;;) {
      const frame = this.stack.at(-1);
      if (!frame) return null;
      if (frame.next === frame.refs.length) {
        this.stack.pop();
        if (frame.segment) this.passed = frame.segment.last;
        continue;
      }
      const ref = frame.refs[frame.next]!;
      if (frame.level === 0) {
        frame.next++;
        return ref;
      }
      if (this.segmentReads === this.segmentBudget) return 'budget';
      this.segmentReads++;
      frame.next++;
      this.stack.push({ refs: refsInRange(await readSegment(this.kv, ref.key), this.range), next: 0, level: frame.level - 1, segment: ref });
    }
  }
}

/**
 * Every chunk, newest first, that can hold entries in `range`: the segments
 * in range read level by level, at most six at once. For reads of a whole
 * range (`/stats`, `/actors`), whose cost grows with the range anyway.
 */
export async function chunkRefsInRange(kv: KVNamespace, manifest: Manifest, range: KeyRange): Promise<ChunkRef[]> {
  const root = rootOf(manifest);
  let refs = refsInRange(root.refs, range);
  for (let level = root.level; level > 0; level--) {
    const outcomes = await settleLimited(refs, (ref) => readSegment(kv, ref.key));
    refs = outcomes.flatMap((outcome) => {
      if (outcome.status === 'rejected') throw outcome.reason;
      return refsInRange(outcome.value, range);
    });
  }
  return refs;
}

/**
 * Reads a body the writer published ready to send, which a head names (the
 * front page, domain/page-json.ts; the answer of `/stats` with no filter,
 * domain/stats-cells.ts); null where this location cannot read it (not
 * yet, or never published).
 */
export const readPublishedBody = (kv: KVNamespace, key: string): Promise<string | null> => kv.get(key, { type: 'text', cacheTtl: IMMUTABLE_CACHE_TTL_SECONDS });

/** A record as stored under `event:<id>` with the exact text served. */
export interface StoredEvent {
  record: Event;
  text: string;
}

/** Reads the latest version of one record; null when there is none or the stored value is not a valid record of that id (never served). */
export async function readEvent(kv: KVNamespace, id: string): Promise<StoredEvent | null> {
  const text = await readEventText(kv, id);
  return text === null ? null : storedEvent(text, id);
}

/** The text KV holds under `event:<id>` (not validated yet: see `storedEvent`); null when there is none. */
export const readEventText = (kv: KVNamespace, id: string): Promise<string | null> => kv.get(eventKey(id), 'text');

/** The record in a text read from `event:<id>`; null when it is not a valid record of that id (never served). */
export function storedEvent(text: string, id: string): StoredEvent | null {
  const stored = parseStoredRecord(text, id);
  if (stored.ok) return { record: stored.record, text };
  console.warn('not serving an invalid value under', `${EVENT_KEY_PREFIX}${id}`, '-', stored.problem);
  return null;
}

/** The immutable keys of the record versions that index entries name, in entry order. */
const versionKeys = (entries: readonly Pick<EntryKey, 'id' | 'rev'>[]): string[] => entries.map((entry) => eventVersionKey(entry.id, entry.rev));

/**
 * Reads the record versions that index entries name, in entry order.
 * Versions are written only by the Coordinator and never change, so they
 * are parsed, not validated again.
 */
const readVersions = (kv: KVNamespace, entries: readonly Pick<EntryKey, 'id' | 'rev'>[]): Promise<Event[]> => readImmutable<Event>(kv, versionKeys(entries));

/**
 * Reads the record versions that index entries name as the JSON the API
 * serves (with `date_start`/`date_end`), in entry order: each stored text
 * with the entry's interval spliced in, parsed only when that cannot be done
 * (an entry indexed before intervals, or a text not as the Coordinator writes
 * it).
 */
async function readServedVersions(kv: KVNamespace, entries: readonly EntryKey[]): Promise<string[]> {
  const texts = await readImmutable<string>(kv, versionKeys(entries), 'text');
  return texts.map((text, at) => servedRecordJson(text, entries[at]!.interval));
}

/**
 * Reads keys that never change once named (record versions, stats
 * aggregates), in order, parsed as JSON or as text, with bulk reads of
 * BULK_GET_MAX keys (at most six at once); a key not served raises
 * `StaleIndexError`.
 */
async function readImmutable<T>(kv: KVNamespace, keys: readonly string[], type: 'json' | 'text' = 'json'): Promise<T[]> {
  const batches: string[][] = [];
  for (let start = 0; start < keys.length; start += BULK_GET_MAX) batches.push(keys.slice(start, start + BULK_GET_MAX));
  const found = new Map<string, T>();
  for (const outcome of await settleLimited(batches, (batch) => (type === 'text' ? (kv.get(batch, { type: 'text', cacheTtl: IMMUTABLE_CACHE_TTL_SECONDS }) as Promise<Map<string, T | null>>) : kv.get<T>(batch, { type: 'json', cacheTtl: IMMUTABLE_CACHE_TTL_SECONDS })))) {
    if (outcome.status === 'rejected') throw outcome.reason;
    for (const [key, value] of outcome.value) if (value !== null) found.set(key, value);
  }
  return keys.map((key) => {
    const value = found.get(key);
    if (value === undefined) throw new StaleIndexError(key);
    return value;
  });
}

/** One page of a query. */
export interface EventPage {
  events: Event[];
  nextCursor: string | null;
  manifest: Manifest;
}

/** One page of a query as the JSON the API serves for each record. */
export interface ServedPage {
  texts: string[];
  nextCursor: string | null;
}

/**
 * Finds one page, newest first, of the entries matching `filter` after the
 * sort key `after`, in `manifest`: the segments on the way (one per level,
 * and at most MAX_SEGMENTS_PER_PAGE more) and at most MAX_CHUNKS_PER_PAGE
 * chunks; when a budget runs out first, the page is short and `nextCursor`
 * goes on from where the scan stopped. With no filter but the cursor, only
 * the chunks' first lines (their keys) are parsed.
 */
async function pickPage(kv: KVNamespace, filter: EventFilter, limit: number, after: string | null, manifest: Manifest): Promise<{ picked: EntryKey[]; nextCursor: string | null }> {
  const range = keyRange(after, filter);
  const picked: EntryKey[] = [];
  // Entries sort newest first, so those before the cursor are a suffix of the chunk; one more than the page is enough to know there is more.
  const select = filtersNothing(filter)
    ? (chunk: ReadChunk) => keysOf(chunk, range.upper, limit + 1 - picked.length)
    : (chunk: ReadChunk) => selectEntries(entriesOf(chunk), range, filter).map(entryKey);
  const walk = new ChunkWalk(kv, manifest, range, rootOf(manifest).level + MAX_SEGMENTS_PER_PAGE);
  let lastScanned: string | null = null;
  let scanned = 0;
  let more: boolean;
  for (;;) {
    if (picked.length > limit) {
      more = true;
      break;
    }
    const next = await walk.next();
    if (next === null || next === 'budget' || scanned === MAX_CHUNKS_PER_PAGE) {
      more = next !== null;
      break;
    }
    picked.push(...select(await readChunkOf(kv, next)));
    lastScanned = next.last;
    scanned++;
  }
  let nextCursor: string | null = null;
  if (picked.length > limit) {
    picked.length = limit;
    nextCursor = encodeCursor(picked[limit - 1]!.k);
  } else if (more) {
    // The further of the two points the scan covered everything down to.
    const stoppedAt = [lastScanned, walk.passed].filter((key): key is string => key !== null).sort()[0];
    if (stoppedAt !== undefined) nextCursor = encodeCursor(stoppedAt);
  }
  return { picked, nextCursor };
}

/** Reads one page, newest first, of the records matching `filter` after the sort key `after`, from `manifest` (see `pickPage`), then the page's record versions. */
export async function queryEvents(kv: KVNamespace, filter: EventFilter, limit: number, after: string | null, manifest: Manifest): Promise<EventPage> {
  const { picked, nextCursor } = await pickPage(kv, filter, limit, after, manifest);
  return { events: await readVersions(kv, picked), nextCursor, manifest };
}

/** Reads the same page as `queryEvents`, its records as the JSON the API serves, spliced from their stored texts rather than parsed and written again. */
export async function queryServedEvents(kv: KVNamespace, filter: EventFilter, limit: number, after: string | null, manifest: Manifest): Promise<ServedPage> {
  const { picked, nextCursor } = await pickPage(kv, filter, limit, after, manifest);
  return { texts: await readServedVersions(kv, picked), nextCursor };
}

/** Most index chunks one `/stats` request scans for what the aggregates cannot answer (`q`, `bbox`, a cursor). */
export const MAX_STATS_SCAN_CHUNKS = 16;

/**
 * The index entries matching `filter` after the sort key `after` (from the
 * newest when null), newest first, from at most MAX_STATS_SCAN_CHUNKS chunks
 * in the filter's date range, reached through the segments on the way (one
 * per level and at most MAX_SEGMENTS_PER_PAGE more; chunks read at most six
 * at once, never a record); `next` is the sort key to continue after when
 * the scan stopped before the end of the range, else null.
 */
export async function scanEntries(kv: KVNamespace, filter: EventFilter, after: string | null, manifest: Manifest): Promise<{ entries: IndexEntry[]; next: string | null }> {
  const range = keyRange(after, filter);
  const walk = new ChunkWalk(kv, manifest, range, rootOf(manifest).level + MAX_SEGMENTS_PER_PAGE);
  const scanned: ChunkRef[] = [];
  let next = await walk.next();
  while (next !== null && next !== 'budget' && scanned.length < MAX_STATS_SCAN_CHUNKS) {
    scanned.push(next);
    next = await walk.next();
  }
  const outcomes = await settleLimited(scanned, (ref) => readChunk(kv, ref));
  const entries = outcomes.flatMap((outcome) => {
    if (outcome.status === 'rejected') throw outcome.reason;
    return selectEntries(outcome.value, range, filter);
  });
  if (next === null) return { entries, next: null };
  // The further of the two points the scan covered everything down to (as in queryEvents).
  const stoppedAt = [scanned.at(-1)?.last ?? null, walk.passed].filter((key): key is string => key !== null).sort()[0];
  return { entries, next: stoppedAt ?? null };
}

/**
 * Every index entry matching `filter`, newest first, for aggregates over a
 * whole result set (`/stats` and `/actors` before the aggregates are built):
 * the segments and chunks in the filter's date range (at most six reads at
 * once), but no record. It grows with the dataset.
 */
export async function scanAllEntries(kv: KVNamespace, filter: EventFilter, manifest: Manifest): Promise<IndexEntry[]> {
  const range = keyRange(null, filter);
  const outcomes = await settleLimited(await chunkRefsInRange(kv, manifest, range), (ref) => readChunk(kv, ref));
  return outcomes.flatMap((outcome) => {
    if (outcome.status === 'rejected') throw outcome.reason;
    return selectEntries(outcome.value, range, filter);
  });
}

/**
 * The stats of the records matching `filter` (without `q` and `bbox`) from
 * the aggregates whose directory is `directoryKey` (domain/stats-cells.ts):
 * the directory, the years in range (bulk reads of 100) and the fine cells
 * of at most two months, whatever the number of records.
 */
export async function readStats(kv: KVNamespace, directoryKey: string, filter: EventFilter): Promise<EventStats> {
  const [directory] = await readImmutable<StatsDirectory>(kv, [directoryKey]);
  const keys = yearsInRange(directory!, filter).map(([, key]) => key);
  const years = (await readImmutable<PublishedStatsYear | StatsYear>(kv, keys)).map((year, index) => decodeStatsYear(year, keys[index]!));
  const months = monthsToRefine(years, filter);
  const monthKeys = new Map(years.flatMap((year) => Object.entries(year.months)));
  const fine = await readImmutable<Cell[]>(kv, months.map((month) => monthKeys.get(month)!));
  return statsFromCells(years, new Map(months.map((month, index) => [month, fine[index]!])), filter);
}

/** Reads the published tallies; null before any were published. */
export function readTallies(kv: KVNamespace): Promise<PublishedTallies | null> {
  return kv.get<PublishedTallies>(TALLIES_KEY, 'json');
}

/** Reads the tombstone of a retracted record; null when `id` is not retracted (or this location has not seen it yet). */
export function readTombstone(kv: KVNamespace, id: string): Promise<Tombstone | null> {
  return kv.get<Tombstone>(tombstoneKey(id), 'json');
}

/** A page of the change feed: the changes after the cursor and where to resume (null before anything was published). */
export interface ChangesPage {
  changes: ChangeEntry[];
  next: ChangesCursor | null;
}

/** The cursor was made in another storage epoch: its positions mean nothing in this one. */
export class ForeignEpochError extends Error {
  constructor(readonly cursorEpoch: string, readonly currentEpoch: string) {
    super(`the cursor is from storage epoch ${cursorEpoch}, the change log is now in epoch ${currentEpoch}`);
    this.name = 'ForeignEpochError';
  }
}

/**
 * Reads up to `limit` (at most CHANGES_PAGE_SIZE) changes after `cursor`
 * (from the first change when null), in commit order, from the published
 * pages: with a cursor, one bulk read of the head and the two pages the
 * changes can lie on; without, the head first. Each published page is a
 * prefix of its final content, so a page read at any moment never skips a
 * change; when it holds nothing new the answer is empty with the same
 * position. Throws `ForeignEpochError` for a cursor of another epoch.
 */
export async function readChanges(kv: KVNamespace, cursor: ChangesCursor | null, limit: number): Promise<ChangesPage> {
  const wanted = (epoch: string, seq: number) => [changesPageKey(epoch, pageOfSeq(seq + 1)), changesPageKey(epoch, pageOfSeq(seq + 1) + 1)];
  let head: ChangesHead | null;
  let pages: (PublishedChange[] | null)[];
  if (cursor) {
    const values = await kv.get<unknown>([CHANGES_HEAD_KEY, ...wanted(cursor.epoch, cursor.seq)], 'json');
    head = values.get(CHANGES_HEAD_KEY) as ChangesHead | null;
    pages = wanted(cursor.epoch, cursor.seq).map((key) => values.get(key) as PublishedChange[] | null);
  } else {
    head = await kv.get<ChangesHead>(CHANGES_HEAD_KEY, 'json');
    if (!head) return { changes: [], next: null };
    const keys = wanted(head.epoch, 0);
    const values = await kv.get<PublishedChange[]>(keys, 'json');
    pages = keys.map((key) => values.get(key) ?? null);
  }
  if (!head) return { changes: [], next: cursor };
  if (cursor && cursor.epoch !== head.epoch) throw new ForeignEpochError(cursor.epoch, head.epoch);
  const after = cursor?.seq ?? 0;
  const [first, second] = pages;
  // The second page counts only once the first is complete: until then it cannot hold the next change.
  const available = [...(first ?? []), ...(first?.length === CHANGES_PAGE_SIZE ? (second ?? []) : [])];
  const picked = available.filter((change) => change.seq > after).slice(0, limit);
  const last = picked.at(-1)?.seq ?? after;
  return { changes: picked.map(({ seq: _seq, ...change }) => change), next: { epoch: head.epoch, seq: last } };
}

/** Change-log pages one `order=updated` request reads at most (in one bulk read); a sparse filter gets a short page and a cursor. */
export const MAX_CHANGE_PAGES_PER_REQUEST = 5;

/**
 * Reads one page of the records matching `filter` ordered by the time of
 * their last change, newest first, before change-log position `before`
 * (from the newest change when null): at most MAX_CHANGE_PAGES_PER_REQUEST
 * published change pages (one bulk read) and the latest copies of the
 * candidates (bulk reads of 100), whatever the size of the dataset. A record
 * is listed once, at its latest change: a change whose revision is no longer
 * the record's (or whose record was retracted) is skipped. Scanning stops at
 * the first change older than `filter.updated_since`. Throws
 * `ForeignEpochError` for a position of another epoch.
 */
export async function queryByUpdate(kv: KVNamespace, filter: EventFilter, limit: number, before: ChangesCursor | null): Promise<{ events: Event[]; nextCursor: string | null }> {
  const head = await kv.get<ChangesHead>(CHANGES_HEAD_KEY, 'json');
  if (!head) return { events: [], nextCursor: null };
  if (before && before.epoch !== head.epoch) throw new ForeignEpochError(before.epoch, head.epoch);
  if (before && before.seq <= 1) return { events: [], nextCursor: null };
  const top = before ? pageOfSeq(before.seq - 1) : head.last_page;
  const numbers = Array.from({ length: Math.min(MAX_CHANGE_PAGES_PER_REQUEST, top + 1) }, (_, i) => top - i);
  const keys = numbers.map((page) => changesPageKey(head.epoch, page));
  const values = await kv.get<PublishedChange[]>(keys, 'json');
  const changes = keys.flatMap((key) => [...(values.get(key) ?? [])].reverse()).filter((change) => !before || change.seq < before.seq);
  const candidates: PublishedChange[] = [];
  const seen = new Set<string>();
  let reachedSince = false;
  for (const change of changes) {
    if (filter.updated_since && change.changed_at < filter.updated_since) {
      reachedSince = true;
      break;
    }
    if (seen.has(change.id)) continue;
    seen.add(change.id);
    if (change.record === null) continue;
    if (matchesFilter({ ...toIndexEntry(change.record), changed_at: change.changed_at }, filter)) candidates.push(change);
  }
  const picked: PublishedChange[] = [];
  for (let start = 0; start < candidates.length && picked.length < limit; start += BULK_GET_MAX) {
    const batch = candidates.slice(start, start + BULK_GET_MAX);
    const latest = await kv.get<{ revision?: number }>(batch.map((change) => eventKey(change.id)), 'json');
    for (const change of batch) if (picked.length < limit && latest.get(eventKey(change.id))?.revision === change.revision) picked.push(change);
  }
  const lastScanned = numbers.at(-1)!;
  const more = picked.length === limit ? picked.at(-1)!.seq : !reachedSince && lastScanned > 0 ? lastScanned * CHANGES_PAGE_SIZE + 1 : null;
  return { events: picked.map((change) => change.record!), nextCursor: more === null ? null : updatedCursor(head.epoch, more) };
}
