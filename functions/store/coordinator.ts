/**
 * The Coordinator Durable Object: the single writer of events, and the home
 * of subscriptions, the alert ledger, the delivery outbox and the delivery
 * log (its SQLite storage).
 *
 * Every write goes through `ingest` one at a time, so concurrent requests
 * never lose index updates. After a write, each record revision not yet in
 * the alert ledger gets one outbox message per matching subscription, in the
 * same storage transaction as the ledger entry; the outbox is then sent to
 * the delivery queue. A journal of in-flight writes and an alarm make sure a
 * write interrupted half-way is still indexed and alerted.
 */
import { DurableObject } from 'cloudflare:workers';
import * as v from 'valibot';
import { initialHealth, recordOutcome, type AttemptVerdict, type EndpointHealth } from '../domain/delivery-policy.ts';
import { EventSchema, type Event, type EventInput } from '../domain/schema.ts';
import { subscriptionMatches, type SubscribableEventType, type SubscriptionInput, type SubscriptionScope } from '../domain/subscription.ts';
import { buildEnvelope, generateSecret, webhookMessageId, type RecordEventType } from '../domain/webhook-signing.ts';
import type { Env } from '../env.ts';
import type { DeadLetter, DeliveryMessage } from '../jobs/deliver.ts';
import { publishBundledDataset } from '../jobs/publish-bundle.ts';
import { indexStoredEvents, listStoredEventIds, readEvents, scanEntries, writeEvents, type WriteResult } from './events-store.ts';

/** How long after a write starts the alarm checks that it finished. */
const RECOVERY_DELAY_MS = 30_000;
/** Most messages one queue `sendBatch` may carry. */
const SEND_BATCH_MAX = 100;

/** Delivery log entries kept per subscription; older ones are pruned. */
const DELIVERY_LOG_KEEP = 500;

/** A subscription as the API shows it: never with its secret. */
export interface Subscription extends SubscriptionScope {
  id: string;
  url: string;
  description: string | null;
  status: 'active' | 'disabled';
  health: EndpointHealth;
  created_at: string;
  updated_at: string;
}

/** What the delivery consumer needs to send to a subscription. */
export interface DeliveryTarget {
  url: string;
  secret: string;
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
}

type SubscriptionRow = {
  id: string;
  url: string;
  filters: string;
  event_types: string;
  description: string | null;
  secret: string;
  status: string;
  health: string;
  created_at: string;
  updated_at: string;
};

const toSubscription = (row: SubscriptionRow): Subscription => ({
  id: row.id,
  url: row.url,
  filters: JSON.parse(row.filters) as Subscription['filters'],
  event_types: JSON.parse(row.event_types) as SubscribableEventType[],
  description: row.description,
  status: row.status === 'active' ? 'active' : 'disabled',
  health: JSON.parse(row.health) as EndpointHealth,
  created_at: row.created_at,
  updated_at: row.updated_at,
});

/** What reconciliation found and did. */
export interface ReconcileReport {
  /** Records under `event:` keys. */
  stored: number;
  /** Ids added to the index. */
  indexed: string[];
  /** Webhook messages queued for revisions not alerted before. */
  messages: number;
  /** Records that fail the schema, left out. */
  invalid: { id: string; problem: string }[];
}

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS journal (record_id TEXT PRIMARY KEY, started_at TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS ledger (record_id TEXT PRIMARY KEY, revision INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS outbox (msg_id TEXT PRIMARY KEY, body TEXT NOT NULL, created_at TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS subscriptions (
     id TEXT PRIMARY KEY, url TEXT NOT NULL, filters TEXT NOT NULL, event_types TEXT NOT NULL, description TEXT,
     secret TEXT NOT NULL, status TEXT NOT NULL, health TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS deliveries (
     seq INTEGER PRIMARY KEY AUTOINCREMENT, subscription_id TEXT NOT NULL, msg_id TEXT NOT NULL, type TEXT NOT NULL, record_id TEXT,
     attempt INTEGER NOT NULL, at TEXT NOT NULL, status INTEGER, latency_ms INTEGER, outcome TEXT NOT NULL, error TEXT)`,
  `CREATE INDEX IF NOT EXISTS deliveries_by_subscription ON deliveries (subscription_id, seq)`,
  `CREATE TABLE IF NOT EXISTS dead_letters (msg_id TEXT PRIMARY KEY, subscription_id TEXT NOT NULL, body TEXT NOT NULL, reason TEXT NOT NULL, attempts INTEGER NOT NULL, at TEXT NOT NULL)`,
];

/** The Coordinator Durable Object; one instance, named "main". */
export class Coordinator extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    for (const statement of SCHEMA) this.sql.exec(statement);
  }

  /** Runs `work` after every earlier exclusive task has finished. */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.tail.then(work, work);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Creates or updates records, indexes them and alerts subscribers of each new revision. */
  async ingest(inputs: EventInput[], now: string): Promise<WriteResult[]> {
    return this.exclusive(() => this.writeAndAlert(inputs, now));
  }

  /** Publishes the dataset bundled from data/ if KV does not hold it yet; true when it wrote. */
  async publishBundle(now: string): Promise<boolean> {
    return this.exclusive(() => publishBundledDataset(this.env.EVENTS, now, (records) => this.writeAndAlert(records, now)));
  }

  private async writeAndAlert(inputs: EventInput[], now: string): Promise<WriteResult[]> {
    await this.journal(inputs.map((input) => input.id), now);
    const results = await writeEvents(this.env.EVENTS, inputs, now);
    await this.alert(results.filter((result) => result.change !== 'unchanged'), now);
    for (const input of inputs) this.sql.exec('DELETE FROM journal WHERE record_id = ?', input.id);
    await this.flushOutbox();
    return results;
  }

  /**
   * Indexes and alerts records that are in KV but not in the index or the
   * ledger (added by `wrangler kv bulk put` or any other path). Records that
   * fail the schema are reported and left alone.
   */
  async reconcile(now: string): Promise<ReconcileReport> {
    return this.exclusive(async () => {
      const storedIds = await listStoredEventIds(this.env.EVENTS);
      const indexed = await this.indexedIds();
      const alerted = new Set(this.sql.exec<{ record_id: string }>('SELECT record_id FROM ledger').toArray().map((row) => row.record_id));
      const report = await this.catchUp(storedIds.filter((id) => !indexed.has(id) || !alerted.has(id)), indexed, now);
      await this.flushOutbox();
      return { stored: storedIds.length, ...report };
    });
  }

  /** Finishes writes interrupted by a restart and sends what is left in the outbox. */
  override async alarm(): Promise<void> {
    await this.exclusive(async () => {
      const stuck = this.sql.exec<{ record_id: string }>('SELECT record_id FROM journal').toArray().map((row) => row.record_id);
      if (stuck.length > 0) {
        await this.catchUp(stuck, await this.indexedIds(), new Date().toISOString());
        this.sql.exec('DELETE FROM journal');
      }
      await this.flushOutbox();
    });
  }

  private async indexedIds(): Promise<Set<string>> {
    return new Set((await scanEntries(this.env.EVENTS, {})).map((entry) => entry.id));
  }

  /** Indexes the valid stored records among `ids` that `indexed` lacks, and alerts every revision the ledger lacks. */
  private async catchUp(ids: readonly string[], indexed: ReadonlySet<string>, now: string): Promise<Omit<ReconcileReport, 'stored'>> {
    const { valid, invalid } = await this.readValid(ids);
    const unindexed = valid.filter((record) => !indexed.has(record.id));
    await indexStoredEvents(this.env.EVENTS, unindexed, now);
    const outboxBefore = this.outboxSize();
    await this.alert(valid.map((record) => ({ record, previous: null })), now);
    return { indexed: unindexed.map((record) => record.id), messages: this.outboxSize() - outboxBefore, invalid };
  }

  /** Creates a subscription; its secret is returned here once and never shown again. */
  createSubscription(input: SubscriptionInput, now: string): { subscription: Subscription; secret: string } {
    const id = `sub_${crypto.randomUUID().replace(/-/g, '')}`;
    const secret = generateSecret();
    this.sql.exec(
      'INSERT INTO subscriptions (id, url, filters, event_types, description, secret, status, health, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      id, input.url, JSON.stringify(input.filters), JSON.stringify(input.event_types), input.description ?? null, secret, 'active', JSON.stringify(initialHealth()), now, now,
    );
    return { subscription: this.getSubscription(id)!, secret };
  }

  /** Every subscription, oldest first. */
  listSubscriptions(): Subscription[] {
    return this.sql.exec<SubscriptionRow>('SELECT * FROM subscriptions ORDER BY created_at, id').toArray().map(toSubscription);
  }

  /** One subscription, or null. */
  getSubscription(id: string): Subscription | null {
    const row = this.sql.exec<SubscriptionRow>('SELECT * FROM subscriptions WHERE id = ?', id).toArray()[0];
    return row ? toSubscription(row) : null;
  }

  /** Deletes a subscription with its log and dead letters; false when there was none. Queued messages for it are dropped on delivery. */
  deleteSubscription(id: string): boolean {
    const deleted = this.sql.exec('DELETE FROM subscriptions WHERE id = ?', id).rowsWritten > 0;
    this.sql.exec('DELETE FROM deliveries WHERE subscription_id = ?', id);
    this.sql.exec('DELETE FROM dead_letters WHERE subscription_id = ?', id);
    return deleted;
  }

  /** Re-enables a disabled subscription with a clean health record; null when there is none. */
  enableSubscription(id: string, now: string): Subscription | null {
    this.sql.exec("UPDATE subscriptions SET status = 'active', health = ?, updated_at = ? WHERE id = ?", JSON.stringify(initialHealth()), now, id);
    return this.getSubscription(id);
  }

  /** Queues a signed `ping` to a subscription; its message id, or null when there is no such subscription. */
  async pingSubscription(id: string, now: string): Promise<string | null> {
    if (!this.getSubscription(id)) return null;
    const requestedAt = new Date(now);
    const msgId = await webhookMessageId({ subscriptionId: id, type: 'ping', requestedAt });
    const body: DeliveryMessage = { msg_id: msgId, subscription_id: id, type: 'ping', record_id: null, payload: JSON.stringify(buildEnvelope('ping', { subscription_id: id }, requestedAt)) };
    this.sql.exec('INSERT OR IGNORE INTO outbox (msg_id, body, created_at) VALUES (?, ?, ?)', msgId, JSON.stringify(body), now);
    // Sent in turn with writes, so two sends never queue the same outbox rows twice.
    await this.exclusive(() => this.flushOutbox());
    return msgId;
  }

  /** URL, secret and status for the delivery consumer; null when the subscription is gone. */
  deliveryTarget(id: string): DeliveryTarget | null {
    const row = this.sql.exec<Pick<SubscriptionRow, 'url' | 'secret' | 'status'>>('SELECT url, secret, status FROM subscriptions WHERE id = ?', id).toArray()[0];
    return row ? { url: row.url, secret: row.secret, status: row.status === 'active' ? 'active' : 'disabled' } : null;
  }

  /**
   * Logs a delivery attempt and, when `verdict` is given, updates the
   * endpoint's health, disabling it under the delivery policy's rule.
   * Returns whether the subscription is now disabled.
   */
  recordDelivery(entry: DeliveryAttempt, verdict: AttemptVerdict | null): { disabled: boolean } {
    const row = this.sql.exec<Pick<SubscriptionRow, 'health' | 'status'>>('SELECT health, status FROM subscriptions WHERE id = ?', entry.subscription_id).toArray()[0];
    if (!row) return { disabled: true };
    this.sql.exec(
      'INSERT INTO deliveries (subscription_id, msg_id, type, record_id, attempt, at, status, latency_ms, outcome, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      entry.subscription_id, entry.msg_id, entry.type, entry.record_id, entry.attempt, entry.at, entry.status, entry.latency_ms, entry.outcome, entry.error,
    );
    this.sql.exec(
      'DELETE FROM deliveries WHERE subscription_id = ? AND seq <= (SELECT seq FROM deliveries WHERE subscription_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)',
      entry.subscription_id, entry.subscription_id, DELIVERY_LOG_KEEP,
    );
    if (!verdict) return { disabled: row.status !== 'active' };
    const health = recordOutcome(JSON.parse(row.health) as EndpointHealth, verdict, new Date(entry.at));
    const status = health.disabled ? 'disabled' : 'active';
    this.sql.exec('UPDATE subscriptions SET health = ?, status = ?, updated_at = ? WHERE id = ?', JSON.stringify(health), status, entry.at, entry.subscription_id);
    if (status === 'disabled' && row.status === 'active') console.warn('subscription disabled', entry.subscription_id, health.disabled?.reason);
    return { disabled: status === 'disabled' };
  }

  /** A subscription's delivery log, newest first; null when there is no such subscription. */
  deliveries(id: string, limit: number): DeliveryAttempt[] | null {
    if (!this.getSubscription(id)) return null;
    return this.sql.exec<Omit<DeliveryAttempt, 'subscription_id'> & { subscription_id: string }>(
      'SELECT subscription_id, msg_id, type, record_id, attempt, at, status, latency_ms, outcome, error FROM deliveries WHERE subscription_id = ? ORDER BY seq DESC LIMIT ?',
      id, limit,
    ).toArray();
  }

  /** Keeps a dead letter for inspection and redelivery, and logs it. */
  storeDeadLetter(letter: DeadLetter, now: string): void {
    const { reason, attempts, ...message } = letter;
    if (!this.getSubscription(message.subscription_id)) return;
    this.sql.exec('INSERT OR REPLACE INTO dead_letters (msg_id, subscription_id, body, reason, attempts, at) VALUES (?, ?, ?, ?, ?, ?)', message.msg_id, message.subscription_id, JSON.stringify(message), reason, attempts, now);
    this.recordDelivery({ subscription_id: message.subscription_id, msg_id: message.msg_id, type: message.type, record_id: message.record_id, attempt: attempts, at: now, status: null, latency_ms: null, outcome: 'dead_lettered', error: reason }, null);
  }

  /** The dead letters of a subscription, oldest first; null when there is no such subscription. */
  deadLetters(id: string): { msg_id: string; type: string; record_id: string | null; reason: string; attempts: number; at: string }[] | null {
    if (!this.getSubscription(id)) return null;
    return this.sql.exec<{ body: string; reason: string; attempts: number; at: string }>('SELECT body, reason, attempts, at FROM dead_letters WHERE subscription_id = ? ORDER BY at, msg_id', id).toArray().map((row) => {
      const message = JSON.parse(row.body) as DeliveryMessage;
      return { msg_id: message.msg_id, type: message.type, record_id: message.record_id, reason: row.reason, attempts: row.attempts, at: row.at };
    });
  }

  /** Queues a subscription's dead letters again, with their original webhook ids; how many, or null when there is no such subscription. */
  async redeliver(id: string, now: string): Promise<number | null> {
    if (!this.getSubscription(id)) return null;
    const letters = this.sql.exec<{ msg_id: string; body: string }>('SELECT msg_id, body FROM dead_letters WHERE subscription_id = ?', id).toArray();
    this.ctx.storage.transactionSync(() => {
      for (const letter of letters) {
        this.sql.exec('INSERT OR IGNORE INTO outbox (msg_id, body, created_at) VALUES (?, ?, ?)', letter.msg_id, letter.body, now);
        this.sql.exec('DELETE FROM dead_letters WHERE msg_id = ?', letter.msg_id);
      }
    });
    await this.exclusive(() => this.flushOutbox());
    return letters.length;
  }

  private activeSubscriptions(): Subscription[] {
    return this.sql.exec<SubscriptionRow>("SELECT * FROM subscriptions WHERE status = 'active'").toArray().map(toSubscription);
  }

  private async journal(ids: readonly string[], now: string): Promise<void> {
    for (const id of ids) this.sql.exec('INSERT OR REPLACE INTO journal (record_id, started_at) VALUES (?, ?)', id, now);
    await this.ctx.storage.setAlarm(Date.now() + RECOVERY_DELAY_MS);
  }

  private async readValid(ids: readonly string[]): Promise<{ valid: Event[]; invalid: { id: string; problem: string }[] }> {
    const found = await readEvents(this.env.EVENTS, ids);
    const valid: Event[] = [];
    const invalid: { id: string; problem: string }[] = [];
    for (const id of ids) {
      const result = v.safeParse(EventSchema, found.get(id));
      if (result.success && result.output.id === id) valid.push(result.output);
      else invalid.push({ id, problem: result.success ? 'id does not match its key' : v.summarize(result.issues) });
    }
    return { valid, invalid };
  }

  private outboxSize(): number {
    return this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM outbox').one().n;
  }

  /**
   * Records each revision not yet in the ledger, together with one outbox
   * message per matching active subscription, in one storage transaction: a
   * record revision is alerted once, whatever path wrote it. An update also
   * goes to subscribers whose filters matched the version it replaced, so
   * they hear of a record leaving their filter.
   */
  private async alert(changes: readonly { record: Event; previous: Event | null }[], now: string): Promise<void> {
    const alertedRevision = (id: string) => this.sql.exec<{ revision: number }>('SELECT revision FROM ledger WHERE record_id = ?', id).toArray()[0]?.revision;
    const fresh = changes.map((change) => ({ ...change, alerted: alertedRevision(change.record.id) })).filter(({ record, alerted }) => (alerted ?? 0) < record.revision);
    if (fresh.length === 0) return;
    const subscriptions = this.activeSubscriptions();
    const messages: { msgId: string; body: DeliveryMessage }[] = [];
    for (const { record, previous, alerted } of fresh) {
      const type: RecordEventType & SubscribableEventType = alerted === undefined ? 'event.created' : 'event.updated';
      for (const subscription of subscriptions) {
        const concerned = subscriptionMatches(subscription, record, type) || (previous !== null && subscriptionMatches(subscription, previous, type));
        if (!concerned) continue;
        const msgId = await webhookMessageId({ subscriptionId: subscription.id, type, recordId: record.id, revision: record.revision });
        const payload = JSON.stringify(buildEnvelope(type, record, new Date(record.updated_at)));
        messages.push({ msgId, body: { msg_id: msgId, subscription_id: subscription.id, type, record_id: record.id, payload } });
      }
    }
    this.ctx.storage.transactionSync(() => {
      for (const { record } of fresh) this.sql.exec('INSERT OR REPLACE INTO ledger (record_id, revision) VALUES (?, ?)', record.id, record.revision);
      for (const { msgId, body } of messages) this.sql.exec('INSERT OR IGNORE INTO outbox (msg_id, body, created_at) VALUES (?, ?, ?)', msgId, JSON.stringify(body), now);
    });
  }

  /**
   * Sends the outbox to the delivery queue; what fails to send stays for the
   * alarm. The alarm is cleared once the outbox is empty, unless a journalled
   * write is unfinished: the alarm is what finishes it.
   */
  private async flushOutbox(): Promise<void> {
    for (;;) {
      const rows = this.sql.exec<{ msg_id: string; body: string }>('SELECT msg_id, body FROM outbox ORDER BY created_at LIMIT ?', SEND_BATCH_MAX).toArray();
      if (rows.length === 0) {
        if (this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM journal').one().n === 0) await this.ctx.storage.deleteAlarm();
        return;
      }
      try {
        await this.env.DELIVERIES.sendBatch(rows.map((row) => ({ body: JSON.parse(row.body) as unknown, contentType: 'json' as const })));
      } catch (error) {
        console.error('delivery queue unavailable; the outbox is kept for the alarm:', error instanceof Error ? error.message : String(error));
        await this.ctx.storage.setAlarm(Date.now() + RECOVERY_DELAY_MS);
        return;
      }
      this.sql.exec(`DELETE FROM outbox WHERE msg_id IN (${rows.map(() => '?').join(',')})`, ...rows.map((row) => row.msg_id));
    }
  }
}
