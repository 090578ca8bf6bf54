/**
 * Maintenance of the index tree (layout.ts), as pure functions: applying a
 * write's changes by copying only the path from the manifest to each touched
 * chunk, and turning a flat manifest (every chunk in the root, the design
 * before segments) into a segmented one.
 *
 * A write loads only the nodes on its paths (through the `IndexNodes` the
 * caller passes in, the Coordinator's SQLite), writes each touched chunk's
 * changes as a new patch of it (chunk-patch.ts) and the segments above them
 * under keys of the new revision, and keeps every other node as it is, so
 * its cost grows with the number of records it changes and the tree's
 * height, never with the size of the dataset. A chunk is rewritten with its
 * patch folded in when the patch grows past `patchMax` (at most
 * `compactionsPerRevision` such a revision, the first in index order; the
 * others wait, their patches a little longer), or when it must be split or
 * dropped. A node that grows past its maximum is split; one left empty is
 * dropped; when the manifest would list more than `segmentMax` segments a
 * level is added, and when it lists a single segment above the first level,
 * that level goes.
 */
import { composePatch, EMPTY_PATCH, patchedEntries, patchedKeys, patchSize, type ChunkPatch } from './chunk-patch.ts';
import { entryKey, type EntryKey } from './chunk-text.ts';
import {
  CHUNK_KEY_PREFIX,
  CHUNK_MAX,
  CHUNK_TARGET,
  PATCH_KEY_PREFIX,
  PATCH_MAX,
  SEGMENT_KEY_PREFIX,
  SEGMENT_MAX,
  SEGMENT_TARGET,
  chunkInterval,
  newestFirst,
  type ChunkRef,
  type FlatManifest,
  type IndexEntry,
  type IndexRef,
  type SegmentRef,
  type SegmentedManifest,
} from './layout.ts';

/** When nodes are split and how big the pieces are. */
export interface IndexShape {
  /** Entries per chunk when a chunk is split. */
  chunkTarget: number;
  /** A chunk with more entries is split. */
  chunkMax: number;
  /** Children per segment when a segment is split or a level is added. */
  segmentTarget: number;
  /** A segment (or the manifest) with more children is split (a level is added above the manifest's). */
  segmentMax: number;
  /** Most existing chunks one revision touches: a write touching more is indexed over several revisions (`groupByChunks`). */
  chunksPerRevision: number;
  /** A chunk's patch holding more changes than this is folded into a new chunk. */
  patchMax: number;
  /** Most chunks one revision rewrites to fold their patches in (chunks that must be split or dropped do not count). */
  compactionsPerRevision: number;
}

/**
 * Most chunks one index revision touches. A batch backfilling the past can
 * touch a chunk per record (500 records: ~320 of ~520 chunks at 100,000
 * records, ~480 at a million); each touched chunk costs a small patch (the
 * writer parses the chunk's key line, not its entries), so one revision of
 * this many publishes at most this many patches, the segments above them,
 * COMPACTIONS_PER_REVISION rewritten chunks, manifest and head: well under
 * 1,000 KV puts, spread over the publisher's slices of 200, at any dataset
 * size. Each revision costs at least a second (the head and manifest are
 * put at most once a second), so a batch of 500 should fit in one.
 */
export const CHUNKS_PER_REVISION = 512;

/**
 * Most chunks one revision rewrites to fold their patches in: what bounds
 * the writer's memory (each such chunk is parsed whole: ≤ 256 entries of
 * about 1 KB) and the bytes one revision publishes. Patches grow by the
 * changes made to their chunk; this many compactions of more than PATCH_MAX
 * changes each take out more than a revision of 500 changes adds, so
 * patches stay near PATCH_MAX.
 */
export const COMPACTIONS_PER_REVISION = 32;

/** The shape the published index is kept in. */
export const DEFAULT_INDEX_SHAPE: IndexShape = {
  chunkTarget: CHUNK_TARGET,
  chunkMax: CHUNK_MAX,
  segmentTarget: SEGMENT_TARGET,
  segmentMax: SEGMENT_MAX,
  chunksPerRevision: CHUNKS_PER_REVISION,
  patchMax: PATCH_MAX,
  compactionsPerRevision: COMPACTIONS_PER_REVISION,
};

/** Reads live nodes of the index (the caller's storage): a chunk's entries or only their keys, a chunk's patch, a segment's children. Throws for a node that is not there. */
export interface IndexNodes {
  entries(key: string): IndexEntry[];
  keys(key: string): EntryKey[];
  patch(key: string): ChunkPatch;
  children(key: string): IndexRef[];
}

/** The changes to apply to the index in one write. */
export interface IndexChange {
  /** Sort keys of entries to drop (records removed or moved to another date). */
  remove: string[];
  /** Entries to add or replace. */
  upsert: IndexEntry[];
}

/** The outcome of a change to the index: the new manifest, the chunks, patches and segments to store under new keys, and the keys of the nodes they replace. */
export interface IndexWrite {
  manifest: SegmentedManifest;
  chunks: Map<string, IndexEntry[]>;
  patches: Map<string, ChunkPatch>;
  segments: Map<string, IndexRef[]>;
  replaced: string[];
}

/**
 * Position of the child a sort key belongs in: the first (newest first)
 * whose oldest key is not newer than `k`, else the oldest; -1 when there are
 * no children.
 */
function locateChild(refs: readonly IndexRef[], k: string): number {
  if (refs.length === 0) return -1;
  let low = 0;
  let high = refs.length - 1;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (refs[mid]!.last <= k) high = mid;
    else low = mid + 1;
  }
  return refs[low]!.last <= k ? low : refs.length - 1;
}

/** `items` cut into pieces of about `target` when there are more than `max`, else one piece (none when empty). */
function split<T>(items: readonly T[], target: number, max: number): T[][] {
  if (items.length === 0) return [];
  const pieces = items.length > max ? Math.ceil(items.length / target) : 1;
  const size = Math.ceil(items.length / pieces);
  const out: T[][] = [];
  for (let start = 0; start < items.length; start += size) out.push(items.slice(start, start + size));
  return out;
}

/** The days an entry stands for, from its key (an entry indexed before intervals stands for the date of its sort key). */
const daysOf = ({ k, interval }: EntryKey): { start: string; end: string } => (interval ? { start: interval.date_start, end: interval.date_end } : { start: k.slice(0, 10), end: k.slice(0, 10) });

/** The ref of a chunk whose (patched) entries have `keys` (sorted newest first, at least one). */
function chunkRef(key: string, keys: readonly EntryKey[]): ChunkRef {
  const intervals = keys.map(daysOf);
  const start = intervals.reduce((earliest, { start }) => (start < earliest ? start : earliest), intervals[0]!.start);
  const end = intervals.reduce((latest, { end }) => (end > latest ? end : latest), intervals[0]!.end);
  return { key, first: keys[0]!.k, last: keys[keys.length - 1]!.k, count: keys.length, start, end };
}

/** The ref of a segment listing `children` (newest first, at least one). */
function segmentRef(key: string, children: readonly IndexRef[]): SegmentRef {
  const intervals = children.map(chunkInterval);
  return {
    key,
    first: children[0]!.first,
    last: children[children.length - 1]!.last,
    count: children.reduce((sum, child) => sum + child.count, 0),
    chunks: children.reduce((sum, child) => sum + ('chunks' in child ? child.chunks : 1), 0),
    start: intervals.reduce((earliest, { start }) => (start < earliest ? start : earliest), intervals[0]!.start),
    end: intervals.reduce((latest, { end }) => (end > latest ? end : latest), intervals[0]!.end),
  };
}

/** Collects the nodes of one new index revision under fresh keys. */
class RevisionWriter {
  readonly chunks = new Map<string, IndexEntry[]>();
  readonly patches = new Map<string, ChunkPatch>();
  readonly segments = new Map<string, IndexRef[]>();
  private serial = 0;
  private readonly prefix: string;
  private readonly shape: IndexShape;

  /** Names nodes `<epoch>-<revision>-<n>`. */
  constructor(epoch: string, revision: number, shape: IndexShape) {
    this.prefix = `${epoch}-${revision}-`;
    this.shape = shape;
  }

  /** Stores `entries` as chunks (split when too many); their refs. */
  chunksOf(entries: readonly IndexEntry[]): ChunkRef[] {
    return split(entries, this.shape.chunkTarget, this.shape.chunkMax).map((piece) => {
      const key = `${CHUNK_KEY_PREFIX}${this.nextName()}`;
      this.chunks.set(key, piece);
      return chunkRef(key, piece.map(entryKey));
    });
  }

  /** Stores `patch` as a new patch of the chunk `key`, whose patched entries have `keys`; the chunk's ref. */
  patchOf(key: string, patch: ChunkPatch, keys: readonly EntryKey[]): ChunkRef {
    const patchKey = `${PATCH_KEY_PREFIX}${this.nextName()}`;
    this.patches.set(patchKey, patch);
    return { ...chunkRef(key, keys), patch: patchKey };
  }

  /** Stores `children` as segments (split when too many, or always into pieces of `segmentTarget` when `wrap`); their refs. */
  segmentsOf(children: readonly IndexRef[], wrap = false): SegmentRef[] {
    const { segmentTarget, segmentMax } = this.shape;
    return split(children, segmentTarget, wrap ? segmentTarget : segmentMax).map((piece) => {
      const key = `${SEGMENT_KEY_PREFIX}${this.nextName()}`;
      this.segments.set(key, piece);
      return segmentRef(key, piece);
    });
  }

  private nextName(): string {
    return `${this.prefix}${this.serial++}`;
  }
}

/** The key of the chunk that sort key `k` belongs in under `manifest` (the chunk a change of `k` touches); null when the index is empty. */
export function leafOf(manifest: SegmentedManifest, nodes: IndexNodes, k: string): string | null {
  let refs: readonly IndexRef[] = manifest.segments;
  for (let level = manifest.height; ; level--) {
    if (refs.length === 0) return null;
    const ref = refs[Math.max(locateChild(refs, k), 0)]!;
    if (level === 0) return ref.key;
    refs = nodes.children(ref.key);
  }
}

/** One record's part of an index change: the sort keys it takes out, and its new entry (null when it leaves the index). */
export interface RecordIndexChange {
  id: string;
  remove: string[];
  upsert: IndexEntry | null;
}

/**
 * Splits record changes into groups, in the order given, each touching at
 * most `maxChunks` existing chunks (`chunkOf` names the chunk a sort key
 * belongs in, null for an empty index). A record's removal and its new
 * entry always go in the same group, so no revision lists a record twice or
 * loses one on the move; a record touching more chunks than the limit still
 * goes, alone. Empty when there is no change.
 */
export function groupByChunks<T extends RecordIndexChange>(changes: readonly T[], chunkOf: (k: string) => string | null, maxChunks: number): T[][] {
  const groups: T[][] = [];
  let group: T[] = [];
  let chunks = new Set<string | null>();
  for (const change of changes) {
    const touched = [...change.remove, ...(change.upsert ? [change.upsert.k] : [])].map(chunkOf);
    const union = new Set([...chunks, ...touched]);
    if (group.length > 0 && union.size > maxChunks) {
      groups.push(group);
      group = [];
      chunks = new Set(touched);
    } else chunks = union;
    group.push(change);
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

/** The index change of a group of record changes. */
export const indexChangeOf = (group: readonly RecordIndexChange[]): IndexChange => ({
  remove: group.flatMap((change) => change.remove),
  upsert: group.flatMap((change) => (change.upsert ? [change.upsert] : [])),
});

/**
 * Applies a change to the index of `manifest`, reading the nodes on the
 * changed paths from `nodes`. Touched chunks and the segments above them are
 * rewritten under keys of the new revision; every other node is kept.
 */
export function applyIndexChange(manifest: SegmentedManifest, nodes: IndexNodes, change: IndexChange, updatedAt: string, changedAt: string, shape: IndexShape = DEFAULT_INDEX_SHAPE): IndexWrite {
  const revision = manifest.revision + 1;
  const writer = new RevisionWriter(manifest.epoch, revision, shape);
  const replaced: string[] = [];
  let compactions = 0;

  /** The new refs in place of chunk `ref` with `change` applied: a new patch of it, or, when that will not do, new chunks (none when it is left empty). */
  const rewriteChunk = (ref: ChunkRef, change: IndexChange): ChunkRef[] => {
    const base = nodes.keys(ref.key);
    const inBase = new Set(base.map((key) => key.k));
    const composed = composePatch(ref.patch ? nodes.patch(ref.patch) : EMPTY_PATCH, change);
    // A removal matters only for a key the chunk itself holds (one the patch had added is gone from `upsert` already).
    const patch = { remove: composed.remove.filter((k) => inBase.has(k)), upsert: composed.upsert };
    if (ref.patch) replaced.push(ref.patch);
    const keys = patchedKeys(base, patch, entryKey);
    const compacting = patchSize(patch) > shape.patchMax && compactions < shape.compactionsPerRevision;
    if (keys.length > 0 && keys.length <= shape.chunkMax && !compacting) return [writer.patchOf(ref.key, patch, keys)];
    if (compacting) compactions++;
    replaced.push(ref.key);
    return keys.length === 0 ? [] : writer.chunksOf(patchedEntries(nodes.entries(ref.key), patch));
  };

  /** The new children list in place of `refs` (nodes at `level`), with `change` applied below them. */
  const rewrite = (refs: readonly IndexRef[], level: number, { remove, upsert }: IndexChange): IndexRef[] => {
    const groups = new Map<number, IndexChange>();
    const groupAt = (position: number): IndexChange => {
      let group = groups.get(position);
      if (!group) groups.set(position, (group = { remove: [], upsert: [] }));
      return group;
    };
    for (const k of remove) if (refs.length > 0) groupAt(locateChild(refs, k)).remove.push(k);
    for (const entry of upsert) groupAt(Math.max(locateChild(refs, entry.k), 0)).upsert.push(entry);
    const out: IndexRef[] = [];
    for (let position = 0; position < Math.max(refs.length, 1); position++) {
      const ref = refs[position];
      const group = groups.get(position);
      if (!group) {
        if (ref) out.push(ref);
        continue;
      }
      if (level === 0) {
        out.push(...(ref ? rewriteChunk(ref, group) : writer.chunksOf([...new Map(group.upsert.map((entry) => [entry.k, entry])).values()].sort(newestFirst))));
      } else {
        if (ref) replaced.push(ref.key);
        out.push(...writer.segmentsOf(rewrite(ref ? nodes.children(ref.key) : [], level - 1, group)));
      }
    }
    return out;
  };

  let height = manifest.height;
  let top = rewrite(manifest.segments, height, change) as SegmentRef[];
  while (top.length > shape.segmentMax) {
    top = writer.segmentsOf(top, true);
    height++;
  }
  if (top.length === 0) height = 1;
  while (height > 1 && top.length === 1) {
    const only = top[0]!;
    const written = writer.segments.get(only.key);
    if (written) writer.segments.delete(only.key);
    else replaced.push(only.key);
    top = (written ?? nodes.children(only.key)) as SegmentRef[];
    height--;
  }
  const count = top.reduce((sum, ref) => sum + ref.count, 0);
  const newest = manifest.updated_at && manifest.updated_at > updatedAt ? manifest.updated_at : updatedAt;
  const changed = manifest.changed_at && manifest.changed_at > changedAt ? manifest.changed_at : changedAt;
  return {
    manifest: { format: 3, epoch: manifest.epoch, revision, count, updated_at: count ? newest : manifest.updated_at, changed_at: changed, height, segments: top },
    chunks: writer.chunks,
    patches: writer.patches,
    segments: writer.segments,
    replaced,
  };
}

/**
 * The segmented manifest of the same index as a flat one: its chunks kept,
 * listed by new segments (keys of the same revision, which no flat manifest
 * used), as many levels as the root's limit needs. Same revision and content:
 * a body built from either is the same.
 */
export function segmentFlatIndex(flat: FlatManifest, shape: IndexShape = DEFAULT_INDEX_SHAPE): IndexWrite {
  const writer = new RevisionWriter(flat.epoch, flat.revision, shape);
  let top: IndexRef[] = flat.chunks;
  let height = 0;
  do {
    top = writer.segmentsOf(top, true);
    height++;
  } while (top.length > shape.segmentMax);
  const { chunks: _chunks, format: _format, ...fields } = flat;
  return { manifest: { ...fields, format: 3, height, segments: top as SegmentRef[] }, chunks: writer.chunks, patches: writer.patches, segments: writer.segments, replaced: [] };
}
