/**
 * Reconciliation of records written straight into KV (e.g. with
 * `wrangler kv bulk put`) with the truth, in bounded slices.
 *
 * Each slice lists one page of `event:` keys from a cursor kept in SQLite and
 * reads their values (one list and at most ten bulk reads). A value whose
 * digest is that of a version this storage published is our own copy,
 * possibly stale, and is left alone. Any other value is someone else's
 * write: a valid record with new content is adopted (created or updated
 * through the ordinary write path, so it is indexed and alerted once); an
 * invalid one (not JSON, failing the schema, or under another id's key) is
 * quarantined once per content and, when the id is ours, our version is
 * published over it again. Readers validate too, so an invalid value is
 * never served.
 *
 * A live record whose `event:<id>` key is gone (deleted out of band, e.g.
 * `wrangler kv key delete`) is retracted, once, but only on evidence that
 * survives KV's eventual consistency: the key is absent both from the
 * listing and from a direct read, its latest version is not waiting to be
 * published, and it was already found missing, at the same revision, by a
 * pass at least MISSING_CONFIRM_MS earlier. A key seen again in between
 * clears the suspicion. Each slice checks the records whose ids fall in the
 * span of keys it listed (at most MISSING_CHECK_MAX of them).
 */
import { contentFingerprint } from '../domain/changes.ts';
import { sha256Hex } from '../domain/digest.ts';
import { EVENT_KEY_PREFIX, eventKey } from '../domain/layout.ts';
import type { EventInput } from '../domain/schema.ts';
import { parseStoredRecord } from '../domain/stored-record.ts';
import type { DatasetTable } from './dataset-table.ts';
import { settleLimited } from './limited.ts';
import { readCounter, readMeta, writeMeta } from './meta-table.ts';
import type { Publisher } from './publisher.ts';

/** The table this module keeps. */
export const RECONCILE_SCHEMA = [
  'CREATE TABLE IF NOT EXISTS quarantine (key TEXT NOT NULL, digest TEXT NOT NULL, id TEXT NOT NULL, problem TEXT NOT NULL, first_seen TEXT NOT NULL, PRIMARY KEY (key, digest))',
  'CREATE TABLE IF NOT EXISTS missing_keys (id TEXT PRIMARY KEY, revision INTEGER NOT NULL, first_missing_at TEXT NOT NULL)',
];

/** How long a live record's key must have been missing, across passes, before it is taken as deleted out of band. */
export const MISSING_CONFIRM_MS = 10 * 60 * 1_000;
/** Most live records one slice checks for a missing key. */
const MISSING_CHECK_MAX = 1_000;

/** Keys listed per slice (one KV list call). */
const LIST_PAGE = 1_000;
/** Most keys one KV bulk read may ask for. */
const BULK_GET_MAX = 100;
/** How long the pass waits after a slice failed (KV unavailable) before trying it again. */
const SLICE_RETRY_MS = 30_000;

/** An invalid value found under an `event:` key. */
export interface QuarantineEntry {
  key: string;
  id: string;
  digest: string;
  problem: string;
  first_seen: string;
}

/** What one slice found. */
export interface ReconcileSlice {
  /** Keys read. */
  scanned: number;
  /** Valid records with content the truth lacks, to write. */
  adopt: EventInput[];
  /** Invalid values seen for the first time (already quarantined). */
  quarantined: QuarantineEntry[];
  /** Live records whose key was confirmed deleted out of band, to retract, with why. */
  retract: { id: string; reason: string }[];
  /** The last key id this slice covered, for `advance`. */
  lastId: string | null;
  /** Where the next slice starts; null when this slice reached the end. */
  nextCursor: string | null;
}

/** Scans `event:` keys in KV against the truth. */
export class Reconciler {
  constructor(
    private readonly sql: SqlStorage,
    private readonly kv: KVNamespace,
    private readonly dataset: DatasetTable,
    private readonly publisher: Publisher,
  ) {}

  /** Starts a pass over every key, unless one is under way. */
  startPass(): void {
    if (this.passUnderWay()) return;
    writeMeta(this.sql, 'reconcile_cursor', '');
    writeMeta(this.sql, 'reconcile_after_id', '');
  }

  /** Whether a pass has slices left. */
  passUnderWay(): boolean {
    return readMeta(this.sql, 'reconcile_cursor') !== null;
  }

  /** When the pass's next slice is due, or null when no pass is under way. */
  nextSliceAt(nowMs: number): number | null {
    return this.passUnderWay() ? Math.max(nowMs, readCounter(this.sql, 'reconcile_retry_at')) : null;
  }

  /** Puts the pass's next slice off after a failure. */
  sliceFailed(nowMs: number): void {
    writeMeta(this.sql, 'reconcile_retry_at', String(nowMs + SLICE_RETRY_MS));
  }

  /** Records where the pass goes on (null: it is over) and the last id covered. Call in the transaction that applies the slice. */
  advance(nextCursor: string | null, lastId: string | null): void {
    writeMeta(this.sql, 'reconcile_cursor', nextCursor);
    writeMeta(this.sql, 'reconcile_after_id', nextCursor === null ? null : lastId);
    writeMeta(this.sql, 'reconcile_retry_at', null);
  }

  /** Reads the pass's next slice at `now`; invalid values are quarantined (and our versions queued over them) right away. */
  async scan(now: string): Promise<ReconcileSlice> {
    const cursor = readMeta(this.sql, 'reconcile_cursor') || undefined;
    const page = await this.kv.list({ prefix: EVENT_KEY_PREFIX, cursor, limit: LIST_PAGE });
    const keys = page.keys.map((key) => key.name);
    const batches: string[][] = [];
    for (let start = 0; start < keys.length; start += BULK_GET_MAX) batches.push(keys.slice(start, start + BULK_GET_MAX));
    const values = new Map<string, string | null>();
    for (const outcome of await settleLimited(batches, (batch) => this.kv.get(batch, 'text'))) {
      if (outcome.status === 'rejected') throw outcome.reason;
      for (const [key, value] of outcome.value) values.set(key, value);
    }
    const slice: ReconcileSlice = { scanned: keys.length, adopt: [], quarantined: [], retract: [], lastId: null, nextCursor: page.list_complete ? null : page.cursor };
    const ids = keys.map((key) => key.slice(EVENT_KEY_PREFIX.length));
    slice.lastId = page.list_complete ? null : (ids.at(-1) ?? null);
    slice.retract = await this.missingKeys(readMeta(this.sql, 'reconcile_after_id') ?? '', slice.lastId, new Set(ids), now);
    for (const key of keys) {
      const text = values.get(key);
      if (text === null || text === undefined) continue;
      const id = key.slice(EVENT_KEY_PREFIX.length);
      const digest = await sha256Hex(text);
      if (this.dataset.publishedDigest(id, digest)) continue;
      const stored = parseStoredRecord(text, id);
      if (!stored.ok) {
        const entry = this.quarantine({ key, id, digest, problem: stored.problem, first_seen: now });
        if (entry) slice.quarantined.push(entry);
        continue;
      }
      const current = this.dataset.current([id]).get(id);
      if (current && contentFingerprint(current) === contentFingerprint(stored.record)) this.dataset.rememberDigest(id, digest);
      else slice.adopt.push(stored.record);
    }
    return slice;
  }

  /**
   * The live records with ids in (`after`, `upTo`] (to the end when null)
   * whose `event:` key is neither listed nor readable: each is remembered as
   * missing, and returned for retraction once it was already missing, at the
   * same revision, MISSING_CONFIRM_MS before `now`. Records whose key is
   * there again are forgotten.
   */
  private async missingKeys(after: string, upTo: string | null, listed: ReadonlySet<string>, now: string): Promise<{ id: string; reason: string }[]> {
    const live = this.sql
      .exec<{ id: string; revision: number }>('SELECT id, revision FROM records WHERE id > ? AND (? IS NULL OR id <= ?) ORDER BY id LIMIT ?', after, upTo, upTo, MISSING_CHECK_MAX)
      .toArray()
      .filter((row) => !listed.has(row.id) && !this.publisher.isQueued(eventKey(row.id)));
    const unlisted = new Set<string>();
    for (let start = 0; start < live.length; start += BULK_GET_MAX) {
      const batch = live.slice(start, start + BULK_GET_MAX);
      const values = await this.kv.get(batch.map((row) => eventKey(row.id)), 'text');
      for (const row of batch) if (values.get(eventKey(row.id)) === null) unlisted.add(row.id);
    }
    const suspected = new Map(
      this.sql
        .exec<{ id: string; revision: number; first_missing_at: string }>('SELECT id, revision, first_missing_at FROM missing_keys WHERE id > ? AND (? IS NULL OR id <= ?)', after, upTo, upTo)
        .toArray()
        .map((row) => [row.id, row]),
    );
    this.sql.exec('DELETE FROM missing_keys WHERE id > ? AND (? IS NULL OR id <= ?)', after, upTo, upTo);
    const confirmed: { id: string; reason: string }[] = [];
    for (const { id, revision } of live.filter((row) => unlisted.has(row.id))) {
      const earlier = suspected.get(id);
      if (earlier && earlier.revision === revision && Date.parse(now) - Date.parse(earlier.first_missing_at) >= MISSING_CONFIRM_MS) {
        confirmed.push({ id, reason: `removed from KV out of band: ${eventKey(id)} missing since ${earlier.first_missing_at}, still missing at ${now}` });
        continue;
      }
      const since = earlier && earlier.revision === revision ? earlier.first_missing_at : now;
      this.sql.exec('INSERT INTO missing_keys (id, revision, first_missing_at) VALUES (?, ?, ?)', id, revision, since);
    }
    return confirmed;
  }

  /** Every quarantined value, oldest first. */
  quarantined(): QuarantineEntry[] {
    return this.sql.exec<QuarantineEntry & Record<string, string>>('SELECT key, id, digest, problem, first_seen FROM quarantine ORDER BY first_seen, key').toArray();
  }

  /** How many values are quarantined. */
  quarantineCount(): number {
    return this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM quarantine').one().n;
  }

  /** Quarantines an invalid value once per content, reporting it then; our version of the record, if any, is published over it. */
  private quarantine(entry: QuarantineEntry): QuarantineEntry | null {
    const added = this.sql.exec('INSERT OR IGNORE INTO quarantine (key, digest, id, problem, first_seen) VALUES (?, ?, ?, ?, ?)', entry.key, entry.digest, entry.id, entry.problem, entry.first_seen).rowsWritten > 0;
    if (!added) return null;
    console.warn('quarantined an invalid value under', entry.key, '-', entry.problem);
    if (this.dataset.currentText(entry.id) !== null) this.publisher.enqueue(eventKey(entry.id));
    return entry;
  }
}
