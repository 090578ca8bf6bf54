/**
 * Webhook subscriptions in the Coordinator's SQLite: the subscriptions with
 * their secrets (and the one a rotation replaced, while its grace lasts),
 * the digest of their scoped token, endpoint health, the delivery log and
 * dead letters.
 * Every method is synchronous SQL, so each one is atomic in the Durable Object.
 */
import { initialHealth, recordOutcome, type AttemptVerdict, type EndpointHealth } from '../domain/delivery-policy.ts';
import type { DeadLetter, DeliveryMessage } from '../domain/delivery-messages.ts';
import type { SubscribableEventType, SubscriptionInput, SubscriptionScope } from '../domain/subscription.ts';
import { generateScopedToken, previousSecretLasts, rotated, scopedTokenDigest, signingSecrets } from '../domain/subscriber-credentials.ts';
import { generateSecret } from '../domain/webhook-signing.ts';
import { addMissingColumns } from './meta-table.ts';

/** Delivery log entries kept per subscription; older ones are pruned. */
export const DELIVERY_LOG_KEEP = 500;
/**
 * The log of a subscription is pruned after every this many entries, not
 * after each: finding the 500th newest entry walks 500 index entries, so
 * pruning every time made recording a delivery cost as much as the rest of
 * its bookkeeping. A log holds at most DELIVERY_LOG_KEEP + LOG_PRUNE_EVERY - 1
 * entries.
 */
export const LOG_PRUNE_EVERY = 100;

/** The tables this module keeps. */
export const SUBSCRIPTIONS_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS subscriptions (
     id TEXT PRIMARY KEY, url TEXT NOT NULL, filters TEXT NOT NULL, event_types TEXT NOT NULL, description TEXT,
     secret TEXT NOT NULL, status TEXT NOT NULL, health TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS deliveries (
     seq INTEGER PRIMARY KEY AUTOINCREMENT, subscription_id TEXT NOT NULL, msg_id TEXT NOT NULL, type TEXT NOT NULL, record_id TEXT,
     attempt INTEGER NOT NULL, at TEXT NOT NULL, status INTEGER, latency_ms INTEGER, outcome TEXT NOT NULL, error TEXT)`,
  'CREATE INDEX IF NOT EXISTS deliveries_by_subscription ON deliveries (subscription_id, seq)',
  'CREATE TABLE IF NOT EXISTS dead_letters (msg_id TEXT PRIMARY KEY, subscription_id TEXT NOT NULL, body TEXT NOT NULL, reason TEXT NOT NULL, attempts INTEGER NOT NULL, at TEXT NOT NULL)',
];

/** Columns added after the table was first made. */
const SUBSCRIPTION_ADDED_COLUMNS = {
  previous_secret: 'TEXT',
  previous_secret_expires_at: 'TEXT',
  token_digest: 'TEXT',
  // Entries written to the subscription's delivery log, to prune it every LOG_PRUNE_EVERY.
  logged: 'INTEGER NOT NULL DEFAULT 0',
};

/** A subscription as the API shows it: never with its secrets or token. */
export interface Subscription extends SubscriptionScope {
  id: string;
  url: string;
  description: string | null;
  status: 'active' | 'disabled';
  health: EndpointHealth;
  /** Until when deliveries are also signed with the secret the last rotation replaced; null when they are not. */
  previous_secret_expires_at: string | null;
  created_at: string;
  updated_at: string;
}

/** A subscription's credentials, returned once when they are made: the signing secret and the scoped token. */
export interface SubscriptionCredentials {
  subscription: Subscription;
  secret: string;
  token: string;
}

/** What the delivery consumer needs to send to a subscription: every secret that signs (the current one first). */
export interface DeliveryTarget {
  url: string;
  secrets: string[];
  status: Subscription['status'];
}

/** One delivery attempt (or a skip) in a subscription's log. */
export interface DeliveryAttempt {
  subscription_id: string;
  msg_id: string;
  type: string;
  record_id: string | null;
  attempt: number;
  at: string;
  status: number | null;
  latency_ms: number | null;
  outcome: 'delivered' | 'retrying' | 'failed' | 'skipped' | 'dead_lettered' | 'redelivered';
  error: string | null;
  /** The record revision of a record alert; absent for pings. */
  revision?: number | null;
  /** The replay that sent the message again (`rpl_…`); null or absent for an alert's first sending. */
  replay_id?: string | null;
}

/** A dead letter as the API lists it. */
export interface DeadLetterSummary {
  msg_id: string;
  type: string;
  record_id: string | null;
  reason: string;
  attempts: number;
  at: string;
}

type SubscriptionRow = {
  id: string;
  url: string;
  filters: string;
  event_types: string;
  description: string | null;
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: string | null;
  token_digest: string | null;
  status: string;
  health: string;
  created_at: string;
  updated_at: string;
};

const toSubscription = (row: SubscriptionRow, now = new Date()): Subscription => ({
  id: row.id,
  url: row.url,
  filters: JSON.parse(row.filters) as Subscription['filters'],
  event_types: JSON.parse(row.event_types) as SubscribableEventType[],
  description: row.description,
  status: row.status === 'active' ? 'active' : 'disabled',
  health: JSON.parse(row.health) as EndpointHealth,
  previous_secret_expires_at: previousSecretLasts(row, now) ? row.previous_secret_expires_at : null,
  created_at: row.created_at,
  updated_at: row.updated_at,
});

/** Subscriptions, their delivery log and their dead letters. */
export class SubscriptionsTable {
  constructor(private readonly sql: SqlStorage) {
    addMissingColumns(sql, 'deliveries', { revision: 'INTEGER', replay_id: 'TEXT' });
    addMissingColumns(sql, 'subscriptions', SUBSCRIPTION_ADDED_COLUMNS);
  }

  /** Creates a subscription; its secret and scoped token are returned here once and never shown again. */
  async create(input: SubscriptionInput, now: string): Promise<SubscriptionCredentials> {
    const id = `sub_${crypto.randomUUID().replace(/-/g, '')}`;
    const secret = generateSecret();
    const token = generateScopedToken();
    const tokenDigest = await scopedTokenDigest(token);
    this.sql.exec(
      'INSERT INTO subscriptions (id, url, filters, event_types, description, secret, token_digest, status, health, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      id, input.url, JSON.stringify(input.filters), JSON.stringify(input.event_types), input.description ?? null, secret, tokenDigest, 'active', JSON.stringify(initialHealth()), now, now,
    );
    return { subscription: this.get(id)!, secret, token };
  }

  /**
   * Gives a subscription a new signing secret, returned here once; the old
   * one keeps signing deliveries (beside the new) for `graceSeconds`. Null
   * when there is no such subscription.
   */
  rotateSecret(id: string, graceSeconds: number, now: Date): { subscription: Subscription; secret: string } | null {
    const row = this.row(id);
    if (!row) return null;
    const next = rotated(row, generateSecret(), graceSeconds, now);
    this.sql.exec(
      'UPDATE subscriptions SET secret = ?, previous_secret = ?, previous_secret_expires_at = ?, updated_at = ? WHERE id = ?',
      next.secret, next.previous_secret, next.previous_secret_expires_at, now.toISOString(), id,
    );
    return { subscription: this.get(id)!, secret: next.secret };
  }

  /** Gives a subscription a new scoped token, returned here once (the old one stops working); null when there is no such subscription. */
  async rotateToken(id: string, now: string): Promise<string | null> {
    if (!this.row(id)) return null;
    const token = generateScopedToken();
    this.sql.exec('UPDATE subscriptions SET token_digest = ?, updated_at = ? WHERE id = ?', await scopedTokenDigest(token), now, id);
    return token;
  }

  /** Whether `digest` is that of the subscription's scoped token (false when there is no such subscription or it has none). */
  tokenMatches(id: string, digest: string): boolean {
    const stored = this.row(id)?.token_digest;
    return typeof stored === 'string' && stored.length === digest.length && timingSafeEqualText(stored, digest);
  }

  /** A subscription's stored row, or null. */
  private row(id: string): SubscriptionRow | null {
    return this.sql.exec<SubscriptionRow>('SELECT * FROM subscriptions WHERE id = ?', id).toArray()[0] ?? null;
  }

  /** Every subscription, oldest first. */
  list(): Subscription[] {
    return this.sql.exec<SubscriptionRow>('SELECT * FROM subscriptions ORDER BY created_at, id').toArray().map((row) => toSubscription(row));
  }

  /** Whether any subscription exists, active or not. */
  any(): boolean {
    return this.sql.exec('SELECT 1 FROM subscriptions LIMIT 1').toArray().length > 0;
  }

  /** Up to `limit` subscriptions, active or not, in id order after `afterId` ('' for the first page). */
  page(afterId: string, limit: number): Subscription[] {
    return this.sql.exec<SubscriptionRow>('SELECT * FROM subscriptions WHERE id > ? ORDER BY id LIMIT ?', afterId, limit).toArray().map((row) => toSubscription(row));
  }

  /** One subscription, or null. */
  get(id: string): Subscription | null {
    const row = this.row(id);
    return row ? toSubscription(row) : null;
  }

  /** Deletes a subscription with its log and dead letters; false when there was none. */
  delete(id: string): boolean {
    const deleted = this.sql.exec('DELETE FROM subscriptions WHERE id = ?', id).rowsWritten > 0;
    this.sql.exec('DELETE FROM deliveries WHERE subscription_id = ?', id);
    this.sql.exec('DELETE FROM dead_letters WHERE subscription_id = ?', id);
    return deleted;
  }

  /** Re-enables a disabled subscription with a clean health record; null when there is none. */
  enable(id: string, now: string): Subscription | null {
    this.sql.exec("UPDATE subscriptions SET status = 'active', health = ?, updated_at = ? WHERE id = ?", JSON.stringify(initialHealth()), now, id);
    return this.get(id);
  }

  /** URL, signing secrets at `now` and status for the delivery consumer; null when the subscription is gone. */
  deliveryTarget(id: string, now: Date): DeliveryTarget | null {
    const row = this.sql.exec<Pick<SubscriptionRow, 'url' | 'status' | 'secret' | 'previous_secret' | 'previous_secret_expires_at'>>('SELECT url, secret, previous_secret, previous_secret_expires_at, status FROM subscriptions WHERE id = ?', id).toArray()[0];
    return row ? { url: row.url, secrets: signingSecrets(row, now), status: row.status === 'active' ? 'active' : 'disabled' } : null;
  }

  /**
   * Logs a delivery attempt and, when `verdict` is given, updates the
   * endpoint's health, disabling it under the delivery policy's rule.
   * Returns whether the subscription is now disabled.
   */
  recordDelivery(entry: DeliveryAttempt, verdict: AttemptVerdict | null): { disabled: boolean } {
    const row = this.sql.exec<Pick<SubscriptionRow, 'health' | 'status'> & { logged: number }>('UPDATE subscriptions SET logged = logged + 1 WHERE id = ? RETURNING health, status, logged', entry.subscription_id).toArray()[0];
    if (!row) return { disabled: true };
    this.sql.exec(
      'INSERT INTO deliveries (subscription_id, msg_id, type, record_id, revision, replay_id, attempt, at, status, latency_ms, outcome, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      entry.subscription_id, entry.msg_id, entry.type, entry.record_id, entry.revision ?? null, entry.replay_id ?? null, entry.attempt, entry.at, entry.status, entry.latency_ms, entry.outcome, entry.error,
    );
    if (row.logged % LOG_PRUNE_EVERY === 0) {
      this.sql.exec(
        'DELETE FROM deliveries WHERE subscription_id = ? AND seq <= (SELECT seq FROM deliveries WHERE subscription_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)',
        entry.subscription_id, entry.subscription_id, DELIVERY_LOG_KEEP,
      );
    }
    if (!verdict) return { disabled: row.status !== 'active' };
    const health = recordOutcome(JSON.parse(row.health) as EndpointHealth, verdict, new Date(entry.at));
    const status = health.disabled ? 'disabled' : 'active';
    this.sql.exec('UPDATE subscriptions SET health = ?, status = ?, updated_at = ? WHERE id = ?', JSON.stringify(health), status, entry.at, entry.subscription_id);
    if (status === 'disabled' && row.status === 'active') console.warn('subscription disabled', entry.subscription_id, health.disabled?.reason);
    return { disabled: status === 'disabled' };
  }

  /** A subscription's delivery log, newest first; null when there is no such subscription. */
  deliveries(id: string, limit: number): DeliveryAttempt[] | null {
    if (!this.get(id)) return null;
    return this.sql.exec<DeliveryAttempt & Record<string, SqlStorageValue>>(
      'SELECT subscription_id, msg_id, type, record_id, revision, replay_id, attempt, at, status, latency_ms, outcome, error FROM deliveries WHERE subscription_id = ? ORDER BY seq DESC LIMIT ?',
      id, limit,
    ).toArray();
  }

  /** Keeps a dead letter for inspection and redelivery, and logs it. */
  storeDeadLetter(letter: DeadLetter, now: string): void {
    const { reason, attempts, prior_attempts: _prior, ...message } = letter;
    if (!this.get(message.subscription_id)) return;
    this.sql.exec('INSERT OR REPLACE INTO dead_letters (msg_id, subscription_id, body, reason, attempts, at) VALUES (?, ?, ?, ?, ?, ?)', message.msg_id, message.subscription_id, JSON.stringify(message), reason, attempts, now);
    this.recordDelivery({ subscription_id: message.subscription_id, msg_id: message.msg_id, type: message.type, record_id: message.record_id, revision: message.revision ?? null, replay_id: message.replay_id ?? null, attempt: attempts, at: now, status: null, latency_ms: null, outcome: 'dead_lettered', error: reason }, null);
  }

  /**
   * Holds an alert made while its subscription is disabled: kept with the
   * dead letters under `reason` and logged as `skipped` with its record and
   * revision, so enabling with replay can send it.
   */
  hold(message: DeliveryMessage, reason: string, now: string): void {
    const { prior_attempts: _prior, ...kept } = message;
    this.sql.exec('INSERT OR IGNORE INTO dead_letters (msg_id, subscription_id, body, reason, attempts, at) VALUES (?, ?, ?, ?, 0, ?)', kept.msg_id, kept.subscription_id, JSON.stringify(kept), reason, now);
    this.recordDelivery({ subscription_id: kept.subscription_id, msg_id: kept.msg_id, type: kept.type, record_id: kept.record_id, revision: kept.revision ?? null, replay_id: kept.replay_id ?? null, attempt: 0, at: now, status: null, latency_ms: null, outcome: 'skipped', error: reason }, null);
  }

  /** The dead letters of a subscription, oldest first; null when there is no such subscription. */
  deadLetters(id: string): DeadLetterSummary[] | null {
    if (!this.get(id)) return null;
    return this.sql.exec<{ body: string; reason: string; attempts: number; at: string }>('SELECT body, reason, attempts, at FROM dead_letters WHERE subscription_id = ? ORDER BY at, msg_id', id).toArray().map((row) => {
      const message = JSON.parse(row.body) as DeliveryMessage;
      return { msg_id: message.msg_id, type: message.type, record_id: message.record_id, reason: row.reason, attempts: row.attempts, at: row.at };
    });
  }

  /** Removes and returns a subscription's dead letters (all, or those kept for `reason`), for redelivery in the caller's transaction. */
  takeDeadLetters(id: string, reason?: string): DeliveryMessage[] {
    const where = reason === undefined ? 'subscription_id = ?' : 'subscription_id = ? AND reason = ?';
    const args = reason === undefined ? [id] : [id, reason];
    const letters = this.sql.exec<{ body: string }>(`SELECT body FROM dead_letters WHERE ${where} ORDER BY at, msg_id`, ...args).toArray();
    this.sql.exec(`DELETE FROM dead_letters WHERE ${where}`, ...args);
    // Redelivery starts a fresh retry budget.
    return letters.map((letter) => {
      const { prior_attempts: _prior, ...message } = JSON.parse(letter.body) as DeliveryMessage;
      return message;
    });
  }
}

/** Compares two strings of equal length in time independent of where they differ. */
function timingSafeEqualText(a: string, b: string): boolean {
  const encoder = new TextEncoder();
  return crypto.subtle.timingSafeEqual(encoder.encode(a), encoder.encode(b));
}
