/**
 * A write and `/admin/status` at any number of records: a single-record
 * write and the status read the same number of SQLite rows with 4,000
 * records stored as with 400. A count of the records table on each of
 * them (the stats aggregates asking whether the store is empty, the status
 * showing how many records there are) read every record: a single-record
 * POST committed a third slower at 300,000 records than at 1,000 in the
 * benchmark, and the benchmark itself polls the status. The record count
 * the status shows stays exact through new records, updates, retractions
 * and restores.
 *
 * It runs in a Coordinator instance of its own (alarm cleared) and counts
 * rows with every cursor's `rowsRead`, through SqlStorage's prototype.
 * Nobody subscribes to it, so no alert is queued for its records (what the
 * status counted next).
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { Coordinator } from '../functions/store/coordinator.ts';
import { makeEventInput } from './fixtures/records.ts';
import { dayFrom2000 } from './helpers.ts';

const NOW = '2026-11-30T12:00:00.000Z';

/** Runs `call` and sums the rows read by every SQLite cursor opened meanwhile. */
async function rowsReadBy(sql: SqlStorage, call: () => unknown): Promise<number> {
  const prototype = Object.getPrototypeOf(sql) as { exec: SqlStorage['exec'] };
  const exec = prototype.exec;
  const cursors: SqlStorageCursor<Record<string, SqlStorageValue>>[] = [];
  prototype.exec = function (this: SqlStorage, query: string, ...bindings: unknown[]) {
    const cursor = exec.call(this, query, ...bindings);
    cursors.push(cursor);
    return cursor;
  } as SqlStorage['exec'];
  try {
    await call();
  } finally {
    prototype.exec = exec;
  }
  return cursors.reduce((sum, cursor) => sum + cursor.rowsRead, 0);
}

/** Records `from` … `from + count - 1` of a series, appended one a day. */
const records = (from: number, count: number) => Array.from({ length: count }, (_, i) => makeEventInput(`scale-${String(from + i).padStart(5, '0')}`, dayFrom2000(from + i)));

describe('a write at any number of records', () => {
  it('reads as many rows for a single-record write and for the status with 4,000 records as with 400', async () => {
    await runInDurableObject(env.COORDINATOR.getByName('write-scale'), async (stub, state) => {
      const instance = stub as unknown as Coordinator;
      await state.storage.deleteAlarm();
      const sql = state.storage.sql;
      let stored = 0;
      const fill = async (total: number) => {
        for (; stored < total; stored += 500) await instance.ingest(records(stored, Math.min(500, total - stored)), NOW);
      };
      // A new record in the first year, which is as full at both sizes: the stats of its month and year are as many cells.
      let extra = 0;
      const inFirstYear = () => [makeEventInput(`scale-extra-${extra++}`, dayFrom2000(150))];
      const measure = async () => ({
        write: await rowsReadBy(sql, () => instance.ingest(inFirstYear(), NOW)),
        status: await rowsReadBy(sql, () => instance.status()),
      });
      await fill(400);
      const small = await measure();
      await fill(4_000);
      const large = await measure();
      // The index path is a few rows more at the larger size; a count of the records is thousands.
      expect(large.write).toBeLessThan(small.write + 200);
      expect(large.status).toBeLessThan(small.status + 200);
      // Nobody subscribes to this store: no alert was queued for any of its records.
      expect(sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM alert_fanout').one().n).toBe(0);
      // Writes re-arm the alarm: cleared again, so that it does not run (and log) after the test.
      await state.storage.deleteAlarm();
    });
  }, 120_000);

  it('counts the records exactly through new records, updates, retractions and restores', async () => {
    await runInDurableObject(env.COORDINATOR.getByName('write-count'), async (stub, state) => {
      const instance = stub as unknown as Coordinator;
      await state.storage.deleteAlarm();
      const counted = () => state.storage.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM records').one().n;
      const check = () => expect(instance.status().dataset.records).toBe(counted());
      await instance.ingest(records(0, 30), NOW);
      check();
      await instance.ingest([...records(20, 20).map((input) => ({ ...input, title: `${input.title}, updated` }))], NOW);
      check();
      expect(counted()).toBe(40);
      await instance.retract('scale-00003', 'a test', NOW);
      await instance.retract('scale-00003', 'again', NOW);
      check();
      expect(counted()).toBe(39);
      await instance.ingest(records(3, 1), NOW);
      check();
      expect(counted()).toBe(40);
      await state.storage.deleteAlarm();
    });
  });
});
