/**
 * A subscription's delivery log: bounded, newest entries kept, and cheap to
 * write to. Recording an outcome is on the path of every delivery, so its
 * cost is counted in SQLite rows read (workerd's `rowsRead`), which does not
 * depend on how busy the machine is.
 */
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { judgeAttempt } from '../functions/domain/delivery-policy.ts';
import { DELIVERY_LOG_KEEP, LOG_PRUNE_EVERY, SubscriptionsTable, type DeliveryAttempt } from '../functions/store/subscriptions-table.ts';
import { coordinatorStub } from './helpers.ts';

/** A SQL handle that counts the rows every statement read. */
function countingSql(sql: SqlStorage): { sql: SqlStorage; rowsRead: () => number } {
  const cursors: SqlStorageCursor<Record<string, SqlStorageValue>>[] = [];
  const counting = new Proxy(sql, {
    get(target, property) {
      if (property !== 'exec') return Reflect.get(target, property, target);
      return (query: string, ...bindings: unknown[]) => {
        const cursor = target.exec(query, ...bindings);
        cursors.push(cursor);
        return cursor;
      };
    },
  });
  return { sql: counting, rowsRead: () => cursors.reduce((sum, cursor) => sum + cursor.rowsRead, 0) };
}

const entry = (subscriptionId: string, n: number): DeliveryAttempt => ({
  subscription_id: subscriptionId,
  msg_id: `msg_${String(n).padStart(32, '0')}`,
  type: 'event.created',
  record_id: `rec-${n}`,
  revision: 1,
  attempt: 1,
  at: new Date(Date.UTC(2026, 0, 1) + n * 1_000).toISOString(),
  status: 204,
  latency_ms: 3,
  outcome: 'delivered',
  error: null,
});

describe('delivery log', () => {
  it('keeps between DELIVERY_LOG_KEEP and DELIVERY_LOG_KEEP + LOG_PRUNE_EVERY - 1 entries, the newest', async () => {
    await runInDurableObject(coordinatorStub(), async (_instance, state) => {
      const table = new SubscriptionsTable(state.storage.sql);
      const { subscription } = await table.create({ url: 'https://receiver.example/log', filters: {}, event_types: ['event.created'] }, '2026-01-01T00:00:00.000Z');
      const verdict = judgeAttempt({ kind: 'response', status: 204, retryAfter: null }, new Date());
      const sizes: number[] = [];
      for (let n = 1; n <= DELIVERY_LOG_KEEP + 3 * LOG_PRUNE_EVERY; n++) {
        table.recordDelivery(entry(subscription.id, n), verdict);
        if (n >= DELIVERY_LOG_KEEP) sizes.push(state.storage.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM deliveries WHERE subscription_id = ?', subscription.id).one().n);
      }
      expect(Math.min(...sizes)).toBe(DELIVERY_LOG_KEEP);
      expect(Math.max(...sizes)).toBe(DELIVERY_LOG_KEEP + LOG_PRUNE_EVERY - 1);
      const newest = table.deliveries(subscription.id, DELIVERY_LOG_KEEP)!;
      expect(newest[0]!.record_id).toBe(`rec-${DELIVERY_LOG_KEEP + 3 * LOG_PRUNE_EVERY}`);
      expect(newest.at(-1)!.record_id).toBe(`rec-${3 * LOG_PRUNE_EVERY + 1}`);
    });
  });

  it('reads a few rows per recorded outcome on average, not the whole kept log', async () => {
    await runInDurableObject(coordinatorStub(), async (_instance, state) => {
      const { sql, rowsRead } = countingSql(state.storage.sql);
      const table = new SubscriptionsTable(sql);
      const { subscription } = await table.create({ url: 'https://receiver.example/cost', filters: {}, event_types: ['event.created'] }, '2026-01-01T00:00:00.000Z');
      const verdict = judgeAttempt({ kind: 'response', status: 204, retryAfter: null }, new Date());
      for (let n = 1; n <= DELIVERY_LOG_KEEP; n++) table.recordDelivery(entry(subscription.id, n), verdict);
      const before = rowsRead();
      const recorded = 4 * LOG_PRUNE_EVERY;
      for (let n = DELIVERY_LOG_KEEP + 1; n <= DELIVERY_LOG_KEEP + recorded; n++) table.recordDelivery(entry(subscription.id, n), verdict);
      // Pruning walks the kept log once every LOG_PRUNE_EVERY entries: about DELIVERY_LOG_KEEP / LOG_PRUNE_EVERY rows per outcome, plus the few it always reads.
      expect((rowsRead() - before) / recorded).toBeLessThan(DELIVERY_LOG_KEEP / LOG_PRUNE_EVERY + 10);
    });
  });
});
