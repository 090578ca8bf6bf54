/**
 * Fan-out of record changes to webhook subscriptions, in bounded slices.
 *
 * A write records, in its own storage transaction, one fan-out row per
 * changed record revision and the alert payload of that revision (stored
 * once, however many subscribers get it). The Coordinator's alarm then
 * expands the rows in slices of at most FANOUT_SLICE subscriptions: each
 * concerned active subscription gets an outbox message that refers to the
 * payload (so the outbox holds no copy of the record per subscriber); a
 * disabled subscription gets its alert held as a dead letter, logged as
 * `skipped` with the record and revision, to be replayed when it is enabled.
 * A slice and the cursor that says how far the row has got are committed
 * together, and message ids are deterministic, so a crash mid-expansion
 * neither loses nor repeats an alert. Memory and CPU per slice do not grow
 * with the number of records or subscribers.
 */
import { recordAlertPayload } from '../domain/alert-payload.ts';
import type { DeletedData } from '../domain/change-feed.ts';
import type { DeliveryMessage } from '../domain/delivery-messages.ts';
import type { Event } from '../domain/schema.ts';
import { changeConcerns, type SubscribableEventType } from '../domain/subscription.ts';
import { webhookMessageId, type RecordEventType } from '../domain/webhook-signing.ts';
import type { AlertOutbox } from './alert-outbox.ts';
import { addMissingColumns } from './meta-table.ts';
import type { Subscription, SubscriptionsTable } from './subscriptions-table.ts';

/** The tables this module keeps. */
export const FANOUT_SCHEMA = [
  'CREATE TABLE IF NOT EXISTS alert_payloads (record_id TEXT NOT NULL, revision INTEGER NOT NULL, payload TEXT NOT NULL, PRIMARY KEY (record_id, revision))',
  `CREATE TABLE IF NOT EXISTS alert_fanout (
     seq INTEGER PRIMARY KEY AUTOINCREMENT, record_id TEXT NOT NULL, revision INTEGER NOT NULL, type TEXT NOT NULL,
     record TEXT NOT NULL, previous TEXT, after_subscription TEXT NOT NULL DEFAULT '')`,
];

/** Columns added after the table was first made. */
const FANOUT_ADDED_COLUMNS = { committed_at: "TEXT NOT NULL DEFAULT ''" };

/** Subscriptions one slice goes through. */
export const FANOUT_SLICE = 2_000;
/** Payloads no longer referenced that one slice deletes. */
const PAYLOAD_CLEANUP_SLICE = 500;
/** The reason a held alert carries: its subscription was disabled when it was made or due. */
export const HELD_REASON = 'held: the subscription is disabled';

/**
 * A record change to alert: the new version and the one it replaced (null
 * for a new record). `type` and `data` are given when they are not the
 * created/updated alert of `record`: a restored record is `event.updated`
 * with no previous version; a retraction is `event.deleted`, matched against
 * the last version (`record`, carrying the retraction's revision) and
 * carrying the tombstone and last version (domain/alert-payload.ts).
 */
export interface RecordChangeToAlert {
  record: Event;
  previous: Event | null;
  type?: RecordEventType;
  data?: DeletedData;
}

/** Fan-out of record changes into the outbox. */
export class AlertFanout {
  constructor(
    private readonly sql: SqlStorage,
    private readonly outbox: AlertOutbox,
    private readonly subscriptions: SubscriptionsTable,
  ) {
    addMissingColumns(sql, 'alert_fanout', FANOUT_ADDED_COLUMNS);
  }

  /**
   * Queues the alerts of `changes` committed at `committedAt` (the real time
   * of the commit). Nothing is queued while there is no subscription: one
   * made later is not told of changes committed before it (a bulk load
   * into a store nobody subscribes to stores no alert per record). Call
   * inside the write's transaction.
   */
  add(changes: readonly RecordChangeToAlert[], committedAt: string): void {
    if (changes.length === 0 || !this.subscriptions.any()) return;
    for (const { record, previous, ...given } of changes) {
      const type: RecordEventType = given.type ?? (previous === null ? 'event.created' : 'event.updated');
      this.storePayload(record.id, record.revision, recordAlertPayload(type, record, given.data));
      this.sql.exec(
        'INSERT INTO alert_fanout (record_id, revision, type, record, previous, committed_at) VALUES (?, ?, ?, ?, ?, ?)',
        record.id, record.revision, type, JSON.stringify(record), previous === null ? null : JSON.stringify(previous), committedAt,
      );
    }
  }

  /** Stores the alert payload of a record revision, once however many subscribers get it (also for replays, store/replay.ts). Call inside the caller's transaction. */
  storePayload(recordId: string, revision: number, payload: string): void {
    this.sql.exec('INSERT OR REPLACE INTO alert_payloads (record_id, revision, payload) VALUES (?, ?, ?)', recordId, revision, payload);
  }

  /** Record revisions whose alerts are still being fanned out. */
  pending(): number {
    return this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM alert_fanout').one().n;
  }

  /** Whether alerts wait to be fanned out (the first row answers, however many wait). */
  anyPending(): boolean {
    return this.sql.exec('SELECT 1 FROM alert_fanout LIMIT 1').toArray().length > 0;
  }

  /** The alert payload of a record revision, or null when it is gone. */
  payload(recordId: string, revision: number): string | null {
    return this.sql.exec<{ payload: string }>('SELECT payload FROM alert_payloads WHERE record_id = ? AND revision = ?', recordId, revision).toArray()[0]?.payload ?? null;
  }

  /**
   * Expands fan-out rows, oldest first, through at most FANOUT_SLICE
   * subscriptions in all, a row with none left to go through counting as
   * one (those created after the change was committed are not alerted of
   * it), then deletes payloads nothing refers to any more. Returns whether
   * rows are left.
   */
  async expand(storage: DurableObjectStorage, now: string): Promise<boolean> {
    let budget = FANOUT_SLICE;
    while (budget > 0) {
      type Row = { seq: number; record_id: string; revision: number; type: string; record: string; previous: string | null; after_subscription: string; committed_at: string };
      const row = this.sql.exec<Row>('SELECT * FROM alert_fanout ORDER BY seq LIMIT 1').toArray()[0];
      if (!row) break;
      const limit = budget;
      const subscriptions = this.subscriptions.page(row.after_subscription, limit);
      // A subscription made after the change was committed is not told of it.
      const eligible = subscriptions.filter((subscription) => row.committed_at === '' || subscription.created_at <= row.committed_at);
      budget -= Math.max(1, subscriptions.length);
      const finished = subscriptions.length < limit;
      const record = JSON.parse(row.record) as Event;
      const previous = row.previous === null ? null : (JSON.parse(row.previous) as Event);
      const type = row.type as RecordEventType & SubscribableEventType;
      const concerned = eligible.filter((subscription) => changeConcerns(subscription, record, previous, type));
      const messages = await Promise.all(
        concerned.map(async (subscription): Promise<{ subscription: Subscription; message: DeliveryMessage & { record_id: string; revision: number } }> => ({
          subscription,
          message: {
            msg_id: await webhookMessageId({ subscriptionId: subscription.id, type, recordId: record.id, revision: record.revision }),
            subscription_id: subscription.id,
            type,
            record_id: record.id,
            revision: record.revision,
            payload: '',
          },
        })),
      );
      storage.transactionSync(() => {
        for (const { subscription, message } of messages) {
          if (subscription.status === 'active') this.outbox.addReference(message, now);
          else this.subscriptions.hold({ ...message, payload: this.payload(record.id, record.revision) ?? '' }, HELD_REASON, now);
        }
        if (finished) this.sql.exec('DELETE FROM alert_fanout WHERE seq = ?', row.seq);
        else this.sql.exec('UPDATE alert_fanout SET after_subscription = ? WHERE seq = ?', subscriptions.at(-1)!.id, row.seq);
      });
    }
    this.sql.exec(
      `DELETE FROM alert_payloads WHERE rowid IN (
         SELECT p.rowid FROM alert_payloads p
         WHERE NOT EXISTS (SELECT 1 FROM alert_fanout f WHERE f.record_id = p.record_id AND f.revision = p.revision)
           AND NOT EXISTS (SELECT 1 FROM alert_outbox o WHERE o.payload_record = p.record_id AND o.payload_revision = p.revision)
         LIMIT ?)`,
      PAYLOAD_CLEANUP_SLICE,
    );
    return this.anyPending();
  }
}
