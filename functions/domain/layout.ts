/**
 * The KV layout of the query index, as pure functions.
 *
 * This is the layout of the published copy: the Coordinator's SQLite holds the
 * truth and writes these keys. The latest version of each record lives under
 * `event:<id>`, and every version also under its own immutable key
 * `event-version:<id>:<revision>`. The index is a tree of immutable keys,
 * newest first: chunks (`index:chunk:<epoch>-<revision>-<n>`) hold up to
 * CHUNK_MAX compact entries sorted by `<date>|<id>`, each naming the record
 * revision it indexes; segments (`index:segment:<epoch>-<revision>-<n>`) list
 * up to SEGMENT_MAX chunks, or segments of the level below; and the small
 * manifest (`index:manifest`) lists at most SEGMENT_MAX segments of the top
 * level. Every node names its children with the sort-key range and the span
 * of days they hold, so a page reads the manifest, the segments and chunks
 * that cover it and then only the page's record versions: its cost does not
 * grow with the dataset (one more segment read per SEGMENT_MAX-fold growth),
 * and everything a page is built from is immutable once the manifest names
 * it: one manifest revision always gives the same body. Chunks and segments
 * are copy-on-write: a write stores a patch of each chunk it changes
 * (`index:patch:…`, chunk-patch.ts; or the chunk itself, rewritten, when the
 * patch is folded in) and the segments above them under new keys (the
 * tree's maintenance is in index-tree.ts). The head
 * (`index:head`) repeats the manifest's epoch, revision, count and times
 * without its segments: validators and `/healthz` read it alone.
 */
import { actorById, actorNames, recordActors } from './actors.ts';
import { dateInterval } from './dates.ts';
import type { ActorRole, Event } from './schema.ts';
import { placeNames } from './places.ts';
import { foldText } from './text.ts';

/** KV key of the manifest. */
export const MANIFEST_KEY = 'index:manifest';
/** KV key of the index head: the manifest's small fixed-size summary, written right after it. */
export const HEAD_KEY = 'index:head';
/** KV key prefix of full records. */
export const EVENT_KEY_PREFIX = 'event:';
/** Entries per chunk when chunks are (re)built. */
export const CHUNK_TARGET = 128;
/** A chunk that grows past this is split in two. */
export const CHUNK_MAX = 256;
/** Children per segment when segments are (re)built. */
export const SEGMENT_TARGET = 32;
/** A segment (or the manifest's list of segments) that grows past this is split in two (the root: a level is added). */
export const SEGMENT_MAX = 64;
/** KV key prefix of index chunks. */
export const CHUNK_KEY_PREFIX = 'index:chunk:';
/** KV key prefix of chunk patches (chunk-patch.ts). */
export const PATCH_KEY_PREFIX = 'index:patch:';
/** Changes a chunk's patch may hold before the writer folds it into a new chunk. */
export const PATCH_MAX = 32;
/** KV key prefix of index segments. */
export const SEGMENT_KEY_PREFIX = 'index:segment:';

/** KV key prefix of front pages. */
export const FRONT_PAGE_KEY_PREFIX = 'page:events:';

/** KV key of the front page of index revision `revision` of storage `epoch`; its value never changes. */
export const frontPageKey = (epoch: string, revision: number): string => `${FRONT_PAGE_KEY_PREFIX}${epoch}-${revision}`;

/** KV key prefix of immutable record versions. */
export const EVENT_VERSION_KEY_PREFIX = 'event-version:';

/** KV key of the latest version of the record with `id`. */
export const eventKey = (id: string): string => `${EVENT_KEY_PREFIX}${id}`;

/** KV key of one version of a record; its value never changes. */
export const eventVersionKey = (id: string, revision: number): string => `${EVENT_VERSION_KEY_PREFIX}${id}:${revision}`;

/** What a query needs to know about a record without reading it. */
export interface IndexEntry {
  /** Sort key `<date>|<id>`; the index is ordered by it, descending. */
  k: string;
  id: string;
  /** The record revision this entry indexes: the page reads `eventVersionKey(id, rev)`. */
  rev: number;
  date: string;
  /** First day the record may have happened on (`dateInterval`). Absent in entries indexed before intervals: read it with `entryInterval`. */
  date_start?: string;
  /** Last day the record may have happened on. Absent in entries indexed before intervals. */
  date_end?: string;
  type: Event['type'];
  country: string;
  lat: number;
  lon: number;
  /** How exactly `lat`/`lon` place the event. Absent in entries indexed before it existed: read it with `entryPrecision`. */
  precision?: Event['location']['precision'];
  /**
   * The record's actors: dictionary id, role and the record's wording. Entries
   * indexed before the dictionary hold display names instead: read them with
   * `entryActors`.
   */
  actors: Array<IndexActor | string>;
  weapons: Event['weapons'];
  /** Sum of the killed figures the sources give; null when they give none (never 0 for "not reported"). */
  killed: number | null;
  /** Sum of the injured figures the sources give; null when they give none. */
  injured: number | null;
  /** See `casualtyStatus`. Absent in entries indexed before it existed: read it with `entryCasualtyStatus`. */
  has_casualties?: CasualtyStatus;
  /** The record's casualty figures by group, for `/stats`. Absent in entries indexed before it existed. */
  casualties?: GroupFigure[];
  updated_at: string;
  /** When this revision was committed (`updated_since`, `order=updated`). Absent in entries indexed before it existed: read it with `entryChangedAt`. */
  changed_at?: string;
  /** Folded title, summary, place, and actor names (as written, and each actor's names in the dictionary) for `q=` search. */
  text: string;
}

/** One actor of an indexed record. */
export interface IndexActor {
  id: string;
  role: ActorRole;
  as_written: string;
}

/** The actors of an index entry; a name from an entry indexed before the dictionary has no id and no role. */
export function entryActors(entry: Pick<IndexEntry, 'actors'>): Array<{ id: string; role: ActorRole | null; as_written: string }> {
  return entry.actors.map((actor) => (typeof actor === 'string' ? { id: '', role: null, as_written: actor } : actor));
}

/** A chunk as its segment (or a flat manifest) names it: its key and the sort-key range it holds. */
export interface ChunkRef {
  key: string;
  /** Highest (newest) sort key in the chunk. */
  first: string;
  /** Lowest (oldest) sort key in the chunk. */
  last: string;
  count: number;
  /**
   * Earliest `date_start` and latest `date_end` of the chunk's entries: a
   * month or an approximate window can reach past the dates of the sort keys,
   * so date filters prune chunks by these. Absent in chunks written before
   * intervals, whose entries stand for their dates alone: read them with `chunkInterval`.
   */
  start?: string;
  end?: string;
  /**
   * Key of the chunk's patch (chunk-patch.ts), chunks only: the changes made
   * to it since it was written, which readers apply to its entries. The
   * range, count and days above are those of the patched chunk.
   */
  patch?: string;
}

/** A segment as its parent names it: a ChunkRef summing up the nodes it lists, and how many chunks lie under it. */
export interface SegmentRef extends ChunkRef {
  /** Chunks under the segment (at every level below it). */
  chunks: number;
}

/** A child of the index root or of a segment: a chunk (level 0) or a segment. */
export type IndexRef = ChunkRef | SegmentRef;

/** What the two manifest shapes share: the dataset's version, size and times. */
interface ManifestFields {
  epoch: string;
  revision: number;
  count: number;
  /** The newest `updated_at` of any record; null while empty. */
  updated_at: string | null;
  /** When the index last changed (the write's time): the Last-Modified of everything read from it; null while empty. */
  changed_at: string | null;
  /** Key of the `/stats` aggregates' directory of this revision (domain/stats-cells.ts); absent until they are built. */
  stats?: string;
  /**
   * Key of this revision's front page (`frontPageKey`): `/events` at its
   * default limit with no filter, as the JSON it serves, rendered by the
   * writer (domain/page-json.ts). Absent in revisions from before front
   * pages; a location may not read it yet, or at all when the writer could
   * not render it before a newer revision replaced it: readers then build
   * the page from the index.
   */
  front_page?: string;
}

/**
 * The index root. `revision` increases with every write that changes anything
 * and is never reused within an `epoch` (a random id of the Coordinator's
 * storage), so `<epoch>-<revision>` names one content for ever. It lists at
 * most SEGMENT_MAX segments, newest first; a segment lists nodes of the level
 * below it (segments, or chunks at the last level), so the root and every
 * segment stay small whatever the size of the dataset.
 */
export interface SegmentedManifest extends ManifestFields {
  format: 3;
  /** Levels of segments between the root and the chunks: 1 when the root's segments list chunks. */
  height: number;
  segments: SegmentRef[];
}

/** The manifest of the design before segments: every chunk listed in the root. Readers still read it where a location holds one. */
export interface FlatManifest extends ManifestFields {
  format: 2;
  chunks: ChunkRef[];
}

/** A manifest as KV may hold it: segmented, or flat where the store was published before segments. */
export type Manifest = SegmentedManifest | FlatManifest;

/**
 * What validators, `/healthz` and `/stats` (the key of its aggregates) need
 * of a manifest, in a value of fixed size: published under HEAD_KEY right after the manifest of the same
 * revision (so a location may briefly see a head older or newer than its
 * manifest).
 */
export type IndexHead = ManifestFields;

/** The head of `manifest`. */
export const headOf = ({ epoch, revision, count, updated_at, changed_at, stats, front_page }: Manifest): IndexHead => ({
  epoch,
  revision,
  count,
  updated_at,
  changed_at,
  ...(stats === undefined ? {} : { stats }),
  ...(front_page === undefined ? {} : { front_page }),
});

/** The root's children and the level they are at (0: chunks), for a manifest of either shape. */
export const rootOf = (manifest: Manifest): { refs: readonly IndexRef[]; level: number } =>
  manifest.format === 2 ? { refs: manifest.chunks, level: 0 } : { refs: manifest.segments, level: manifest.height };

/** The manifest of an empty index of storage `epoch`. */
export const emptyManifest = (epoch: string): SegmentedManifest => ({ format: 3, epoch, revision: 0, count: 0, updated_at: null, changed_at: null, height: 1, segments: [] });

/** Sort key of a record: newest first means descending order of this string. */
export const sortKey = (event: Pick<Event, 'date' | 'id'>): string => `${event.date}|${event.id}`;

/** One casualty figure reduced to what `/stats` sums: `null` is "not reported", never 0. */
export interface GroupFigure {
  group: Event['casualties'][number]['group'];
  killed: number | null;
  injured: number | null;
}

/**
 * Whether the sources report casualties: `true` when a figure is above zero,
 * `false` when they report none (figures given, every one 0), `null`
 * (unknown) when a figure is missing and none is above zero, or there are no
 * figures at all.
 */
export type CasualtyStatus = boolean | null;

/** Killed and injured summed over the figures the sources give; each is null when no figure of it is given. */
export function casualtyTotals(event: Pick<Event, 'casualties'>): { killed: number | null; injured: number | null } {
  const sum = (figures: Array<number | null>): number | null => figures.reduce<number | null>((total, figure) => (figure === null ? total : (total ?? 0) + figure), null);
  return { killed: sum(event.casualties.map((casualty) => casualty.killed)), injured: sum(event.casualties.map((casualty) => casualty.injured)) };
}

/** The `CasualtyStatus` of a record's figures. */
export function casualtyStatus(casualties: readonly Pick<GroupFigure, 'killed' | 'injured'>[]): CasualtyStatus {
  const figures = casualties.flatMap((casualty) => [casualty.killed, casualty.injured]);
  if (figures.some((figure) => figure !== null && figure > 0)) return true;
  return figures.length > 0 && figures.every((figure) => figure === 0) ? false : null;
}

/**
 * The `CasualtyStatus` of an index entry. An entry indexed before the status
 * existed counted a missing figure as 0, so it can only say `true` (a sum
 * above zero) or unknown, never `false`.
 */
export function entryCasualtyStatus(entry: IndexEntry): CasualtyStatus {
  if (entry.has_casualties !== undefined) return entry.has_casualties;
  return (entry.killed ?? 0) + (entry.injured ?? 0) > 0 ? true : null;
}

/** When an entry's revision was committed; an entry indexed before that was kept stands for its record's `updated_at`. */
export const entryChangedAt = (entry: Pick<IndexEntry, 'changed_at' | 'updated_at'>): string => entry.changed_at ?? entry.updated_at;

/** The `[start, end]` days of an entry; an entry indexed before intervals stands for its date alone. */
export const entryInterval = (entry: IndexEntry): { start: string; end: string } => ({ start: entry.date_start ?? entry.date, end: entry.date_end ?? entry.date });

/**
 * The location precision of an entry. Entries indexed before it was recorded
 * are taken as `site`: until the index is rebuilt, a `bbox` query sees them
 * as it always did.
 */
export const entryPrecision = (entry: IndexEntry): Event['location']['precision'] => entry.precision ?? 'site';

/** The days a chunk's entries span (see `ChunkRef.start`), from its sort keys when it was written before intervals. */
export const chunkInterval = (ref: ChunkRef): { start: string; end: string } => ({ start: ref.start ?? ref.last.slice(0, 10), end: ref.end ?? ref.first.slice(0, 10) });

/** Builds the index entry for a record. */
export function toIndexEntry(event: Event): IndexEntry {
  const actors = recordActors(event).map(({ id, role, as_written }) => ({ id, role, as_written }));
  const actorText = actors.flatMap((actor) => {
    const known = actorById(actor.id);
    return [actor.as_written, ...(known ? actorNames(known) : [])];
  });
  const { killed, injured } = casualtyTotals(event);
  return {
    k: sortKey(event),
    id: event.id,
    rev: event.revision,
    date: event.date,
    ...dateInterval(event),
    type: event.type,
    country: event.location.country,
    lat: event.location.lat,
    lon: event.location.lon,
    precision: event.location.precision,
    actors,
    weapons: event.weapons,
    killed,
    injured,
    has_casualties: casualtyStatus(event.casualties),
    casualties: event.casualties.map(({ group, killed, injured }) => ({ group, killed, injured })),
    updated_at: event.updated_at,
    text: foldText([event.title, event.summary, event.location.name, ...placeNames(event.location.name), ...new Set(actorText)].join(' ')),
  };
}

/** Descending comparison of sort keys (newest first). */
export const newestFirst = (a: { k: string }, b: { k: string }): number => (a.k < b.k ? 1 : a.k > b.k ? -1 : 0);
