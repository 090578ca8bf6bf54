/**
 * The dataset's truth, in the Coordinator's SQLite: every record's current
 * version with the digest of its published text, the digests of every
 * version ever published (so reconciliation can tell a stale copy of our own
 * from an edit made elsewhere), the live index chunks and the manifest (and
 * its head, derived from it).
 *
 * A write is planned from these tables alone (previous versions, change
 * kinds, next revisions, the new index revision) and applied in the caller's
 * storage transaction, which also queues what changed for publishing.
 */
import { mergeRecord, type RecordChange } from '../domain/changes.ts';
import { sha256Hex } from '../domain/digest.ts';
import {
  HEAD_KEY,
  MANIFEST_KEY,
  applyIndexChange,
  chunksTouched,
  emptyManifest,
  eventKey,
  headOf,
  eventVersionKey,
  sortKey,
  toIndexEntry,
  type IndexChange,
  type IndexEntry,
  type IndexWrite,
  type Manifest,
} from '../domain/layout.ts';
import type { Event, EventInput } from '../domain/schema.ts';
import { readMeta, writeMeta } from './meta-table.ts';
import type { Publisher } from './publisher.ts';

/** The tables this module keeps. */
export const DATASET_SCHEMA = [
  'CREATE TABLE IF NOT EXISTS records (id TEXT PRIMARY KEY, revision INTEGER NOT NULL, body TEXT NOT NULL, digest TEXT NOT NULL)',
  'CREATE TABLE IF NOT EXISTS record_digests (id TEXT NOT NULL, digest TEXT NOT NULL, PRIMARY KEY (id, digest))',
  'CREATE TABLE IF NOT EXISTS chunks (key TEXT PRIMARY KEY, entries TEXT NOT NULL)',
];

/** What one write did to one record; `previous` is the version it replaced, if any. */
export interface WriteResult {
  record: Event;
  change: RecordChange;
  previous: Event | null;
}

/** A write worked out from the truth, ready to apply. */
export interface WritePlan {
  results: WriteResult[];
  /** The records that changed, with the text to publish and its digest. */
  changed: { result: WriteResult; text: string; digest: string }[];
  /** The new index revision; null when nothing changed. */
  index: IndexWrite | null;
}

/** The records, index and manifest of the dataset. */
export class DatasetTable {
  constructor(private readonly sql: SqlStorage) {}

  /** A random id of this storage, created once: revisions and chunk keys are unique within it. */
  epoch(): string {
    const known = readMeta(this.sql, 'epoch');
    if (known) return known;
    const epoch = [...crypto.getRandomValues(new Uint8Array(4))].map((byte) => byte.toString(16).padStart(2, '0')).join('');
    writeMeta(this.sql, 'epoch', epoch);
    return epoch;
  }

  /** The current manifest (the truth; KV may hold an older one). */
  manifest(): Manifest {
    const text = readMeta(this.sql, 'manifest');
    return text ? (JSON.parse(text) as Manifest) : emptyManifest(this.epoch());
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

  /** The entries of a live chunk, as stored text; null when the chunk is not live. */
  chunkText(key: string): string | null {
    return this.sql.exec<{ entries: string }>('SELECT entries FROM chunks WHERE key = ?', key).toArray()[0]?.entries ?? null;
  }

  /** Whether `digest` is that of a version of record `id` this storage published. */
  publishedDigest(id: string, digest: string): boolean {
    return this.sql.exec('SELECT 1 FROM record_digests WHERE id = ? AND digest = ?', id, digest).toArray().length > 0;
  }

  /** Remembers `digest` as a text of record `id` (a copy KV may serve). */
  rememberDigest(id: string, digest: string): void {
    this.sql.exec('INSERT OR IGNORE INTO record_digests (id, digest) VALUES (?, ?)', id, digest);
  }

  /** How many records there are. */
  count(): number {
    return this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM records').one().n;
  }

  /**
   * Works out a write of `inputs` at `now` from the truth: each record's
   * change against its current version and the new index revision.
   * Identical resubmissions change nothing; the last input of an id wins.
   */
  async plan(inputs: readonly EventInput[], now: string): Promise<WritePlan> {
    const latest = new Map(inputs.map((input) => [input.id, input]));
    const stored = this.current([...latest.keys()]);
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
    const changedResults = results.filter((result) => result.change !== 'unchanged');
    if (changedResults.length === 0) return { results, changed: [], index: null };
    const changed = await Promise.all(
      changedResults.map(async (result) => {
        const text = JSON.stringify(result.record);
        return { result, text, digest: await sha256Hex(text) };
      }),
    );
    const manifest = this.manifest();
    const loaded = new Map<string, IndexEntry[]>();
    for (const key of chunksTouched(manifest, change)) loaded.set(key, JSON.parse(this.chunkText(key) ?? '[]') as IndexEntry[]);
    const newest = changedResults.reduce((max, { record }) => (record.updated_at > max ? record.updated_at : max), '');
    return { results, changed, index: applyIndexChange(manifest, loaded, change, newest, now) };
  }

  /**
   * Applies a plan and queues what it changed for publishing: each changed
   * record's new version and latest copy, the new chunks, the manifest and its head;
   * superseded versions and replaced chunks are retired. Call inside the
   * write's storage transaction.
   */
  apply(plan: WritePlan, publisher: Publisher, nowMs: number): void {
    if (!plan.index) return;
    for (const { result, text, digest } of plan.changed) {
      const { record, previous } = result;
      this.sql.exec(
        'INSERT INTO records (id, revision, body, digest) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET revision = excluded.revision, body = excluded.body, digest = excluded.digest',
        record.id,
        record.revision,
        text,
        digest,
      );
      this.rememberDigest(record.id, digest);
      if (previous) publisher.retire(eventVersionKey(previous.id, previous.revision), nowMs);
      publisher.enqueue(eventVersionKey(record.id, record.revision));
      publisher.enqueue(eventKey(record.id));
    }
    for (const key of plan.index.replaced) {
      this.sql.exec('DELETE FROM chunks WHERE key = ?', key);
      publisher.retire(key, nowMs);
    }
    for (const [key, entries] of plan.index.chunks) {
      this.sql.exec('INSERT INTO chunks (key, entries) VALUES (?, ?)', key, JSON.stringify(entries));
      publisher.enqueue(key);
    }
    writeMeta(this.sql, 'manifest', JSON.stringify(plan.index.manifest));
    publisher.enqueue(MANIFEST_KEY);
    publisher.enqueue(HEAD_KEY);
  }
}
