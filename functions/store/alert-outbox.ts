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

/** The table this module keeps (`outbox` was its form before delivery confirmation). */
export const OUTBOX_SCHEMA = [
  'DROP TABLE IF EXISTS outbox',
  `CREATE TABLE IF NOT EXISTS alert_outbox (
     msg_id TEXT PRIMARY KEY, subscription_id TEXT NOT NULL, body TEXT NOT NULL, created_at TEXT NOT NULL,
     sent_at INTEGER, resend_at INTEGER, resends INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0)`,
  'CREATE INDEX IF NOT EXISTS alert_outbox_unsent ON alert_outbox (sent_at, created_at)',
  'CREATE INDEX IF NOT EXISTS alert_outbox_resend ON alert_outbox (resend_at)',
];

/** Most messages one queue `sendBatch` may carry. */
const SEND_BATCH_MAX = 100;
/** How long to wait before sending again after the queue failed. */
export const OUTBOX_RETRY_MS = 30_000;
/**
 * How long a message handed to the queue may go without news from the
 * consumer before it is sent again (same webhook-id); doubled on every
 * resend up to RESEND_MAX_MS, so a slow queue is not flooded.
 */
export const UNCONFIRMED_RESEND_MS = 20_000;
const RESEND_MAX_MS = 60 * 60 * 1_000;

/** What the consumer reported of a message: final outcomes end its stay in the outbox. */
export type ReportedOutcome = 'delivered' | 'retrying' | 'failed' | 'skipped' | 'dead_lettered' | 'redelivered';

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

/**
 * The outbox of alerts. A message stays in it from the write that made it
 * until the consumer reports a final outcome (delivered, skipped, or stored
 * as a dead letter), not just until the queue accepted it: a message the
 * queue lost (local queues keep messages in memory only), or whose consumer
 * died before reporting, is sent again with the same webhook-id once it has
 * gone without news for longer than expected. A resent message carries the
 * attempts already made, so the retry budget is not restarted.
 */
export class AlertOutbox {
  constructor(
    private readonly sql: SqlStorage,
    private readonly queue: Queue,
  ) {}

  /** Adds messages (a message id already waiting is kept once). Call inside the write's transaction. */
  add(messages: readonly DeliveryMessage[], now: string): void {
    for (const message of messages) {
      this.sql.exec('INSERT OR IGNORE INTO alert_outbox (msg_id, subscription_id, body, created_at) VALUES (?, ?, ?, ?)', message.msg_id, message.subscription_id, JSON.stringify(message), now);
    }
  }

  /** Messages not handed to the queue yet. */
  size(): number {
    return this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM alert_outbox WHERE sent_at IS NULL').one().n;
  }

  /** Messages handed to the queue whose final outcome has not been reported yet. */
  unconfirmed(): number {
    return this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM alert_outbox WHERE sent_at IS NOT NULL').one().n;
  }

  /** When the outbox should next be sent, or null when nothing waits. */
  nextSendAt(nowMs: number): number | null {
    const retryAt = readCounter(this.sql, 'outbox_retry_at');
    if (this.size() > 0) return Math.max(nowMs, retryAt);
    const resendAt = this.sql.exec<{ at: number | null }>('SELECT MIN(resend_at) AS at FROM alert_outbox WHERE sent_at IS NOT NULL').one().at;
    return resendAt === null ? null : Math.max(resendAt, retryAt);
  }

  /** Records what the consumer reported of a message: a final outcome removes it; otherwise its next news is expected after `nextAttemptAtMs`. */
  report(msgId: string, outcome: ReportedOutcome, attempt: number, nowMs: number, nextAttemptAtMs: number | null): void {
    if (outcome === 'delivered' || outcome === 'skipped' || outcome === 'dead_lettered') {
      this.sql.exec('DELETE FROM alert_outbox WHERE msg_id = ?', msgId);
      return;
    }
    this.sql.exec(
      'UPDATE alert_outbox SET sent_at = COALESCE(sent_at, ?), resend_at = ?, resends = 0, attempts = MAX(attempts, ?) WHERE msg_id = ?',
      nowMs, (nextAttemptAtMs ?? nowMs) + UNCONFIRMED_RESEND_MS, attempt, msgId,
    );
  }

  /** The receiver attempts recorded so far for each of these messages the outbox still holds. */
  recordedAttempts(msgIds: readonly string[]): Map<string, number> {
    const attempts = new Map<string, number>();
    for (const msgId of msgIds) {
      const row = this.sql.exec<{ attempts: number }>('SELECT attempts FROM alert_outbox WHERE msg_id = ?', msgId).toArray()[0];
      if (row) attempts.set(msgId, row.attempts);
    }
    return attempts;
  }

  /** Drops every message for a subscription (deleted). */
  dropFor(subscriptionId: string): void {
    this.sql.exec('DELETE FROM alert_outbox WHERE subscription_id = ?', subscriptionId);
  }

  /** Sends new messages and those due again to the delivery queue, oldest first; on a queue failure the rest waits OUTBOX_RETRY_MS. */
  async send(nowMs: number): Promise<void> {
    if (nowMs < readCounter(this.sql, 'outbox_retry_at')) return;
    for (;;) {
      type Row = { msg_id: string; body: string; resends: number; attempts: number; sent_at: number | null };
      const fresh = this.sql.exec<Row>('SELECT msg_id, body, resends, attempts, sent_at FROM alert_outbox WHERE sent_at IS NULL ORDER BY created_at LIMIT ?', SEND_BATCH_MAX).toArray();
      const due = this.sql.exec<Row>(
        'SELECT msg_id, body, resends, attempts, sent_at FROM alert_outbox WHERE sent_at IS NOT NULL AND resend_at <= ? ORDER BY resend_at LIMIT ?',
        nowMs, SEND_BATCH_MAX - fresh.length,
      ).toArray();
      const rows = [...fresh, ...due];
      if (rows.length === 0) return;
      try {
        await this.queue.sendBatch(rows.map((row) => ({ body: { ...(JSON.parse(row.body) as DeliveryMessage), prior_attempts: row.attempts }, contentType: 'json' as const })));
      } catch (error) {
        console.error('delivery queue unavailable; the outbox is kept for a later attempt:', error instanceof Error ? error.message : String(error));
        writeMeta(this.sql, 'outbox_retry_at', String(nowMs + OUTBOX_RETRY_MS));
        return;
      }
      writeMeta(this.sql, 'outbox_retry_at', null);
      for (const row of rows) {
        const resends = row.sent_at === null ? 0 : row.resends + 1;
        if (resends > 0) console.warn('resending an unconfirmed webhook message', row.msg_id, `(resend ${resends})`);
        // A report that arrived meanwhile moved resend_at past now: it wins.
        this.sql.exec(
          'UPDATE alert_outbox SET sent_at = ?, resend_at = ?, resends = ? WHERE msg_id = ? AND (sent_at IS NULL OR resend_at <= ?)',
          nowMs, nowMs + Math.min(UNCONFIRMED_RESEND_MS * 2 ** resends, RESEND_MAX_MS), resends, row.msg_id, nowMs,
        );
      }
    }
  }
}
