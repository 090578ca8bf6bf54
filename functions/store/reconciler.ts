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
];

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
    if (!this.passUnderWay()) writeMeta(this.sql, 'reconcile_cursor', '');
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

  /** Records where the pass goes on (null: it is over). Call in the transaction that applies the slice. */
  advance(nextCursor: string | null): void {
    writeMeta(this.sql, 'reconcile_cursor', nextCursor);
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
    const slice: ReconcileSlice = { scanned: keys.length, adopt: [], quarantined: [], nextCursor: page.list_complete ? null : page.cursor };
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
