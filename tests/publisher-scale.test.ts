/**
 * The publisher at any queue length: a bulk load can queue millions of keys
 * (two a record, and index nodes), and every publishing slice asks the
 * queue when to run next and whether the manifest may go, while
 * `/admin/status` shows how many keys wait. Those questions read the same
 * number of SQLite rows with 30,000 keys queued as with 1,000 (Durable
 * Objects bill rows read, and a scan of a long queue in every slice made a
 * million-record load publish at a tenth of its rate), and the counts
 * `/admin/status` shows stay exact through every way a key enters or leaves
 * the queue and the retired keys.
 *
 * It runs a Publisher of its own over a Coordinator's SQLite (an instance
 * of its own, whose alarm is cleared), with a KV double whose puts and
 * deletes succeed, and counts rows with the cursors' `rowsRead`.
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { HEAD_KEY, MANIFEST_KEY } from '../functions/domain/layout.ts';
import { Publisher } from '../functions/store/publisher.ts';

/** A KV whose writes all succeed at once. */
const acceptingKv = { put: async () => undefined, delete: async () => undefined } as unknown as KVNamespace;

/** `sql` whose cursors are remembered, so the rows they read can be summed once a call is over. */
function countingSql(sql: SqlStorage): { sql: SqlStorage; rowsReadBy: (call: () => unknown) => Promise<number> } {
  let cursors: SqlStorageCursor<Record<string, SqlStorageValue>>[] = [];
  const wrapped = new Proxy(sql, {
    get(target, property) {
      if (property !== 'exec') return Reflect.get(target, property);
      return (query: string, ...bindings: unknown[]) => {
        const cursor = target.exec(query, ...bindings);
        cursors.push(cursor);
        return cursor;
      };
    },
  });
  const rowsReadBy = async (call: () => unknown) => {
    cursors = [];
    await call();
    return cursors.reduce((sum, cursor) => sum + cursor.rowsRead, 0);
  };
  return { sql: wrapped, rowsReadBy };
}

/** The kinds `/admin/status` counts, counted from the tables themselves. */
function counted(sql: SqlStorage) {
  const count = (query: string) => sql.exec<{ n: number }>(query).one().n;
  return {
    pending_records: count("SELECT COUNT(*) AS n FROM publish_queue WHERE key LIKE 'event:%' OR key LIKE 'event-version:%'"),
    pending_chunks: count("SELECT COUNT(*) AS n FROM publish_queue WHERE key LIKE 'index:chunk:%'"),
    pending_other: count("SELECT COUNT(*) AS n FROM publish_queue WHERE key NOT LIKE 'event:%' AND key NOT LIKE 'event-version:%' AND key NOT LIKE 'index:chunk:%'"),
    retired_keys: count('SELECT COUNT(*) AS n FROM retired_keys'),
  };
}

describe('the publisher with a long queue', () => {
  it('reads as many rows to plan a slice, to run one and to report its state with 30,000 keys queued as with 1,000', async () => {
    await runInDurableObject(env.COORDINATOR.getByName('publisher-scale'), async (_instance, state) => {
      await state.storage.deleteAlarm();
      const { sql, rowsReadBy } = countingSql(state.storage.sql);
      const publisher = new Publisher(sql, acceptingKv, (key) => `value of ${key}`);
      let queued = 0;
      const fill = (total: number) => {
        for (; queued < total; queued++) publisher.enqueue(queued % 3 === 0 ? `event:scale-${queued}` : queued % 3 === 1 ? `event-version:scale-${queued}:1` : `index:chunk:scale-${queued}`);
        publisher.enqueue(MANIFEST_KEY);
        publisher.enqueue(HEAD_KEY);
      };
      const measure = async () => {
        // As a second after the last slice: what these read grows with the keys written within the last second (at most a few
        // slices' worth), which the comparison leaves out; never with the keys waiting.
        sql.exec('DELETE FROM kv_writes');
        const now = Date.now();
        return {
          plan: await rowsReadBy(() => publisher.nextRunAt(now)),
          status: await rowsReadBy(() => publisher.status(1)),
          slice: await rowsReadBy(() => publisher.run(now)),
        };
      };
      fill(1_000);
      const small = await measure();
      fill(30_000);
      const large = await measure();
      for (const part of ['plan', 'status', 'slice'] as const) expect(large[part], `${part}: ${JSON.stringify({ small, large })}`).toBeLessThanOrEqual(small[part] * 1.5 + 50);
      // A slice is bounded by the keys it puts (200), not by those waiting.
      expect(large.slice).toBeLessThan(2_000);
    });
  });

  it('keeps the counts /admin/status shows exact through queueing, publishing, retiring, removing and queueing again', async () => {
    await runInDurableObject(env.COORDINATOR.getByName('publisher-counts'), async (_instance, state) => {
      await state.storage.deleteAlarm();
      const sql = state.storage.sql;
      const publisher = new Publisher(sql, acceptingKv, (key) => (key.startsWith('stats:dropped') ? null : `value of ${key}`));
      const check = (when: string) => expect(publisher.status(0), when).toMatchObject(counted(sql));
      for (let i = 0; i < 300; i++) publisher.enqueue(`event:counts-${i}`);
      for (let i = 0; i < 40; i++) publisher.enqueue(`index:chunk:counts-${i}`);
      publisher.enqueue('stats:kept', 'a value');
      publisher.enqueue('stats:dropped-when-put');
      publisher.enqueue('event:counts-0', 'queued again with a value');
      check('queued');
      await publisher.run(Date.now());
      check('after a slice of puts, and a key whose value is gone dropped');
      publisher.retire('index:chunk:counts-39', Date.now());
      publisher.retire('index:chunk:published-long-ago', Date.now());
      publisher.retire('index:chunk:published-long-ago', Date.now() + 5);
      publisher.remove('event:counts-299');
      publisher.remove('event:removed-after-publishing');
      check('retired and removed');
      publisher.enqueue('event:removed-after-publishing');
      check('a removed key queued again');
      for (let round = 0; round < 10; round++) await publisher.run(Date.now() + round * 2_000);
      check('after the queue ran out and removals were deleted');
      expect(publisher.status(0).pending_records + publisher.status(0).pending_chunks).toBe(0);
    });
  });
});
