/**
 * Publishing the Coordinator's truth to KV, the public copy readers use.
 *
 * A write only queues keys (`publish_queue`, in the same SQLite transaction
 * as the write); the Coordinator's alarm then runs bounded slices that put
 * them: record versions, latest records, chunks and small values first, then
 * the manifest once nothing it names is still waiting, then the index head
 * (its small summary, what validators read) once the manifest it sums up is
 * out. The rules
 * of production KV are kept here, not assumed away:
 * - no key is written twice within a second (`kv_writes` remembers the last
 *   second's writes; a burst of writes to one record or the manifest is
 *   coalesced into the next allowed put of the newest value);
 * - at most MAX_CONNECTIONS operations in flight and a bounded number per
 *   slice, well under 1,000 KV operations per invocation;
 * - a failed put (429, or any transient error) stays queued and the slice is
 *   retried with exponential backoff;
 * - what a slice and the alarm's scheduling ask of the queue costs the same
 *   however long it is (a bulk load can queue millions of keys): whether a
 *   key waits, the oldest keys by `seq`, the keys written within the second;
 *   `/admin/status`'s counts by kind are kept as counters, never counted;
 * - keys replaced by a newer manifest (chunks, record versions) stay
 *   readable for RETIRED_GRACE_MS, for readers still holding an older
 *   manifest, and are deleted afterwards; keys removed outright (a retracted
 *   record's `event:<id>`, a restored record's tombstone) are deleted at
 *   once, within the same write rate, and before the manifest and head of
 *   the revision that removed them: readers (and the rendered-body cache,
 *   keyed by the head's revision) never see that revision with the key.
 * Nothing here reads KV.
 */
import { HEAD_KEY, MANIFEST_KEY } from '../domain/layout.ts';
import { settleLimited } from './limited.ts';
import { addToCounter, readCounter, readMeta, writeMeta } from './meta-table.ts';

/** The tables this module keeps. */
export const PUBLISH_SCHEMA = [
  'CREATE TABLE IF NOT EXISTS publish_queue (key TEXT PRIMARY KEY, seq INTEGER NOT NULL, value TEXT)',
  'CREATE INDEX IF NOT EXISTS publish_queue_by_seq ON publish_queue (seq)',
  'CREATE TABLE IF NOT EXISTS kv_writes (key TEXT PRIMARY KEY, at INTEGER NOT NULL)',
  'CREATE TABLE IF NOT EXISTS retired_keys (key TEXT PRIMARY KEY, retired_at INTEGER NOT NULL)',
  'CREATE INDEX IF NOT EXISTS retired_keys_by_time ON retired_keys (retired_at)',
];

/** KV allows one write per second to a key. */
export const KEY_WRITE_INTERVAL_MS = 1_000;
/** How long a replaced chunk or record version stays readable. */
export const RETIRED_GRACE_MS = 60 * 60 * 1_000;
/** Most puts one slice makes. */
const PUT_SLICE = 200;
/** Most deletes one slice makes. */
const DELETE_SLICE = 100;
/**
 * Keys put after everything else, in this order, each once every key before
 * it is out: the manifest names chunks and record versions, and the head
 * sums up the manifest.
 */
const LAST_KEYS = [MANIFEST_KEY, HEAD_KEY] as const;
/** SQL condition: the row's key is not one of LAST_KEYS. */
const NOT_LAST = `key NOT IN (${LAST_KEYS.map(() => '?').join(', ')})`;
/** Meta counters of the queued keys by kind (what `/admin/status` shows), kept as keys are queued and dequeued. */
const QUEUED_COUNTERS = { records: 'queued_records', chunks: 'queued_chunks', other: 'queued_other' } as const;
/** Meta counter of the retired keys waiting for deletion. */
const RETIRED_COUNTER = 'retired_count';
/** Meta flag: the counters above are kept (set once the queue and retired keys of a store from before them were counted). */
const COUNTED = 'queue_counted';

/** The kind a queued key is counted under. */
const kindOf = (key: string): keyof typeof QUEUED_COUNTERS => (key.startsWith('event:') || key.startsWith('event-version:') ? 'records' : key.startsWith('index:chunk:') ? 'chunks' : 'other');

/** `retired_at` of a key removed outright: due for deletion at once (its grace period counts as over). */
const REMOVED_AT = -RETIRED_GRACE_MS;
/** Backoff after failed puts: doubling from the first delay up to the last. */
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 60_000;

/** Publishing state, as `GET /admin/status` shows it. */
export interface PublishStatus {
  published_revision: number;
  up_to_date: boolean;
  pending_records: number;
  pending_chunks: number;
  pending_other: number;
  retired_keys: number;
  kv_puts: number;
  kv_deletes: number;
  kv_failures: number;
  consecutive_failures: number;
  last_published_at: string | null;
  next_attempt_at: string | null;
}

/** Finds the value to put for a queued key that carries none (records, chunks, the manifest); null when it is no longer wanted. */
export type ValueResolver = (key: string) => string | null;

/** Publishes queued keys from the Coordinator's SQLite to a KV namespace. */
export class Publisher {
  constructor(
    private readonly sql: SqlStorage,
    private readonly kv: KVNamespace,
    private readonly resolve: ValueResolver,
    private readonly random: () => number = Math.random,
  ) {
    this.countOnce();
  }

  /** Counts the queue by kind and the retired keys once, for a store that filled them before the counters were kept. */
  private countOnce(): void {
    if (readMeta(this.sql, COUNTED) !== null) return;
    const counts = { records: 0, chunks: 0, other: 0 };
    for (const { key } of this.sql.exec<{ key: string }>('SELECT key FROM publish_queue')) counts[kindOf(key)]++;
    for (const [kind, counter] of Object.entries(QUEUED_COUNTERS)) writeMeta(this.sql, counter, String(counts[kind as keyof typeof counts]));
    writeMeta(this.sql, RETIRED_COUNTER, String(this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM retired_keys').one().n));
    writeMeta(this.sql, COUNTED, '1');
  }

  /** Marks `key` for deletion at `retiredAt` (or moves its time there); a key already marked keeps its time unless `moveTime`. */
  private markRetired(key: string, retiredAt: number, moveTime: boolean): void {
    const inserted = this.sql.exec('INSERT OR IGNORE INTO retired_keys (key, retired_at) VALUES (?, ?)', key, retiredAt).rowsWritten > 0;
    if (inserted) addToCounter(this.sql, RETIRED_COUNTER, 1);
    else if (moveTime) this.sql.exec('UPDATE retired_keys SET retired_at = ? WHERE key = ?', retiredAt, key);
  }

  /** Takes `key` off the keys to delete; whether it was there. */
  private unmarkRetired(key: string): boolean {
    const removed = this.sql.exec('DELETE FROM retired_keys WHERE key = ?', key).rowsWritten > 0;
    if (removed) addToCounter(this.sql, RETIRED_COUNTER, -1);
    return removed;
  }

  /** Queues `key` for publishing; `value` is stored with it, or resolved when it is published. Call inside the write's transaction. */
  enqueue(key: string, value: string | null = null): void {
    // A key written again is no longer to be deleted (a retracted record restored).
    this.unmarkRetired(key);
    const inserted = this.sql.exec('INSERT OR IGNORE INTO publish_queue (key, seq, value) VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM publish_queue), ?)', key, value).rowsWritten > 0;
    // A key queued again keeps its place and takes the new value.
    if (inserted) addToCounter(this.sql, QUEUED_COUNTERS[kindOf(key)], 1);
    else this.sql.exec('UPDATE publish_queue SET value = ? WHERE key = ?', value, key);
  }

  /** Takes `key` out of the queue; whether it was there. */
  private dequeue(key: string): boolean {
    const removed = this.sql.exec('DELETE FROM publish_queue WHERE key = ?', key).rowsWritten > 0;
    if (removed) addToCounter(this.sql, QUEUED_COUNTERS[kindOf(key)], -1);
    return removed;
  }

  /**
   * A key the truth no longer names (a replaced chunk, a superseded record
   * version): withdrawn if it was never published, otherwise deleted from KV
   * after the grace period.
   */
  retire(key: string, nowMs: number): void {
    if (!this.dequeue(key)) this.markRetired(key, nowMs, false);
  }

  /**
   * A key to delete from KV as soon as its write rate allows (the latest copy
   * of a retracted record, a restored record's tombstone): a queued put of it
   * is withdrawn. Call inside the write's transaction.
   */
  remove(key: string): void {
    this.dequeue(key);
    this.markRetired(key, REMOVED_AT, true);
  }

  /** Runs one bounded slice of publishing at `nowMs`. */
  async run(nowMs: number): Promise<void> {
    this.sql.exec('DELETE FROM kv_writes WHERE at <= ?', nowMs - KEY_WRITE_INTERVAL_MS);
    if (nowMs < readCounter(this.sql, 'publish_retry_at')) return;
    let failures = await this.putAllowed();
    if (failures === 0) failures = await this.deleteDue('retired_at = ?', REMOVED_AT);
    if (failures === 0) failures = await this.putLastKeysWhenComplete(nowMs);
    if (failures === 0) failures = await this.deleteDue('retired_at <= ?', nowMs - RETIRED_GRACE_MS);
    if (failures === 0) {
      writeMeta(this.sql, 'publish_consecutive_failures', null);
      writeMeta(this.sql, 'publish_retry_at', null);
      return;
    }
    const consecutive = readCounter(this.sql, 'publish_consecutive_failures') + 1;
    const delay = Math.min(RETRY_FIRST_MS * 2 ** (consecutive - 1), RETRY_MAX_MS) * (0.8 + 0.4 * this.random());
    writeMeta(this.sql, 'publish_consecutive_failures', String(consecutive));
    writeMeta(this.sql, 'publish_retry_at', String(Math.round(nowMs + delay)));
  }

  /** The revision of the last manifest put to KV (0 before the first). */
  publishedRevision(): number {
    return readCounter(this.sql, 'published_revision');
  }

  /**
   * When the next slice has work it may do, or null when there is none.
   * Each query stops at the first row it needs or walks only the keys
   * written within the last second (`kv_writes`), whatever the length of
   * the queue or of the retired keys.
   */
  nextRunAt(nowMs: number): number | null {
    const times: number[] = [];
    const nextLast = LAST_KEYS.find((key) => this.isQueued(key));
    if (this.anyQueued()) {
      // Now if a queued key may be written, else once the first of them may be written again.
      const writable = this.sql.exec(`SELECT 1 FROM publish_queue q WHERE q.${NOT_LAST} AND NOT EXISTS (SELECT 1 FROM kv_writes w WHERE w.key = q.key) LIMIT 1`, ...LAST_KEYS).toArray().length > 0;
      const blockedUntil = writable
        ? null
        : this.sql.exec<{ at: number | null }>(`SELECT MIN(w.at) AS at FROM kv_writes w WHERE w.${NOT_LAST} AND EXISTS (SELECT 1 FROM publish_queue q WHERE q.key = w.key)`, ...LAST_KEYS).one().at;
      times.push(blockedUntil === null ? nowMs : blockedUntil + KEY_WRITE_INTERVAL_MS);
    } else if (nextLast !== undefined && !this.anyRemovals()) {
      const written = this.lastWriteOf(nextLast);
      times.push(written === null ? nowMs : written + KEY_WRITE_INTERVAL_MS);
    }
    const retryAt = readCounter(this.sql, 'publish_retry_at');
    if (times.length > 0 && retryAt > 0) times[0] = Math.max(times[0]!, retryAt);
    // The earliest deletion due, once its key may be written again: the oldest retired key not written within the second (by the
    // retired_at index), or one of the few that were, when it may be written again.
    const oldestFree = this.sql.exec<{ at: number }>('SELECT retired_at AS at FROM retired_keys r WHERE NOT EXISTS (SELECT 1 FROM kv_writes w WHERE w.key = r.key) ORDER BY retired_at LIMIT 1').toArray()[0]?.at;
    const blocked = this.sql.exec<{ at: number | null }>('SELECT MIN(MAX(r.retired_at + ?, w.at + ?)) AS at FROM kv_writes w JOIN retired_keys r ON r.key = w.key', RETIRED_GRACE_MS, KEY_WRITE_INTERVAL_MS).one().at;
    const deleteAt = [oldestFree === undefined ? null : oldestFree + RETIRED_GRACE_MS, blocked].filter((at): at is number => at !== null);
    if (deleteAt.length > 0) times.push(Math.max(Math.min(...deleteAt), retryAt, nowMs));
    return times.length > 0 ? Math.min(...times) : null;
  }

  /** The publishing state and counters. */
  status(publishedRevisionWanted: number): PublishStatus {
    const pendingRecords = readCounter(this.sql, QUEUED_COUNTERS.records);
    const pendingChunks = readCounter(this.sql, QUEUED_COUNTERS.chunks);
    const pendingOther = readCounter(this.sql, QUEUED_COUNTERS.other);
    const publishedRevision = this.publishedRevision();
    const retryAt = readCounter(this.sql, 'publish_retry_at');
    const next = this.nextRunAt(Date.now());
    return {
      published_revision: publishedRevision,
      up_to_date: pendingRecords + pendingChunks + pendingOther === 0 && publishedRevision === publishedRevisionWanted,
      pending_records: pendingRecords,
      pending_chunks: pendingChunks,
      pending_other: pendingOther,
      retired_keys: readCounter(this.sql, RETIRED_COUNTER),
      kv_puts: readCounter(this.sql, 'kv_puts'),
      kv_deletes: readCounter(this.sql, 'kv_deletes'),
      kv_failures: readCounter(this.sql, 'kv_failures'),
      consecutive_failures: readCounter(this.sql, 'publish_consecutive_failures'),
      last_published_at: readMeta(this.sql, 'last_published_at'),
      next_attempt_at: retryAt > 0 ? new Date(retryAt).toISOString() : next === null ? null : new Date(next).toISOString(),
    };
  }

  /** Puts the oldest queued keys (not LAST_KEYS) not written within the last second; returns how many failed. */
  private async putAllowed(): Promise<number> {
    const rows = this.sql.exec<{ key: string; value: string | null }>(
      `SELECT key, value FROM publish_queue q WHERE ${NOT_LAST} AND NOT EXISTS (SELECT 1 FROM kv_writes w WHERE w.key = q.key) ORDER BY seq LIMIT ?`,
      ...LAST_KEYS,
      PUT_SLICE,
    ).toArray();
    const items: { key: string; value: string }[] = [];
    for (const row of rows) {
      const value = row.value ?? this.resolve(row.key);
      if (value === null) this.dequeue(row.key);
      else items.push({ key: row.key, value });
    }
    return this.putEach(items);
  }

  /**
   * Puts LAST_KEYS in order, each once nothing before it is queued and when
   * it was not written within the last second; stops at the first that must
   * wait. Returns 1 when a put failed.
   */
  private async putLastKeysWhenComplete(nowMs: number): Promise<number> {
    for (const key of LAST_KEYS) {
      if (!this.isQueued(key)) continue;
      if (this.lastWriteOf(key) !== null || this.waitsBefore(key)) return 0;
      const value = this.resolve(key);
      if (value === null) {
        this.dequeue(key);
        continue;
      }
      if ((await this.putEach([{ key, value }])) > 0) return 1;
      if (key === MANIFEST_KEY) {
        writeMeta(this.sql, 'published_revision', String((JSON.parse(value) as { revision: number }).revision));
        writeMeta(this.sql, 'last_published_at', new Date(nowMs).toISOString());
      }
    }
    return 0;
  }

  /** Whether any key but LAST_KEYS is queued (the first row that is not one of them answers). */
  private anyQueued(): boolean {
    return this.sql.exec(`SELECT 1 FROM publish_queue WHERE ${NOT_LAST} LIMIT 1`, ...LAST_KEYS).toArray().length > 0;
  }

  /** Whether something must be put (or a removed key deleted) before `key` of LAST_KEYS. */
  private waitsBefore(key: (typeof LAST_KEYS)[number]): boolean {
    return this.anyQueued() || LAST_KEYS.slice(0, LAST_KEYS.indexOf(key)).some((earlier) => this.isQueued(earlier)) || this.anyRemovals();
  }

  /** Whether a key removed outright still waits to be deleted. */
  private anyRemovals(): boolean {
    return this.sql.exec('SELECT 1 FROM retired_keys WHERE retired_at = ? LIMIT 1', REMOVED_AT).toArray().length > 0;
  }

  /** Puts `items`, dequeuing each one that succeeded; returns how many failed. */
  private async putEach(items: readonly { key: string; value: string }[]): Promise<number> {
    const outcomes = await settleLimited(items, ({ key, value }) => this.kv.put(key, value));
    // Stamped after the puts finished, so the next write of a key is at least a second after this one.
    const writtenAt = Date.now();
    let failures = 0;
    outcomes.forEach((outcome, index) => {
      const { key } = items[index]!;
      // A failed attempt counts as a write too: a 429 means the key was written too recently.
      this.sql.exec('INSERT INTO kv_writes (key, at) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET at = excluded.at', key, writtenAt);
      if (outcome.status === 'fulfilled') {
        this.dequeue(key);
        return;
      }
      failures++;
      console.warn('KV put failed; the key stays queued:', key, outcome.reason instanceof Error ? outcome.reason.message : String(outcome.reason));
    });
    addToCounter(this.sql, 'kv_puts', items.length - failures);
    addToCounter(this.sql, 'kv_failures', failures);
    return failures;
  }

  /** Deletes the retired keys that match `condition` (on `retired_at`, with its one argument) and were not written within the last second; returns how many failed. */
  private async deleteDue(condition: string, argument: number): Promise<number> {
    const keys = this.sql
      .exec<{ key: string }>(
        `SELECT key FROM retired_keys r WHERE ${condition} AND NOT EXISTS (SELECT 1 FROM kv_writes w WHERE w.key = r.key) ORDER BY retired_at LIMIT ?`,
        argument,
        DELETE_SLICE,
      )
      .toArray()
      .map((row) => row.key);
    const outcomes = await settleLimited(keys, (key) => this.kv.delete(key));
    const deletedAt = Date.now();
    let failures = 0;
    outcomes.forEach((outcome, index) => {
      // A delete is a write: the key is not written again within the second.
      this.sql.exec('INSERT INTO kv_writes (key, at) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET at = excluded.at', keys[index]!, deletedAt);
      if (outcome.status === 'rejected') failures++;
      else this.unmarkRetired(keys[index]!);
    });
    addToCounter(this.sql, 'kv_deletes', keys.length - failures);
    addToCounter(this.sql, 'kv_failures', failures);
    return failures;
  }

  /** Whether `key` waits to be published. */
  isQueued(key: string): boolean {
    return this.sql.exec('SELECT 1 FROM publish_queue WHERE key = ?', key).toArray().length > 0;
  }

  private lastWriteOf(key: string): number | null {
    return this.sql.exec<{ at: number }>('SELECT at FROM kv_writes WHERE key = ?', key).toArray()[0]?.at ?? null;
  }
}
