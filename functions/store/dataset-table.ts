/**
 * The dataset's truth, in the Coordinator's SQLite: every record's current
 * version with the digest of its published text, the digests of every
 * version ever published (so reconciliation can tell a stale copy of our own
 * from an edit made elsewhere), the live index chunks and segments and the
 * manifest (and its head, derived from it).
 *
 * A write is planned from these tables alone (previous versions, change
 * kinds, next revisions, the new index revision) and applied in the caller's
 * storage transaction, which also queues what changed for publishing and
 * logs each change (change-log.ts).
 *
 * The index is the tree of domain/index-tree.ts: a write loads only the
 * chunks and segments on the paths it changes. A store whose manifest is
 * still flat (every chunk in it, the design before segments) is segmented
 * once, when the Coordinator starts (`segmentFlatIndex`).
 *
 * One index revision touches at most `chunksPerRevision` existing chunks:
 * a write touching more (a batch backfilling the past lands a record in
 * each chunk) indexes what fits now and leaves the rest in `index_backlog`
 * (the record's id, the sort key the index still holds for it, and when it
 * changed). The records themselves are committed whole; the alarm indexes
 * the backlog one revision at a time, each once the one before is published
 * (`indexBacklogSlice`), so every revision KV gets stays a bounded number of
 * chunks, whatever the batch.
 *
 * A retraction takes the record out of `records` and the index and leaves
 * a tombstone (its id, the retraction's revision, time and reason, and the
 * last version); `event:<id>` is deleted from KV and `tombstone:<id>` put.
 * Writing the id again restores it as an update with the next revision.
 */
import { tombstoneKey, type Tombstone } from '../domain/change-feed.ts';
import { mergeRecord, type RecordChange } from '../domain/changes.ts';
import { sha256Hex } from '../domain/digest.ts';
import { DEFAULT_INDEX_SHAPE, applyIndexChange, groupByChunks, indexChangeOf, leafOf, segmentFlatIndex, type IndexChange, type IndexNodes, type IndexShape, type IndexWrite, type RecordIndexChange } from '../domain/index-tree.ts';
import { patchedEntries, type ChunkPatch } from '../domain/chunk-patch.ts';
import { chunkEntries, chunkKeys, chunkText } from '../domain/chunk-text.ts';
import { frontPageJson } from '../domain/page-json.ts';
import { CHUNK_KEY_PREFIX, HEAD_KEY, MANIFEST_KEY, PATCH_KEY_PREFIX, emptyManifest, eventKey, frontPageKey, headOf, rootOf, eventVersionKey, sortKey, toIndexEntry, type ChunkRef, type IndexEntry, type IndexRef, type Manifest, type SegmentedManifest } from '../domain/layout.ts';
import type { Event, EventInput } from '../domain/schema.ts';
import { addToCounter, readCounter, readMeta, writeMeta } from './meta-table.ts';
import type { ChangeLog } from './change-log.ts';
import type { Publisher } from './publisher.ts';
import type { StatsChange, StatsTable } from './stats-table.ts';

/** The tables this module keeps. */
export const DATASET_SCHEMA = [
  'CREATE TABLE IF NOT EXISTS records (id TEXT PRIMARY KEY, revision INTEGER NOT NULL, body TEXT NOT NULL, digest TEXT NOT NULL)',
  'CREATE TABLE IF NOT EXISTS record_digests (id TEXT NOT NULL, digest TEXT NOT NULL, PRIMARY KEY (id, digest))',
  'CREATE TABLE IF NOT EXISTS chunks (key TEXT PRIMARY KEY, entries TEXT NOT NULL)',
  'CREATE TABLE IF NOT EXISTS patches (key TEXT PRIMARY KEY, body TEXT NOT NULL)',
  'CREATE TABLE IF NOT EXISTS segments (key TEXT PRIMARY KEY, children TEXT NOT NULL)',
  'CREATE TABLE IF NOT EXISTS tombstones (id TEXT PRIMARY KEY, revision INTEGER NOT NULL, retracted_at TEXT NOT NULL, reason TEXT, last_version TEXT NOT NULL)',
  'CREATE TABLE IF NOT EXISTS index_backlog (id TEXT PRIMARY KEY, remove_key TEXT, changed_at TEXT NOT NULL)',
];

/** Meta counter of the rows of `records`, kept as rows are added and deleted (counting the table reads every row). */
const RECORD_COUNT = 'record_count';
/** Meta flag: RECORD_COUNT is kept (set once the records of a store from before it were counted). */
const RECORDS_COUNTED = 'records_counted';

/** Backlog rows one alarm turn looks at to make its revision. */
const BACKLOG_SLICE = 2_000;

/** What one write did to one record; `previous` is the version it replaced, if any; `restored` the tombstone it replaced, if it was retracted. */
export interface WriteResult {
  record: Event;
  change: RecordChange;
  previous: Event | null;
  restored?: Tombstone;
}

/** A retraction: the tombstone and the version it retracted; `already` when the record was retracted before (nothing changed). */
export interface Retraction {
  tombstone: Tombstone;
  lastVersion: Event;
  already: boolean;
}

/** A write worked out from the truth, ready to apply. */
export interface WritePlan {
  results: WriteResult[];
  /** The records that changed, with the text to publish and its digest. */
  changed: { result: WriteResult; text: string; digest: string }[];
  /** The new index revision; null when nothing changed. */
  index: IndexWrite | null;
  /** The ids of the changed records this revision indexes. */
  indexed: ReadonlySet<string>;
  /** The changed records left to later revisions (`index_backlog`). */
  deferred: { id: string; remove_key: string | null; changed_at: string }[];
}

/** A record's index change, with the sort key the index holds for it now. */
type PlannedIndexChange = RecordIndexChange & { indexedKey: string | null; updatedAt: string };

/** The table (and its text column) that holds an index node of `key`: chunks, patches or segments. */
function nodeTableOf(key: string): { table: string; column: string } {
  if (key.startsWith(CHUNK_KEY_PREFIX)) return { table: 'chunks', column: 'entries' };
  if (key.startsWith(PATCH_KEY_PREFIX)) return { table: 'patches', column: 'body' };
  return { table: 'segments', column: 'children' };
}

/** The newest `updated_at` of the records a group indexes. */
const newestOf = (group: readonly PlannedIndexChange[]): string => group.reduce((max, change) => (change.updatedAt > max ? change.updatedAt : max), '');

/** The records, index and manifest of the dataset. */
export class DatasetTable {
  constructor(
    private readonly sql: SqlStorage,
    private readonly stats: StatsTable,
  ) {
    this.countOnce();
  }

  /** Counts the records once, for a store that held them before RECORD_COUNT was kept. */
  private countOnce(): void {
    if (readMeta(this.sql, RECORDS_COUNTED) !== null) return;
    writeMeta(this.sql, RECORD_COUNT, String(this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM records').one().n));
    writeMeta(this.sql, RECORDS_COUNTED, '1');
  }

  /** A random id of this storage, created once: revisions and chunk keys are unique within it. */
  epoch(): string {
    const known = readMeta(this.sql, 'epoch');
    if (known) return known;
    const epoch = [...crypto.getRandomValues(new Uint8Array(4))].map((byte) => byte.toString(16).padStart(2, '0')).join('');
    writeMeta(this.sql, 'epoch', epoch);
    return epoch;
  }

  /** The current manifest (the truth; KV may hold an older one). Segmented once `segmentFlatIndex` has run. */
  manifest(): SegmentedManifest {
    const text = readMeta(this.sql, 'manifest');
    return text ? (JSON.parse(text) as SegmentedManifest) : emptyManifest(this.epoch());
  }

  /**
   * Makes a flat manifest (the design before segments) segmented, once: its
   * chunks stay as they are, new segments list them, and the manifest of the
   * same revision names the segments (the same index, so bodies and ETags
   * built from either are the same). Queued for publishing like any write;
   * the head does not change. Call inside a storage transaction.
   */
  segmentFlatIndex(publisher: Publisher): void {
    const text = readMeta(this.sql, 'manifest');
    const stored = text ? (JSON.parse(text) as Manifest) : null;
    if (stored?.format !== 2) return;
    this.storeIndex(segmentFlatIndex(stored, this.shape()), publisher);
  }

  /** The shape the index is kept in: the default, or what a test stored in `meta` under `index_shape` to see many levels with few records. */
  private shape(): IndexShape {
    const text = readMeta(this.sql, 'index_shape');
    return text ? { ...DEFAULT_INDEX_SHAPE, ...(JSON.parse(text) as Partial<IndexShape>) } : DEFAULT_INDEX_SHAPE;
  }

  /** The live index nodes, read from SQLite. */
  private readonly nodes: IndexNodes = {
    entries: (key) => chunkEntries(this.requiredNodeText(key)),
    keys: (key) => chunkKeys(this.chunkKeyText(key), null, Infinity),
    patch: (key) => JSON.parse(this.requiredNodeText(key)) as ChunkPatch,
    children: (key) => JSON.parse(this.requiredNodeText(key)) as IndexRef[],
  };

  /**
   * The text `chunkKeys` needs of chunk `key`: its key line alone (SQLite
   * cuts it out, so the entries, 100–250 KB, are never copied into the
   * isolate), or the whole text of a chunk written before key lines.
   */
  private chunkKeyText(key: string): string {
    const row = this.sql.exec<{ line: string }>("SELECT substr(entries, 1, instr(entries, char(10))) AS line FROM chunks WHERE key = ?", key).toArray()[0];
    if (row === undefined) throw new Error(`index node ${key} is not live`);
    return row.line === '' ? this.requiredNodeText(key) : row.line;
  }

  private requiredNodeText(key: string): string {
    const text = this.indexNodeText(key);
    if (text === null) throw new Error(`index node ${key} is not live`);
    return text;
  }

  /** The current manifest's text, for publishing. */
  manifestText(): string {
    return readMeta(this.sql, 'manifest') ?? JSON.stringify(this.manifest());
  }

  /** The current manifest's head, for publishing. */
  headText(): string {
    return JSON.stringify(headOf(this.manifest()));
  }

  /** The current versions of the records with these ids; absent ids are absent from the map. */
  current(ids: readonly string[]): Map<string, Event> {
    const found = new Map<string, Event>();
    for (const id of ids) {
      const row = this.sql.exec<{ body: string }>('SELECT body FROM records WHERE id = ?', id).toArray()[0];
      if (row) found.set(id, JSON.parse(row.body) as Event);
    }
    return found;
  }

  /** The text of the current version of record `id` at `revision` (any revision when omitted); null when that is not current. */
  currentText(id: string, revision?: number): string | null {
    const row = this.sql.exec<{ body: string; revision: number }>('SELECT body, revision FROM records WHERE id = ?', id).toArray()[0];
    return row && (revision === undefined || row.revision === revision) ? row.body : null;
  }

  /** A live index node as stored text (a chunk's entries, a chunk's patch, a segment's children); null when it is not live. */
  indexNodeText(key: string): string | null {
    const { table, column } = nodeTableOf(key);
    return this.sql.exec<{ text: string }>(`SELECT ${column} AS text FROM ${table} WHERE key = ?`, key).toArray()[0]?.text ?? null;
  }

  /** Whether `digest` is that of a version of record `id` this storage published. */
  publishedDigest(id: string, digest: string): boolean {
    return this.sql.exec('SELECT 1 FROM record_digests WHERE id = ? AND digest = ?', id, digest).toArray().length > 0;
  }

  /** Remembers `digest` as a text of record `id` (a copy KV may serve). */
  rememberDigest(id: string, digest: string): void {
    this.sql.exec('INSERT OR IGNORE INTO record_digests (id, digest) VALUES (?, ?)', id, digest);
  }

  /** How many records there are (a counter: the same cost at any size). */
  count(): number {
    return readCounter(this.sql, RECORD_COUNT);
  }

  /**
   * Works out a write of `inputs` at `now` from the truth: each record's
   * change against its current version and the new index revision, whose
   * entries say they changed at `changedAt` (ChangeLog.commitTime).
   * Identical resubmissions change nothing; the last input of an id wins.
   */
  async plan(inputs: readonly EventInput[], now: string, changedAt: string): Promise<WritePlan> {
    const latest = new Map(inputs.map((input) => [input.id, input]));
    const stored = this.current([...latest.keys()]);
    const results: WriteResult[] = [];
    const changes: PlannedIndexChange[] = [];
    for (const input of latest.values()) {
      const previous = stored.get(input.id) ?? null;
      const retracted = previous ? null : this.tombstone(input.id);
      const result: WriteResult = retracted ? this.restoration(retracted, input, now) : { ...mergeRecord(previous, input, now), previous };
      results.push(result);
      if (result.change === 'unchanged') continue;
      changes.push(this.plannedChange(input.id, this.indexedKey(input.id, previous), result.record, changedAt));
    }
    const changedResults = results.filter((result) => result.change !== 'unchanged');
    if (changedResults.length === 0) return { results, changed: [], index: null, indexed: new Set(), deferred: [] };
    const changed = await Promise.all(
      changedResults.map(async (result) => {
        const text = JSON.stringify(result.record);
        return { result, text, digest: await sha256Hex(text) };
      }),
    );
    const manifest = this.manifest();
    const shape = this.shape();
    const nodes = this.nodesOfOneWrite();
    const [first = [], ...later] = groupByChunks(changes, (k) => leafOf(manifest, nodes, k), shape.chunksPerRevision);
    return {
      results,
      changed,
      index: applyIndexChange(manifest, nodes, indexChangeOf(first), newestOf(first), now, shape),
      indexed: new Set(first.map((change) => change.id)),
      deferred: later.flat().map((change) => ({ id: change.id, remove_key: change.indexedKey, changed_at: changedAt })),
    };
  }

  /** The sort key the index holds for record `id` now: the one a backlog row kept, else the current version's; null when it is not in the index. */
  private indexedKey(id: string, current: Event | null): string | null {
    const pending = this.sql.exec<{ remove_key: string | null }>('SELECT remove_key FROM index_backlog WHERE id = ?', id).toArray()[0];
    return pending ? pending.remove_key : current ? sortKey(current) : null;
  }

  /** The index change that makes the index hold `record` (null: nothing) in place of `indexedKey`. */
  private plannedChange(id: string, indexedKey: string | null, record: Event | null, changedAt: string): PlannedIndexChange {
    const entry = record ? { ...toIndexEntry(record), changed_at: changedAt } : null;
    return { id, remove: indexedKey !== null && indexedKey !== entry?.k ? [indexedKey] : [], upsert: entry, indexedKey, updatedAt: record?.updated_at ?? '' };
  }

  /**
   * The index's nodes for one write, each segment read and parsed once
   * however often the write asks for it (finding the chunks its records go
   * in, then rewriting the segments above them). Segments are never changed
   * in place, so what is read stays true for the write.
   */
  private nodesOfOneWrite(): IndexNodes {
    const children = new Map<string, IndexRef[]>();
    return {
      ...this.nodes,
      children: (key) => {
        let known = children.get(key);
        if (known === undefined) children.set(key, (known = this.nodes.children(key)));
        return known;
      },
    };
  }

  /** Records written but not indexed yet (`index_backlog`). */
  backlogSize(): number {
    return this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM index_backlog').one().n;
  }

  /** The revision the last backlog slice made; the next may be made once it is published. 0 when none. */
  backlogRevision(): number {
    return Number(readMeta(this.sql, 'backlog_revision') ?? 0);
  }

  /**
   * Indexes the next group of backlog records (at most `chunksPerRevision`
   * chunks) as a revision of its own, from their current versions. Call
   * once the revision before is published, inside a storage transaction.
   */
  indexBacklogSlice(publisher: Publisher, now: string, nowMs: number): void {
    const rows = this.sql.exec<{ id: string; remove_key: string | null; changed_at: string }>('SELECT id, remove_key, changed_at FROM index_backlog ORDER BY rowid LIMIT ?', BACKLOG_SLICE).toArray();
    if (rows.length === 0) return;
    const current = this.current(rows.map((row) => row.id));
    const manifest = this.manifest();
    const shape = this.shape();
    const changes = rows.map((row) => this.plannedChange(row.id, row.remove_key, current.get(row.id) ?? null, row.changed_at));
    const nodes = this.nodesOfOneWrite();
    const [group = []] = groupByChunks(changes, (k) => leafOf(manifest, nodes, k), shape.chunksPerRevision);
    const index = applyIndexChange(manifest, nodes, indexChangeOf(group), newestOf(group), now, shape);
    for (const change of group) this.sql.exec('DELETE FROM index_backlog WHERE id = ?', change.id);
    this.applyIndex(index, group.map((change) => ({ id: change.id, entry: change.upsert })), publisher, nowMs);
    writeMeta(this.sql, 'backlog_revision', String(index.manifest.revision));
  }

  /** The tombstone of a retracted record; null when `id` was never retracted or was restored. */
  tombstone(id: string): Tombstone | null {
    const row = this.sql.exec<{ revision: number; retracted_at: string; reason: string | null }>('SELECT revision, retracted_at, reason FROM tombstones WHERE id = ?', id).toArray()[0];
    return row ? { id, revision: row.revision, retracted_at: row.retracted_at, reason: row.reason } : null;
  }

  /**
   * Retracts record `id` at `now`: takes it out of the records and the
   * index, keeps a tombstone, queues the deletion of `event:<id>` and the
   * tombstone's publication, and logs the change. Retracting a retracted
   * record changes nothing and gives its tombstone (`already`); null when
   * there is no such record. Call inside the write's storage transaction.
   */
  retract(id: string, reason: string | null, now: string, publisher: Publisher, changes: ChangeLog, nowMs: number): Retraction | null {
    const current = this.current([id]).get(id);
    if (!current) {
      const tombstone = this.tombstone(id);
      if (!tombstone) return null;
      const last = this.sql.exec<{ last_version: string }>('SELECT last_version FROM tombstones WHERE id = ?', id).one().last_version;
      return { tombstone, lastVersion: JSON.parse(last) as Event, already: true };
    }
    const tombstone: Tombstone = { id, revision: current.revision + 1, retracted_at: changes.commitTime(now), reason };
    const manifest = this.manifest();
    const indexedKey = this.indexedKey(id, current);
    const change: IndexChange = { remove: indexedKey === null ? [] : [indexedKey], upsert: [] };
    const index = applyIndexChange(manifest, this.nodes, change, manifest.updated_at ?? now, now, this.shape());
    this.sql.exec('DELETE FROM index_backlog WHERE id = ?', id);
    if (this.sql.exec('DELETE FROM records WHERE id = ?', id).rowsWritten > 0) addToCounter(this.sql, RECORD_COUNT, -1);
    this.sql.exec(
      'INSERT INTO tombstones (id, revision, retracted_at, reason, last_version) VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET revision = excluded.revision, retracted_at = excluded.retracted_at, reason = excluded.reason, last_version = excluded.last_version',
      id, tombstone.revision, tombstone.retracted_at, reason, JSON.stringify(current),
    );
    publisher.retire(eventVersionKey(id, current.revision), nowMs);
    publisher.remove(eventKey(id));
    const text = JSON.stringify(tombstone);
    publisher.enqueue(tombstoneKey(id), text);
    this.applyIndex(index, [{ id, entry: null }], publisher, nowMs);
    changes.append([{ kind: 'retracted', recordId: id, revision: tombstone.revision, at: tombstone.retracted_at, body: text }], publisher);
    return { tombstone, lastVersion: current, already: false };
  }

  /**
   * Applies a plan and queues what it changed for publishing: each changed
   * record's new version and latest copy, the new chunks, the manifest and
   * its head; superseded versions and replaced chunks are retired; each
   * change is logged. Call inside the write's storage transaction.
   */
  apply(plan: WritePlan, publisher: Publisher, changes: ChangeLog, nowMs: number, changedAt: string): void {
    if (!plan.index) return;
    this.stats.readyIfEmpty(this.count());
    for (const { result, text, digest } of plan.changed) {
      const { record, previous, restored } = result;
      if (restored) {
        this.sql.exec('DELETE FROM tombstones WHERE id = ?', record.id);
        publisher.remove(tombstoneKey(record.id));
      }
      // A new row is counted; a row there already (the record's earlier version) takes the new version.
      const added = this.sql.exec('INSERT OR IGNORE INTO records (id, revision, body, digest) VALUES (?, ?, ?, ?)', record.id, record.revision, text, digest).rowsWritten > 0;
      if (added) addToCounter(this.sql, RECORD_COUNT, 1);
      else this.sql.exec('UPDATE records SET revision = ?, body = ?, digest = ? WHERE id = ?', record.revision, text, digest, record.id);
      this.rememberDigest(record.id, digest);
      if (previous) publisher.retire(eventVersionKey(previous.id, previous.revision), nowMs);
      publisher.enqueue(eventVersionKey(record.id, record.revision));
      publisher.enqueue(eventKey(record.id));
    }
    for (const { id, remove_key, changed_at } of plan.deferred) {
      this.sql.exec('INSERT INTO index_backlog (id, remove_key, changed_at) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET remove_key = excluded.remove_key, changed_at = excluded.changed_at', id, remove_key, changed_at);
    }
    for (const id of plan.indexed) this.sql.exec('DELETE FROM index_backlog WHERE id = ?', id);
    // What this write leaves waits until its own revision is published, so the two are not published as one.
    if (plan.deferred.length > 0) writeMeta(this.sql, 'backlog_revision', String(plan.index.manifest.revision));
    const indexedNow = plan.changed.filter(({ result }) => plan.indexed.has(result.record.id));
    this.applyIndex(plan.index, indexedNow.map(({ result }) => ({ id: result.record.id, entry: toIndexEntry(result.record) })), publisher, nowMs);
    changes.append(
      plan.changed.map(({ result, text }) => ({ kind: result.change === 'created' ? 'created' : 'updated', recordId: result.record.id, revision: result.record.revision, at: changedAt, body: text })),
      publisher,
    );
  }

  /** A retracted record written again: an update with the revision after the retraction's, keeping when it was first created. */
  private restoration(tombstone: Tombstone, input: EventInput, now: string): WriteResult {
    const last = JSON.parse(this.sql.exec<{ last_version: string }>('SELECT last_version FROM tombstones WHERE id = ?', tombstone.id).one().last_version) as Event;
    const record: Event = { ...input, revision: tombstone.revision + 1, created_at: last.created_at, updated_at: now > last.updated_at ? now : last.updated_at };
    return { record, change: 'updated', previous: null, restored: tombstone };
  }

  /**
   * Stores an index revision (its nodes, its stats aggregates changed by
   * `changes`, and its manifest, which names their directory once they are
   * built) and queues it with its head; the nodes it replaces are retired.
   */
  private applyIndex(index: IndexWrite, changes: readonly StatsChange[], publisher: Publisher, nowMs: number): void {
    const statsKey = this.stats.apply(changes, index.manifest.epoch, index.manifest.revision, publisher, nowMs);
    if (statsKey !== null) index.manifest.stats = statsKey;
    for (const key of index.replaced) {
      this.sql.exec(`DELETE FROM ${nodeTableOf(key).table} WHERE key = ?`, key);
      publisher.retire(key, nowMs);
    }
    this.nameFrontPage(index.manifest, publisher, nowMs);
    this.storeIndex(index, publisher);
    publisher.enqueue(HEAD_KEY);
  }

  /**
   * Names the front page of a new index revision in its manifest and queues
   * it (rendered when it is put: `frontPageText`), retiring the one of the
   * revision it replaces. Call before the manifest is stored.
   */
  private nameFrontPage(manifest: SegmentedManifest, publisher: Publisher, nowMs: number): void {
    const replaced = this.manifest().front_page;
    if (replaced !== undefined) publisher.retire(replaced, nowMs);
    manifest.front_page = frontPageKey(manifest.epoch, manifest.revision);
    publisher.enqueue(manifest.front_page);
  }

  /**
   * The front page under `key`, rendered from the current index and record
   * versions (domain/page-json.ts); null when `key` is not the current
   * revision's (a newer one replaced it before it was put) or a record
   * version it lists is no longer current: it is then never published, and
   * readers of that revision build the page from the index.
   */
  frontPageText(key: string): string | null {
    const manifest = this.manifest();
    if (manifest.front_page !== key) return null;
    const entriesOf = (ref: ChunkRef) => (ref.patch ? patchedEntries(this.nodes.entries(ref.key), this.nodes.patch(ref.patch)) : this.nodes.entries(ref.key));
    const children = (ref: IndexRef) => this.nodes.children(ref.key);
    function* chunksUnder(refs: readonly IndexRef[], level: number): Generator<IndexEntry[]> {
      for (const ref of refs) {
        if (level === 0) yield entriesOf(ref);
        else yield* chunksUnder(children(ref), level - 1);
      }
    }
    const { refs, level } = rootOf(manifest);
    return frontPageJson({ chunks: () => chunksUnder(refs, level), recordText: (id, revision) => this.currentText(id, revision) });
  }

  /** Stores an index revision's new chunks and segments (queued, chunks first) and its manifest. */
  private storeIndex(index: IndexWrite, publisher: Publisher): void {
    for (const [key, entries] of index.chunks) {
      this.sql.exec('INSERT INTO chunks (key, entries) VALUES (?, ?)', key, chunkText(entries));
      publisher.enqueue(key);
    }
    for (const [key, patch] of index.patches) {
      this.sql.exec('INSERT INTO patches (key, body) VALUES (?, ?)', key, JSON.stringify(patch));
      publisher.enqueue(key);
    }
    for (const [key, children] of index.segments) {
      this.sql.exec('INSERT INTO segments (key, children) VALUES (?, ?)', key, JSON.stringify(children));
      publisher.enqueue(key);
    }
    this.storeManifest(index.manifest, publisher);
  }

  /** Stores `manifest` as the current one and queues it (not its head). */
  private storeManifest(manifest: SegmentedManifest, publisher: Publisher): void {
    writeMeta(this.sql, 'manifest', JSON.stringify(manifest));
    publisher.enqueue(MANIFEST_KEY);
  }

  /**
   * Runs one slice of the build of the stats aggregates for records stored
   * before they existed (StatsTable.buildSlice); when it is the last, makes
   * a new index revision whose manifest names their directory. True while
   * slices remain. Call inside a storage transaction.
   */
  buildStatsSlice(publisher: Publisher, nowMs: number): boolean {
    const manifest = this.manifest();
    const records = (after: string, limit: number) =>
      this.sql
        .exec<{ id: string; body: string }>('SELECT id, body FROM records WHERE id > ? ORDER BY id LIMIT ?', after, limit)
        .toArray()
        .map(({ id, body }) => ({ id, entry: toIndexEntry(JSON.parse(body) as Event) }));
    const revision = manifest.revision + 1;
    if (!this.stats.buildSlice(records, manifest.epoch, revision, publisher, nowMs)) return true;
    const next: SegmentedManifest = { ...manifest, revision, stats: this.stats.directoryKey()! };
    this.nameFrontPage(next, publisher, nowMs);
    this.storeManifest(next, publisher);
    publisher.enqueue(HEAD_KEY);
    return false;
  }
}
