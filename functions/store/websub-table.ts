/**
 * The WebSub hub's state in the Coordinator's SQLite: verified subscriptions
 * with their leases, the fixed-window count of subscribe requests per client
 * IP, and the content distribution of committed writes.
 *
 * A write that changes records records, in its own transaction, one fan-out
 * row for the dataset revision it made and one change row per record (new
 * and previous version). The alarm expands the oldest row through the
 * subscriptions in slices bounded by (subscriptions × changes) tests: each
 * subscription whose topic filters match a new or previous version gets ONE
 * outbox message for the write, a reference (subscription, topic, revision);
 * the consumer renders the feed when it sends it. Message ids are derived from
 * (subscription, revision), so a crash mid-expansion repeats nothing.
 */
import type { WebSubMessage } from '../domain/delivery-messages.ts';
import { toIndexEntry, type IndexEntry } from '../domain/layout.ts';
import { matchesFilter, type EventFilter } from '../domain/query.ts';
import type { Event } from '../domain/schema.ts';
import { WEBSUB_LIMITS, WEBSUB_NOTIFICATION, webSubMessageId } from '../domain/websub.ts';
import type { AlertOutbox } from './alert-outbox.ts';
import type { DeliveryAttempt } from './subscriptions-table.ts';

/** The tables this module keeps (the delivery log is the webhooks' `deliveries` table). */
export const WEBSUB_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS websub_subscriptions (
     id TEXT PRIMARY KEY, callback TEXT NOT NULL, callback_host TEXT NOT NULL, topic TEXT NOT NULL, filters TEXT NOT NULL,
     secret TEXT, lease_seconds INTEGER NOT NULL, expires_at TEXT NOT NULL, created_at TEXT NOT NULL, verified_at TEXT NOT NULL)`,
  'CREATE INDEX IF NOT EXISTS websub_by_host ON websub_subscriptions (callback_host)',
  'CREATE INDEX IF NOT EXISTS websub_by_expiry ON websub_subscriptions (expires_at)',
  'CREATE TABLE IF NOT EXISTS websub_requests (ip TEXT PRIMARY KEY, window_start INTEGER NOT NULL, count INTEGER NOT NULL)',
  `CREATE TABLE IF NOT EXISTS websub_fanout (
     seq INTEGER PRIMARY KEY AUTOINCREMENT, revision INTEGER NOT NULL, committed_at TEXT NOT NULL, after_subscription TEXT NOT NULL DEFAULT '')`,
  'CREATE TABLE IF NOT EXISTS websub_fanout_changes (fanout_seq INTEGER NOT NULL, n INTEGER NOT NULL, record TEXT NOT NULL, previous TEXT, PRIMARY KEY (fanout_seq, n))',
];

/** Subscription × change tests one expansion slice may make. */
export const WEBSUB_FANOUT_BUDGET = 20_000;

/** A verified subscription as the hub keeps it. */
export interface WebSubSubscription {
  id: string;
  callback: string;
  topic: string;
  filters: EventFilter;
  /** Whether distributions are signed (`X-Hub-Signature`); the secret itself is never shown. */
  signed: boolean;
  lease_seconds: number;
  expires_at: string;
  created_at: string;
  verified_at: string;
}

/** What the consumer needs to distribute to a subscription. */
export interface WebSubTarget {
  callback: string;
  topic: string;
  secret: string | null;
}

/** Why a subscription cannot be added now, or null when it can. */
export type CapProblem = { field: 'hub.callback'; message: string } | null;

/** A subscription to make active after its intent was verified. */
export interface VerifiedSubscription {
  id: string;
  callback: string;
  topic: string;
  filters: EventFilter;
  secret: string | null;
  lease_seconds: number;
}

type SubscriptionRow = {
  id: string; callback: string; callback_host: string; topic: string; filters: string; secret: string | null;
  lease_seconds: number; expires_at: string; created_at: string; verified_at: string;
};

const toSubscription = (row: SubscriptionRow): WebSubSubscription => ({
  id: row.id, callback: row.callback, topic: row.topic, filters: JSON.parse(row.filters) as EventFilter, signed: row.secret !== null,
  lease_seconds: row.lease_seconds, expires_at: row.expires_at, created_at: row.created_at, verified_at: row.verified_at,
});

/** The WebSub hub's tables. */
export class WebSubTable {
  constructor(
    private readonly sql: SqlStorage,
    private readonly outbox: AlertOutbox,
  ) {}

  /**
   * Counts a subscribe or unsubscribe request from `ip` in the current fixed
   * window; returns the seconds until the window ends when it is over the
   * limit (the request is refused), else null.
   */
  countRequest(ip: string, nowMs: number): number | null {
    const windowMs = WEBSUB_LIMITS.windowSeconds * 1_000;
    const windowStart = nowMs - (nowMs % windowMs);
    this.sql.exec('DELETE FROM websub_requests WHERE window_start < ?', windowStart);
    const row = this.sql.exec<{ count: number }>('SELECT count FROM websub_requests WHERE ip = ?', ip).toArray()[0];
    if ((row?.count ?? 0) >= WEBSUB_LIMITS.requestsPerWindow) return Math.ceil((windowStart + windowMs - nowMs) / 1_000);
    this.sql.exec('INSERT INTO websub_requests (ip, window_start, count) VALUES (?, ?, 1) ON CONFLICT (ip) DO UPDATE SET count = count + 1', ip, windowStart);
    return null;
  }

  /** Whether one more subscription for `callback` would exceed the caps (a renewal of subscription `id` never does). */
  capProblem(id: string, callback: string): CapProblem {
    if (this.sql.exec('SELECT 1 FROM websub_subscriptions WHERE id = ?', id).toArray().length > 0) return null;
    const host = new URL(callback).host;
    const perHost = this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM websub_subscriptions WHERE callback_host = ?', host).one().n;
    if (perHost >= WEBSUB_LIMITS.perCallbackHost) return { field: 'hub.callback', message: `host ${host} already holds ${perHost} subscriptions, the most one callback host may hold` };
    const total = this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM websub_subscriptions').one().n;
    if (total >= WEBSUB_LIMITS.total) return { field: 'hub.callback', message: `the hub holds ${total} subscriptions, the most it takes` };
    return null;
  }

  /** Makes a verified subscription active (or renews its lease and secret); returns the cap it would exceed instead, if any. */
  activate(subscription: VerifiedSubscription, now: string): CapProblem {
    const problem = this.capProblem(subscription.id, subscription.callback);
    if (problem) return problem;
    const expiresAt = new Date(Date.parse(now) + subscription.lease_seconds * 1_000).toISOString();
    this.sql.exec(
      `INSERT INTO websub_subscriptions (id, callback, callback_host, topic, filters, secret, lease_seconds, expires_at, created_at, verified_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET secret = excluded.secret, lease_seconds = excluded.lease_seconds, expires_at = excluded.expires_at, verified_at = excluded.verified_at`,
      subscription.id, subscription.callback, new URL(subscription.callback).host, subscription.topic, JSON.stringify(subscription.filters),
      subscription.secret, subscription.lease_seconds, expiresAt, now, now,
    );
    return null;
  }

  /** Removes a subscription and drops its queued notifications; false when there was none. */
  remove(id: string): boolean {
    this.outbox.dropFor(id);
    return this.sql.exec('DELETE FROM websub_subscriptions WHERE id = ?', id).rowsWritten > 0;
  }

  /** Removes every subscription whose lease ended by `now`; their ids. */
  expire(now: string): string[] {
    const ids = this.sql.exec<{ id: string }>('SELECT id FROM websub_subscriptions WHERE expires_at <= ?', now).toArray().map((row) => row.id);
    for (const id of ids) this.remove(id);
    return ids;
  }

  /** When the next lease ends, or null. */
  nextExpiryAt(): number | null {
    const at = this.sql.exec<{ at: string | null }>('SELECT MIN(expires_at) AS at FROM websub_subscriptions').one().at;
    return at === null ? null : Date.parse(at);
  }

  /** Whether `id` is a verified subscription. */
  exists(id: string): boolean {
    return this.sql.exec('SELECT 1 FROM websub_subscriptions WHERE id = ?', id).toArray().length > 0;
  }

  /** Every verified subscription, oldest first. */
  list(): WebSubSubscription[] {
    return this.sql.exec<SubscriptionRow>('SELECT * FROM websub_subscriptions ORDER BY created_at, id').toArray().map(toSubscription);
  }

  /** The target of each subscription whose lease still runs at `now` (the others are absent). */
  targets(ids: readonly string[], now: string): Record<string, WebSubTarget> {
    const targets: Record<string, WebSubTarget> = {};
    for (const id of new Set(ids)) {
      const row = this.sql.exec<Pick<SubscriptionRow, 'callback' | 'topic' | 'secret'>>('SELECT callback, topic, secret FROM websub_subscriptions WHERE id = ? AND expires_at > ?', id, now).toArray()[0];
      if (row) targets[id] = { callback: row.callback, topic: row.topic, secret: row.secret };
    }
    return targets;
  }

  /** Logs a distribution attempt in the delivery log the webhooks use. */
  logDelivery(entry: DeliveryAttempt): void {
    this.sql.exec(
      'INSERT INTO deliveries (subscription_id, msg_id, type, record_id, revision, attempt, at, status, latency_ms, outcome, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      entry.subscription_id, entry.msg_id, entry.type, entry.record_id, entry.revision ?? null, entry.attempt, entry.at, entry.status, entry.latency_ms, entry.outcome, entry.error,
    );
  }

  /** A subscription's delivery log, newest first. */
  deliveries(id: string, limit: number): DeliveryAttempt[] {
    return this.sql.exec<DeliveryAttempt & Record<string, SqlStorageValue>>(
      'SELECT subscription_id, msg_id, type, record_id, revision, attempt, at, status, latency_ms, outcome, error FROM deliveries WHERE subscription_id = ? ORDER BY seq DESC LIMIT ?',
      id, limit,
    ).toArray();
  }

  /**
   * Records the changes of a write that made dataset `revision`, to be
   * distributed by `expand`; nothing when no one subscribes. Call inside the
   * write's transaction.
   */
  add(changes: readonly { record: Event; previous: Event | null }[], revision: number, committedAt: string): void {
    if (changes.length === 0 || this.sql.exec('SELECT 1 FROM websub_subscriptions LIMIT 1').toArray().length === 0) return;
    const seq = this.sql.exec<{ seq: number }>('INSERT INTO websub_fanout (revision, committed_at) VALUES (?, ?) RETURNING seq', revision, committedAt).one().seq;
    changes.forEach(({ record, previous }, n) => {
      this.sql.exec('INSERT INTO websub_fanout_changes (fanout_seq, n, record, previous) VALUES (?, ?, ?, ?)', seq, n, JSON.stringify(record), previous === null ? null : JSON.stringify(previous));
    });
  }

  /** Writes whose distributions are still being worked out. */
  pending(): number {
    return this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM websub_fanout').one().n;
  }

  /**
   * Expands the oldest writes into outbox messages, one per concerned
   * subscription per write, within WEBSUB_FANOUT_BUDGET tests of a
   * subscription against a change. Subscriptions verified after the write
   * was committed, or whose lease has ended, are not notified of it.
   */
  async expand(storage: DurableObjectStorage, now: string): Promise<void> {
    let budget = WEBSUB_FANOUT_BUDGET;
    while (budget > 0) {
      const row = this.sql.exec<{ seq: number; revision: number; committed_at: string; after_subscription: string }>('SELECT * FROM websub_fanout ORDER BY seq LIMIT 1').toArray()[0];
      if (!row) return;
      const entries: IndexEntry[] = this.sql
        .exec<{ record: string; previous: string | null }>('SELECT record, previous FROM websub_fanout_changes WHERE fanout_seq = ? ORDER BY n', row.seq)
        .toArray()
        .flatMap(({ record, previous }) => [record, ...(previous === null ? [] : [previous])].map((text) => toIndexEntry(JSON.parse(text) as Event)));
      const limit = Math.max(1, Math.floor(budget / Math.max(1, entries.length)));
      const subscriptions = this.sql.exec<SubscriptionRow>('SELECT * FROM websub_subscriptions WHERE id > ? ORDER BY id LIMIT ?', row.after_subscription, limit).toArray();
      budget -= Math.max(1, subscriptions.length * entries.length);
      const concerned = subscriptions.filter((subscription) => subscription.verified_at <= row.committed_at && subscription.expires_at > now && entries.some((entry) => matchesFilter(entry, JSON.parse(subscription.filters) as EventFilter)));
      const messages = await Promise.all(
        concerned.map(async (subscription): Promise<WebSubMessage> => ({
          msg_id: await webSubMessageId(subscription.id, row.revision),
          subscription_id: subscription.id,
          type: WEBSUB_NOTIFICATION,
          record_id: null,
          revision: row.revision,
          topic: subscription.topic,
          payload: '',
        })),
      );
      storage.transactionSync(() => {
        this.outbox.add(messages, now);
        if (subscriptions.length < limit) {
          this.sql.exec('DELETE FROM websub_fanout_changes WHERE fanout_seq = ?', row.seq);
          this.sql.exec('DELETE FROM websub_fanout WHERE seq = ?', row.seq);
        } else this.sql.exec('UPDATE websub_fanout SET after_subscription = ? WHERE seq = ?', subscriptions.at(-1)!.id, row.seq);
      });
    }
  }
}

/** A distribution outcome the consumer reports: the log entry and, for a `retrying` one, when it tries again. */
export interface WebSubReport {
  entry: DeliveryAttempt;
  next_attempt_at: string | null;
}
