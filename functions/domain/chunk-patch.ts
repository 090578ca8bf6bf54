/**
 * Chunk patches: changes to an index chunk kept beside it instead of in a
 * rewritten copy. A write that touches a chunk with a change or two (a
 * batch backfilling the past touches hundreds of chunks, one or two records
 * each) publishes a small patch node, `index:patch:<epoch>-<revision>-<n>`,
 * listing the sort keys taken out of the chunk and the entries added or
 * replaced since the chunk was written; the chunk's ref in its segment names
 * both. Readers read the two in one bulk read and apply the patch
 * (`patchedEntries`, `patchedKeys`). The writer folds the patch into a new
 * chunk (compaction) once it grows past the shape's `patchMax`, within a
 * budget of compactions per revision (index-tree.ts).
 */
import type { EntryKey } from './chunk-text.ts';
import { newestFirst, type IndexEntry } from './layout.ts';

/** What a patch changes in its chunk: sort keys taken out, and entries added or replacing the entry of the same sort key. */
export interface ChunkPatch {
  remove: string[];
  upsert: IndexEntry[];
}

/** The patch of a chunk that has none. */
export const EMPTY_PATCH: ChunkPatch = { remove: [], upsert: [] };

/** How many changes a patch holds (what compaction is decided by). */
export const patchSize = (patch: ChunkPatch): number => patch.remove.length + patch.upsert.length;

/** `patch` with `change` applied after it: a key taken out drops an entry the patch added; an entry added supersedes a removal of its key. */
export function composePatch(patch: ChunkPatch, change: ChunkPatch): ChunkPatch {
  const upsert = new Map(patch.upsert.map((entry) => [entry.k, entry]));
  const remove = new Set(patch.remove);
  for (const k of change.remove) {
    upsert.delete(k);
    remove.add(k);
  }
  for (const entry of change.upsert) {
    remove.delete(entry.k);
    upsert.set(entry.k, entry);
  }
  return { remove: [...remove].sort(), upsert: [...upsert.values()].sort(newestFirst) };
}

/** `base` (sorted newest first) with `removed` keys and the keys of `added` taken out and `added` put in, sorted newest first. */
function patched<T extends { k: string }>(base: readonly T[], removed: readonly string[], added: readonly T[]): T[] {
  const out = new Set([...removed, ...added.map((item) => item.k)]);
  return [...base.filter((item) => !out.has(item.k)), ...added].sort(newestFirst);
}

/** A chunk's entries with its patch applied. */
export const patchedEntries = (base: readonly IndexEntry[], patch: ChunkPatch): IndexEntry[] => patched(base, patch.remove, patch.upsert);

/** A chunk's keys (chunk-text.ts) with its patch applied. */
export function patchedKeys(base: readonly EntryKey[], patch: ChunkPatch, keyOf: (entry: IndexEntry) => EntryKey): EntryKey[] {
  return patched(base, patch.remove, patch.upsert.map(keyOf));
}
