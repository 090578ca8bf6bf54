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
import { addMissingColumns } from './meta-table.ts';

/** The table this module keeps (`outbox` was its form before delivery confirmation). */
export const OUTBOX_SCHEMA = [
  'DROP TABLE IF EXISTS outbox',
  `CREATE TABLE IF NOT EXISTS alert_outbox (
     msg_id TEXT PRIMARY KEY, subscription_id TEXT NOT NULL, body TEXT NOT NULL, created_at TEXT NOT NULL,
     sent_at INTEGER, resend_at INTEGER, resends INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0)`,
  'CREATE INDEX IF NOT EXISTS alert_outbox_unsent ON alert_outbox (sent_at, created_at)',
  'CREATE INDEX IF NOT EXISTS alert_outbox_resend ON alert_outbox (resend_at)',
];

/** Columns added after the table was first made; created by `addMissingColumns`. */
const OUTBOX_ADDED_COLUMNS = {
  send_failures: 'INTEGER NOT NULL DEFAULT 0',
  next_try_at: 'INTEGER',
  // A record alert refers to its revision's payload in alert_payloads (store/alert-fanout.ts) instead of carrying a copy.
  payload_record: 'TEXT',
  payload_revision: 'INTEGER',
  // When the consumer last reported on the message since it was last handed to the queue; null: no news yet.
  reported_at: 'INTEGER',
};

/** The columns a batch is built from. */
const BATCH_COLUMNS = 'SELECT msg_id, body, resends, attempts, sent_at, send_failures FROM alert_outbox';

/**
 * The queries the outbox runs on every send, report and re-arm; each is
 * answered from an index, so their cost does not grow with the backlog
 * (tests/outbox.test.ts checks their query plans).
 */
export const OUTBOX_QUERIES = {
  withoutNews: 'SELECT COUNT(*) AS n FROM alert_outbox WHERE sent_at IS NOT NULL AND reported_at IS NULL',
  nextResendAt: 'SELECT MIN(resend_at) AS at FROM alert_outbox WHERE sent_at IS NOT NULL AND resend_at IS NOT NULL',
  anyUnsentDue: 'SELECT 1 FROM alert_outbox WHERE sent_at IS NULL AND next_try_at IS NULL LIMIT 1',
  nextBackoffEnd: 'SELECT MIN(next_try_at) AS at FROM alert_outbox WHERE sent_at IS NULL AND next_try_at IS NOT NULL',
  freshBatch: `${BATCH_COLUMNS} WHERE sent_at IS NULL AND COALESCE(next_try_at, 0) <= ? ORDER BY created_at LIMIT ?`,
  dueBatch: `${BATCH_COLUMNS} WHERE sent_at IS NOT NULL AND resend_at <= ? ORDER BY resend_at LIMIT ?`,
  dropSubscription: 'DELETE FROM alert_outbox WHERE subscription_id = ?',
} as const;

/** Most messages one queue `sendBatch` may carry. */
const SEND_BATCH_MAX = 100;
/** Most bytes one `sendBatch` may carry (Queues: 256 KB), with room for framing. */
const SEND_BATCH_MAX_BYTES = 250_000;
/**
 * How many messages may be in the queue with no news from the consumer yet
 * (handed over, neither reported on nor settled): the outbox keeps the rest
 * until reports make room, so a fan-out of any size never floods the queue
 * and a queue that is slow to drain is not mistaken for one refusing
 * messages. Tests may lower it.
 */
export const OUTBOX_WINDOW = { messagesWithoutNews: 2_000 };
/** Batches handed to the queue at once (a Worker keeps at most six connections open). */
const SEND_CONCURRENCY = 6;
/** Largest message the queue takes (Queues: 128 KB), with room for framing. */
export const MESSAGE_MAX_BYTES = 126_000;
/** Times a message may fail to be queued on its own, while others go through, before it is dead-lettered. */
const SEND_FAILURES_MAX = 5;
/** How long a message the queue refused waits before it is sent again (doubled with each refusal it is blamed for). */
export const OUTBOX_RETRY_MS = 30_000;
/**
 * How long a message handed to the queue may go without news from the
 * consumer before it is sent again (same webhook-id); doubled on every
 * resend up to RESEND_MAX_MS, so a slow queue is not flooded.
 */
export const UNCONFIRMED_RESEND_MS = 20_000;
const RESEND_MAX_MS = 60 * 60 * 1_000;

/** Gives up on a message the queue will not take: stores it as a dead letter with the reason. */
export type GiveUp = (message: DeliveryMessage, reason: string, attempts: number) => void;

const utf8Length = (text: string): number => new TextEncoder().encode(text).length;

/** What the consumer reported of a message: final outcomes end its stay in the outbox. */
export type ReportedOutcome = 'delivered' | 'retrying' | 'failed' | 'skipped' | 'dead_lettered' | 'redelivered';

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
    private readonly giveUp: GiveUp,
  ) {
    addMissingColumns(sql, 'alert_outbox', OUTBOX_ADDED_COLUMNS);
    sql.exec('CREATE INDEX IF NOT EXISTS alert_outbox_by_payload ON alert_outbox (payload_record, payload_revision)');
    sql.exec('CREATE INDEX IF NOT EXISTS alert_outbox_waiting ON alert_outbox (sent_at, next_try_at)');
    sql.exec('CREATE INDEX IF NOT EXISTS alert_outbox_by_subscription ON alert_outbox (subscription_id)');
    sql.exec('CREATE INDEX IF NOT EXISTS alert_outbox_without_news ON alert_outbox (reported_at, sent_at)');
  }

  /** Adds a record alert that refers to its revision's stored payload (a message id already waiting is kept once). */
  addReference(message: DeliveryMessage & { record_id: string; revision: number }, now: string): void {
    const { payload: _payload, ...reference } = message;
    this.sql.exec(
      'INSERT OR IGNORE INTO alert_outbox (msg_id, subscription_id, body, created_at, payload_record, payload_revision) VALUES (?, ?, ?, ?, ?, ?)',
      message.msg_id, message.subscription_id, JSON.stringify(reference), now, message.record_id, message.revision,
    );
  }

  /** Adds self-contained messages (pings, redeliveries; a message id already waiting is kept once). Call inside the caller's transaction. */
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

  /** Messages handed to the queue that the consumer has not reported on yet. */
  private withoutNews(): number {
    return this.sql.exec<{ n: number }>(OUTBOX_QUERIES.withoutNews).one().n;
  }

  /** How many new messages the queue may take now (OUTBOX_WINDOW). */
  private room(): number {
    return Math.max(0, OUTBOX_WINDOW.messagesWithoutNews - this.withoutNews());
  }

  /** When the outbox should next be sent, or null when nothing waits (new messages wait for room; reports make it). */
  nextSendAt(nowMs: number): number | null {
    const unsentAt = this.room() === 0 ? null : this.nextUnsentAt();
    const resendAt = this.sql.exec<{ at: number | null }>(OUTBOX_QUERIES.nextResendAt).one().at;
    const times = [unsentAt, resendAt].filter((time): time is number => time !== null);
    return times.length === 0 ? null : Math.max(nowMs, Math.min(...times));
  }

  /**
   * When the earliest new message may be sent: now (0) if one waits for no
   * backoff, else the earliest end of a refused message's backoff; null when
   * none waits. Both lookups use alert_outbox_waiting, so the cost does not
   * grow with the backlog.
   */
  private nextUnsentAt(): number | null {
    if (this.sql.exec(OUTBOX_QUERIES.anyUnsentDue).toArray().length > 0) return 0;
    return this.sql.exec<{ at: number | null }>(OUTBOX_QUERIES.nextBackoffEnd).one().at;
  }

  /** Records what the consumer reported of a message: a final outcome removes it; otherwise its next news is expected after `nextAttemptAtMs`. */
  report(msgId: string, outcome: ReportedOutcome, attempt: number, nowMs: number, nextAttemptAtMs: number | null): void {
    if (outcome === 'delivered' || outcome === 'skipped' || outcome === 'dead_lettered') {
      this.sql.exec('DELETE FROM alert_outbox WHERE msg_id = ?', msgId);
      return;
    }
    this.sql.exec(
      'UPDATE alert_outbox SET sent_at = COALESCE(sent_at, ?), reported_at = ?, resend_at = ?, resends = 0, attempts = MAX(attempts, ?) WHERE msg_id = ?',
      nowMs, nowMs, (nextAttemptAtMs ?? nowMs) + UNCONFIRMED_RESEND_MS, attempt, msgId,
    );
  }

  /** Removes a message and returns it whole (with its payload), or null when it is not in the outbox. */
  take(msgId: string): DeliveryMessage | null {
    const row = this.sql.exec<{ body: string; payload: string | null; payload_record: string | null }>(
      'SELECT o.body, o.payload_record, p.payload FROM alert_outbox o LEFT JOIN alert_payloads p ON p.record_id = o.payload_record AND p.revision = o.payload_revision WHERE o.msg_id = ?',
      msgId,
    ).toArray()[0];
    if (!row) return null;
    this.sql.exec('DELETE FROM alert_outbox WHERE msg_id = ?', msgId);
    const message = JSON.parse(row.body) as DeliveryMessage;
    return row.payload_record === null ? message : { ...message, payload: row.payload ?? '' };
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
    this.sql.exec(OUTBOX_QUERIES.dropSubscription, subscriptionId);
  }

  /**
   * Sends new messages and those due again to the delivery queue, oldest
   * first, in batches bounded by count and bytes, up to SEND_CONCURRENCY
   * batches at once, and new ones only while the queue holds fewer than
   * OUTBOX_WINDOW messages without news. A message over the queue's
   * size limit is dead-lettered at once. When a batch fails, its messages are
   * sent one by one, so one message the queue refuses never holds back the
   * others: it waits with its own backoff and is dead-lettered after
   * SEND_FAILURES_MAX refusals while others went through. When nothing goes
   * through, the queue may be unavailable: each message waits its turn again
   * without being blamed.
   */
  async send(nowMs: number): Promise<void> {
    let anySent = false;
    for (;;) {
      const batches = this.nextBatches(nowMs, SEND_CONCURRENCY);
      if (batches.length === 0) return;
      const refused: OutboxItem[] = [];
      await Promise.all(
        batches.map(async (batch) => {
          if (await this.trySend(batch)) {
            this.markSent(batch, nowMs);
            anySent = true;
            return;
          }
          // The batch failed: one message at a time tells a refused message from an unavailable queue.
          for (const item of batch) {
            if (await this.trySend([item])) {
              this.markSent([item], nowMs);
              anySent = true;
            } else refused.push(item);
          }
        }),
      );
      for (const item of refused) this.refused(item, anySent, nowMs);
    }
  }

  /** Hands messages to the queue in one batch; false (logged) when the queue refused it. */
  private async trySend(items: readonly OutboxItem[]): Promise<boolean> {
    try {
      await this.queue.sendBatch(items.map(({ message }) => ({ body: message, contentType: 'json' as const })));
      return true;
    } catch (error) {
      console.error(`the delivery queue refused a batch of ${items.length}:`, error instanceof Error ? error.message : String(error));
      return false;
    }
  }

  /**
   * The next batches to send (at most `count`): new messages whose turn has
   * come, then those due again, each batch within the count and byte limits.
   */
  private nextBatches(nowMs: number, count: number): OutboxItem[][] {
    type Row = { msg_id: string; body: string; resends: number; attempts: number; sent_at: number | null; send_failures: number };
    // A record alert's body names its payload (store/alert-fanout.ts) instead of carrying it: the consumer fetches it when it sends.
    const limit = SEND_BATCH_MAX * count;
    const fresh = this.sql.exec<Row>(OUTBOX_QUERIES.freshBatch, nowMs, Math.min(limit, this.room())).toArray();
    const due = this.sql.exec<Row>(OUTBOX_QUERIES.dueBatch, nowMs, limit - fresh.length).toArray();
    const batches: OutboxItem[][] = [];
    let batch: OutboxItem[] = [];
    let bytes = 0;
    for (const row of [...fresh, ...due]) {
      const message: DeliveryMessage = { payload: '', ...(JSON.parse(row.body) as Omit<DeliveryMessage, 'payload'>), prior_attempts: row.attempts };
      const size = utf8Length(JSON.stringify(message));
      if (size > MESSAGE_MAX_BYTES) {
        this.abandon(message, `the message is ${size} bytes, over the queue's limit of ${MESSAGE_MAX_BYTES}`, row.attempts);
        continue;
      }
      if (batch.length === SEND_BATCH_MAX || (batch.length > 0 && bytes + size > SEND_BATCH_MAX_BYTES)) {
        batches.push(batch);
        if (batches.length === count) return batches;
        batch = [];
        bytes = 0;
      }
      batch.push({ message, resends: row.sent_at === null ? 0 : row.resends + 1, sendFailures: row.send_failures });
      bytes += size;
    }
    if (batch.length > 0) batches.push(batch);
    return batches;
  }

  /** Records messages as handed to the queue; their outcome is expected within the resend wait. */
  private markSent(items: readonly OutboxItem[], nowMs: number): void {
    for (const { message, resends } of items) {
      if (resends > 0) console.warn('resending an unconfirmed webhook message', message.msg_id, `(resend ${resends})`);
      // A report that arrived meanwhile moved resend_at past now: it wins.
      this.sql.exec(
        'UPDATE alert_outbox SET sent_at = ?, reported_at = NULL, resend_at = ?, resends = ?, send_failures = 0, next_try_at = NULL WHERE msg_id = ? AND (sent_at IS NULL OR resend_at <= ?)',
        nowMs, nowMs + Math.min(UNCONFIRMED_RESEND_MS * 2 ** resends, RESEND_MAX_MS), resends, message.msg_id, nowMs,
      );
    }
  }

  /**
   * A message the queue refused waits on its own (OUTBOX_RETRY_MS, doubling
   * with each refusal it is blamed for), so it never holds back the others.
   * It is blamed only when others went through in the same send (otherwise
   * the queue may simply be unavailable), and dead-lettered after
   * SEND_FAILURES_MAX refusals it was blamed for.
   */
  private refused(item: OutboxItem, othersWentThrough: boolean, nowMs: number): void {
    const failures = item.sendFailures + (othersWentThrough ? 1 : 0);
    if (failures >= SEND_FAILURES_MAX) {
      this.abandon(item.message, `the delivery queue refused the message ${failures} times while it took others`, item.message.prior_attempts ?? 0);
      return;
    }
    this.sql.exec(
      'UPDATE alert_outbox SET send_failures = ?, next_try_at = ?, sent_at = NULL WHERE msg_id = ?',
      failures, nowMs + OUTBOX_RETRY_MS * 2 ** failures, item.message.msg_id,
    );
  }

  /** Takes a message out of the outbox as a dead letter. */
  private abandon(message: DeliveryMessage, reason: string, attempts: number): void {
    console.error('dead-lettering a webhook message the queue will not take:', message.msg_id, reason);
    this.sql.exec('DELETE FROM alert_outbox WHERE msg_id = ?', message.msg_id);
    this.giveUp(message, reason, attempts);
  }
}

/** A message on its way to the queue, with what the outbox knows of its sends. */
interface OutboxItem {
  message: DeliveryMessage;
  resends: number;
  sendFailures: number;
}
