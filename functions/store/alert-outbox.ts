/**
 * Webhook alerts of record changes, and the outbox they wait in.
 *
 * A write's alerts are worked out from the truth (the record and the version
 * it replaced) and inserted into the outbox in the same storage transaction
 * as the write itself, so each record revision is alerted exactly once per
 * concerned subscription whatever path wrote it. The outbox is then sent to
 * the delivery queue; what fails to send waits for a later attempt.
 */
import type { DeliveryMessage } from '../domain/delivery-messages.ts';
import type { Event } from '../domain/schema.ts';
import { subscriptionMatches, type SubscribableEventType } from '../domain/subscription.ts';
import { buildEnvelope, webhookMessageId, type RecordEventType } from '../domain/webhook-signing.ts';
import { readCounter, writeMeta } from './meta-table.ts';
import type { Subscription } from './subscriptions-table.ts';

/** The table this module keeps. */
export const OUTBOX_SCHEMA = [
  'CREATE TABLE IF NOT EXISTS outbox (msg_id TEXT PRIMARY KEY, body TEXT NOT NULL, created_at TEXT NOT NULL)',
  'CREATE INDEX IF NOT EXISTS outbox_by_age ON outbox (created_at)',
];

/** Most messages one queue `sendBatch` may carry. */
const SEND_BATCH_MAX = 100;
/** How long to wait before sending again after the queue failed. */
export const OUTBOX_RETRY_MS = 30_000;

/** A record change to alert: the new version and the one it replaced (null for a new record). */
export interface RecordChangeToAlert {
  record: Event;
  previous: Event | null;
}

/**
 * The messages alerting `changes` to `subscriptions`: one per record change
 * and concerned subscription. An update also goes to subscribers whose
 * filters matched the version it replaced, so they hear of a record leaving
 * their filter.
 */
export async function alertMessages(changes: readonly RecordChangeToAlert[], subscriptions: readonly Subscription[]): Promise<DeliveryMessage[]> {
  const messages: DeliveryMessage[] = [];
  for (const { record, previous } of changes) {
    const type: RecordEventType & SubscribableEventType = previous === null ? 'event.created' : 'event.updated';
    for (const subscription of subscriptions) {
      const concerned = subscriptionMatches(subscription, record, type) || (previous !== null && subscriptionMatches(subscription, previous, type));
      if (!concerned) continue;
      const msgId = await webhookMessageId({ subscriptionId: subscription.id, type, recordId: record.id, revision: record.revision });
      const payload = JSON.stringify(buildEnvelope(type, record, new Date(record.updated_at)));
      messages.push({ msg_id: msgId, subscription_id: subscription.id, type, record_id: record.id, payload });
    }
  }
  return messages;
}

/** The outbox of messages waiting to be queued for delivery. */
export class AlertOutbox {
  constructor(
    private readonly sql: SqlStorage,
    private readonly queue: Queue,
  ) {}

  /** Adds messages (a message id already waiting is kept once). Call inside the write's transaction. */
  add(messages: readonly DeliveryMessage[], now: string): void {
    for (const message of messages) this.addBody(message.msg_id, JSON.stringify(message), now);
  }

  /** Adds one message as its serialised body. */
  addBody(msgId: string, body: string, now: string): void {
    this.sql.exec('INSERT OR IGNORE INTO outbox (msg_id, body, created_at) VALUES (?, ?, ?)', msgId, body, now);
  }

  /** How many messages wait. */
  size(): number {
    return this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM outbox').one().n;
  }

  /** When the outbox should next be sent, or null when it is empty. */
  nextSendAt(nowMs: number): number | null {
    return this.size() === 0 ? null : Math.max(nowMs, readCounter(this.sql, 'outbox_retry_at'));
  }

  /** Sends the outbox to the delivery queue, oldest first; on a queue failure the rest waits OUTBOX_RETRY_MS. */
  async send(nowMs: number): Promise<void> {
    for (;;) {
      const rows = this.sql.exec<{ msg_id: string; body: string }>('SELECT msg_id, body FROM outbox ORDER BY created_at LIMIT ?', SEND_BATCH_MAX).toArray();
      if (rows.length === 0) return;
      try {
        await this.queue.sendBatch(rows.map((row) => ({ body: JSON.parse(row.body) as unknown, contentType: 'json' as const })));
      } catch (error) {
        console.error('delivery queue unavailable; the outbox is kept for a later attempt:', error instanceof Error ? error.message : String(error));
        writeMeta(this.sql, 'outbox_retry_at', String(nowMs + OUTBOX_RETRY_MS));
        return;
      }
      writeMeta(this.sql, 'outbox_retry_at', null);
      this.sql.exec(`DELETE FROM outbox WHERE msg_id IN (${rows.map(() => '?').join(',')})`, ...rows.map((row) => row.msg_id));
    }
  }
}
