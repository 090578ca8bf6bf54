/**
 * The change log, in the Coordinator's SQLite: one row per create, update
 * and retraction, numbered in commit order (`seq`) and written in the same
 * storage transaction as the change itself, with the record version (or the
 * tombstone) it produced. Every change is kept: the log is the history the
 * change feed serves, so storage grows with the number of changes (not
 * reads), like the record versions would.
 *
 * The log is published to KV in pages of CHANGES_PAGE_SIZE changes
 * (domain/change-feed.ts): a change queues its page for publishing, the
 * publisher puts the page's newest content (coalesced, at most once a
 * second per key), and a page once full is put one last time and never
 * changes. The head key, which names the epoch readers page in and the
 * last page, is put when a page is started.
 */
import {
  CHANGES_HEAD_KEY,
  CHANGES_PAGE_PREFIX,
  CHANGES_PAGE_SIZE,
  changeEntry,
  changesPageKey,
  pageOfSeq,
  type ChangeKind,
  type ChangesHead,
  type PublishedChange,
} from '../domain/change-feed.ts';
import { readMeta, writeMeta } from './meta-table.ts';
import type { Publisher } from './publisher.ts';

/** The table this module keeps. */
export const CHANGE_LOG_SCHEMA = [
  'CREATE TABLE IF NOT EXISTS changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, record_id TEXT NOT NULL, revision INTEGER NOT NULL, kind TEXT NOT NULL, at TEXT NOT NULL, body TEXT NOT NULL)',
  // For replays (store/replay.ts): a window of commit times, and a record's change before another.
  'CREATE INDEX IF NOT EXISTS changes_by_time ON changes (at)',
  'CREATE INDEX IF NOT EXISTS changes_by_record ON changes (record_id, seq)',
];

/** A change as the log stores it. */
export interface StoredChange {
  seq: number;
  record_id: string;
  revision: number;
  kind: ChangeKind;
  at: string;
  /** The record version's text, or the tombstone's. */
  body: string;
}

/** One change to log. */
export interface LoggedChange {
  kind: ChangeKind;
  recordId: string;
  revision: number;
  at: string;
  /** The record version's text, or the tombstone's. */
  body: string;
}

/** The change log of the dataset. */
export class ChangeLog {
  constructor(
    private readonly sql: SqlStorage,
    private readonly epoch: () => string,
  ) {}

  /**
   * Logs the records that exist when the log is first made (storage from
   * before the change feed), each as its current version, oldest change
   * first, and queues their pages: the feed then starts with every live
   * record. Call inside a transaction; does nothing once the log has rows.
   */
  backfill(publisher: Publisher): void {
    if (this.lastSeq() > 0) return;
    this.sql.exec(
      `INSERT INTO changes (record_id, revision, kind, at, body)
       SELECT id, revision, CASE WHEN revision = 1 THEN 'created' ELSE 'updated' END, json_extract(body, '$.updated_at'), body
       FROM records ORDER BY json_extract(body, '$.updated_at'), id`,
    );
    const last = this.lastSeq();
    for (let page = 0; last > 0 && page <= pageOfSeq(last); page++) publisher.enqueue(changesPageKey(this.epoch(), page));
    if (last > 0) this.queueHead(publisher);
  }

  /** Appends changes in order and queues the pages they land on. Call inside the write's transaction. */
  append(changes: readonly LoggedChange[], publisher: Publisher): void {
    if (changes.length === 0) return;
    const pages = new Set<number>();
    for (const change of changes) {
      const { seq } = this.sql
        .exec<{ seq: number }>('INSERT INTO changes (record_id, revision, kind, at, body) VALUES (?, ?, ?, ?, ?) RETURNING seq', change.recordId, change.revision, change.kind, change.at, change.body)
        .one();
      pages.add(pageOfSeq(seq));
    }
    for (const page of pages) publisher.enqueue(changesPageKey(this.epoch(), page));
    this.queueHead(publisher);
  }

  /**
   * The time to stamp a change committed at `now`: never before the last
   * change, so change times only go up along the log (clocks and
   * concurrent requests can disagree by a little) and a reader going back
   * through the log may stop at the first change older than what it wants.
   */
  commitTime(now: string): string {
    const last = this.sql.exec<{ at: string | null }>('SELECT at FROM changes WHERE seq = (SELECT MAX(seq) FROM changes)').toArray()[0]?.at ?? null;
    return last !== null && last > now ? last : now;
  }

  /** The number of the last change; 0 when there is none. */
  lastSeq(): number {
    return this.sql.exec<{ seq: number | null }>('SELECT MAX(seq) AS seq FROM changes').one().seq ?? 0;
  }

  /**
   * The changes committed in [`since`, `until`) (ISO 8601 UTC) as the range
   * of their numbers, and how many of them are of `kinds`; null when there
   * is none. Change times only go up along the log, so the window is one
   * range of numbers.
   */
  window(since: string, until: string, kinds: readonly ChangeKind[]): { first: number; last: number; count: number } | null {
    const first = this.sql.exec<{ seq: number }>('SELECT seq FROM changes WHERE at >= ? ORDER BY at, seq LIMIT 1', since).toArray()[0]?.seq;
    const last = this.sql.exec<{ seq: number }>('SELECT seq FROM changes WHERE at < ? ORDER BY at DESC, seq DESC LIMIT 1', until).toArray()[0]?.seq;
    if (first === undefined || last === undefined || last < first) return null;
    const count = this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM changes WHERE seq BETWEEN ? AND ? AND kind IN (${kinds.map(() => '?').join(', ')})`, first, last, ...kinds).one().n;
    return { first, last, count };
  }

  /** Up to `limit` changes numbered after `afterSeq` and up to `lastSeq`, in commit order. */
  range(afterSeq: number, lastSeq: number, limit: number): StoredChange[] {
    return this.sql.exec<StoredChange & Record<string, SqlStorageValue>>('SELECT seq, record_id, revision, kind, at, body FROM changes WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?', afterSeq, lastSeq, limit).toArray();
  }

  /** The change of record `recordId` logged just before change `seq`; null when there is none. */
  before(recordId: string, seq: number): StoredChange | null {
    return this.sql.exec<StoredChange & Record<string, SqlStorageValue>>('SELECT seq, record_id, revision, kind, at, body FROM changes WHERE record_id = ? AND seq < ? ORDER BY seq DESC LIMIT 1', recordId, seq).toArray()[0] ?? null;
  }

  /** The value to publish under a change-log key (a page of this epoch, or the head); null for any other key. */
  publishedValue(key: string): string | null {
    if (key === CHANGES_HEAD_KEY) return JSON.stringify({ epoch: this.epoch(), last_page: pageOfSeq(Math.max(this.lastSeq(), 1)) } satisfies ChangesHead);
    const prefix = `${CHANGES_PAGE_PREFIX}${this.epoch()}:`;
    if (!key.startsWith(prefix)) return null;
    const page = Number(key.slice(prefix.length));
    if (!Number.isSafeInteger(page) || page < 0) return null;
    const rows = this.sql
      .exec<{ seq: number; record_id: string; revision: number; kind: ChangeKind; at: string; body: string }>(
        'SELECT seq, record_id, revision, kind, at, body FROM changes WHERE seq > ? AND seq <= ? ORDER BY seq',
        page * CHANGES_PAGE_SIZE,
        (page + 1) * CHANGES_PAGE_SIZE,
      )
      .toArray();
    return rows.length === 0 ? null : JSON.stringify(rows.map((row): PublishedChange => ({ seq: row.seq, ...changeEntry(row) })));
  }

  /** Queues the head when what it says changes: a new epoch or a new last page (once per CHANGES_PAGE_SIZE changes). */
  private queueHead(publisher: Publisher): void {
    const says = `${this.epoch()}:${pageOfSeq(Math.max(this.lastSeq(), 1))}`;
    if (readMeta(this.sql, 'changes_head') === says) return;
    writeMeta(this.sql, 'changes_head', says);
    publisher.enqueue(CHANGES_HEAD_KEY);
  }
}
